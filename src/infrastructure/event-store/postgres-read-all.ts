import {
  decodePosition,
  encodePosition,
  type EventFilter,
  type EventMetadata,
  type Position,
  type RecordedEvent,
} from '../../application/event-store';
import type { SqlExecutor } from '../../application/sql';
import { backoffDelay } from '../../application/backoff';

export type EventRow = {
  xact: string;
  global_position: string;
  stream_id: string;
  revision: string;
  event_id: string;
  type: string;
  data: unknown;
  metadata: EventMetadata;
  created_at: Date;
};

/**
 * Every transaction below this id has ended. Used as a subquery of the very statement that reads the page,
 * so the horizon and the rows come from one snapshot: reading them in two statements would let a
 * transaction commit in between and be passed over.
 */
const HORIZON = '(select pg_snapshot_xmin(pg_current_snapshot()))';

const COLUMNS = `e.transaction_id::text as xact, e.global_position, e.stream_id, e.revision, e.event_id, e.type,
  e.data, e.metadata, e.created_at`;

export const toRecorded = (r: EventRow): RecordedEvent => ({
  id: r.event_id,
  streamId: r.stream_id,
  revision: Number(r.revision),
  position: encodePosition(BigInt(r.xact), BigInt(r.global_position)),
  type: r.type,
  data: r.data,
  metadata: r.metadata,
  createdAt: r.created_at,
});

const likePrefix = (prefix: string): string => `${prefix.replace(/[\\%_]/g, '\\$&')}%`;

const positionOf = (r: { xact: string; global_position: string }): Position =>
  encodePosition(BigInt(r.xact), BigInt(r.global_position));

export type PageRequest = {
  /** Exclusive bound: strictly after (forwards) or strictly before (backwards). */
  after?: Position;
  backwards?: boolean;
  maxCount?: number;
  filter?: EventFilter;
};

export type Page = {
  events: EventRow[];
  /** How far the read looked: the last event returned, or the last one scanned past when fewer matched. */
  checkpoint?: Position;
  /**
   * The newest transaction whose committed events in range the horizon still holds back, because an older
   * transaction (in any database of the cluster) is still running. Undefined when nothing is held back.
   */
  heldBack?: string;
};

/**
 * One page of the global order, ordered by (transaction_id, global_position) and cut at the horizon.
 * A filtered read looks as far as needed to find `maxCount` matches (up to the horizon), and reports in the
 * same statement the furthest event it passed, so a filtered reader advances over what it does not want.
 */
export const readAllPage = async (sql: SqlExecutor, request: PageRequest): Promise<Page> => {
  const { after, backwards = false, maxCount, filter } = request;
  if (maxCount !== undefined && maxCount <= 0) return { events: [] };
  const params: unknown[] = [];
  const param = (value: unknown): string => {
    params.push(value);
    return `$${params.length}`;
  };

  const bound: string[] = [];
  if (after !== undefined) {
    const [xact, position] = decodePosition(after);
    bound.push(
      `(e.transaction_id, e.global_position) ${backwards ? '<' : '>'} (${param(xact.toString())}::xid8, ${param(position.toString())}::bigint)`,
    );
  }
  const range = [`e.transaction_id < ${HORIZON}`, ...bound];
  const matches: string[] = [];
  if (filter?.streamPrefixes)
    matches.push(`e.stream_id like any (${param(filter.streamPrefixes.map(likePrefix))}::text[])`);
  if (filter?.eventTypePrefixes)
    matches.push(`e.type like any (${param(filter.eventTypePrefixes.map(likePrefix))}::text[])`);

  const order = backwards ? 'desc' : 'asc';
  let text = `(select 'event' as kind, ${COLUMNS} from events e
    where ${[...range, ...matches].join(' and ')}
    order by e.transaction_id ${order}, e.global_position ${order}
    limit ${param(maxCount ?? null)})`;
  if (matches.length > 0) {
    const reverse = backwards ? 'asc' : 'desc';
    text += `
    union all
    (select 'scanned', e.transaction_id::text, e.global_position, null, null, null, null, null, null, null
     from events e where ${range.join(' and ')}
     order by e.transaction_id ${reverse}, e.global_position ${reverse} limit 1)`;
  }

  text += `
    union all
    (select 'held', e.transaction_id::text, null, null, null, null, null, null, null, null
     from events e where ${[`e.transaction_id >= ${HORIZON}`, ...bound].join(' and ')}
     order by e.transaction_id desc limit 1)`;

  const r = await sql.query<EventRow & { kind: 'event' | 'scanned' | 'held' }>(text, params);
  const events = r.rows.filter((row) => row.kind === 'event');
  // Fixed-width positions sort as strings; sorting here keeps the order independent of how the union runs.
  const keyed = events.map((row) => ({ row, position: positionOf(row) }));
  keyed.sort((a, b) => (a.position < b.position ? -1 : a.position > b.position ? 1 : 0));
  if (backwards) keyed.reverse();

  const last = keyed[keyed.length - 1];
  const scanned = r.rows.find((row) => row.kind === 'scanned');
  const checkpoint =
    maxCount !== undefined && keyed.length === maxCount
      ? last?.position
      : scanned
        ? positionOf(scanned)
        : last?.position;
  return {
    events: keyed.map((k) => k.row),
    checkpoint,
    heldBack: r.rows.find((row) => row.kind === 'held')?.xact,
  };
};

/** Whether every transaction up to and including `xact` has ended. */
export const horizonPassed = async (sql: SqlExecutor, xact: string): Promise<boolean> => {
  const r = await sql.query<{ passed: boolean }>(`select ${HORIZON} > $1::xid8 as passed`, [xact]);
  return r.rows[0]?.passed === true;
};

/**
 * The position of the last event below the horizon: where "only events from now on" begins. Committed
 * events can still sit above the horizon, behind an older open transaction (of any database of the
 * cluster): the head first waits (bounded by `waitMs`) for the horizon to pass the newest committed event, so
 * those count as before "now" rather than arriving as new ones.
 */
export const readHead = async (sql: SqlExecutor, waitMs = 2_000): Promise<Position | undefined> => {
  const newest = await sql.query<{ xact: string }>(
    'select transaction_id::text as xact from events order by transaction_id desc, global_position desc limit 1',
  );
  const xact = newest.rows[0]?.xact;
  const deadline = Date.now() + waitMs;
  for (let attempt = 1; xact !== undefined && Date.now() < deadline; attempt++) {
    if (await horizonPassed(sql, xact)) break;
    await new Promise((resolve) => setTimeout(resolve, backoffDelay(attempt, { minMs: 1, maxMs: 20 })));
  }
  return readSafeHead(sql);
};

const readSafeHead = async (sql: SqlExecutor): Promise<Position | undefined> => {
  const r = await sql.query<{ xact: string; global_position: string }>(
    `select e.transaction_id::text as xact, e.global_position from events e
     where e.transaction_id < ${HORIZON}
     order by e.transaction_id desc, e.global_position desc limit 1`,
  );
  const row = r.rows[0];
  return row ? positionOf(row) : undefined;
};
