import { randomUUID } from 'node:crypto';
import {
  StoreUnavailableError,
  StreamDeletedError,
  WrongExpectedVersionError,
  encodePosition,
  type AppendResult,
  type EventStore,
  type ExpectedRevision,
  type NewEvent,
  type ReadAllOptions,
  type ReadAllResult,
  type ReadStreamOptions,
  type RecordedEvent,
  type SubscribeOptions,
  type SubscriptionMessage,
} from '../../application/event-store';
import type { SqlClient, SqlExecutor } from '../../application/sql';
import { horizonPassed, readAllPage, toRecorded, type PageRequest } from './postgres-read-all';
import { readOneStream, StreamReadBatcher } from './postgres-read-streams';
import { SharedLiveReads, subscribeToAll } from './postgres-subscription';
import { backoffDelay } from '../../application/backoff';

export type PostgresEventStoreOptions = {
  /**
   * How often a live subscription looks for events without being notified. A notification can arrive while
   * its event is still behind the horizon, and a transaction that ends without notifying (a projection's,
   * another database's) releases the horizon silently: the poll bounds the delay in both cases.
   */
  pollIntervalMs?: number;
  /** Events per catch-up read of a subscription. */
  pageSize?: number;
  /**
   * How long readAll waits for older transactions still running to end, so that it returns every event
   * committed before it was called. Past this it returns what is safely ordered so far.
   */
  readAllWaitMs?: number;
};

const expectation = (expected: ExpectedRevision | undefined): [kind: string, revision: number | null] => {
  if (expected === undefined || expected === 'any') return ['any', null];
  if (expected === 'no_stream' || expected === 'stream_exists') return [expected, null];
  if (!Number.isSafeInteger(expected) || expected < 0)
    throw new TypeError(`invalid expected revision ${expected}`);
  return ['revision', expected];
};

const actualRevision = (value: string | null): number | 'no_stream' =>
  value === null ? 'no_stream' : Number(value);

/**
 * Appends through any executor, so a caller may append inside its own transaction (the events then become
 * visible to readers of the global order only when that transaction ends: keep it short).
 */
export const appendEvents = async (
  sql: SqlExecutor,
  streamId: string,
  events: readonly NewEvent[],
  expectedRevision?: ExpectedRevision,
): Promise<AppendResult> => {
  const [kind, revision] = expectation(expectedRevision);
  const payload = JSON.stringify(
    events.map((e) => ({
      id: e.id ?? randomUUID(),
      type: e.type,
      data: e.data ?? null,
      metadata: e.metadata ?? {},
    })),
  );
  const r = await sql.query<{
    outcome: 'ok' | 'wrong_expected_version' | 'stream_deleted';
    current_revision: string | null;
    commit_xact: string | null;
    last_position: string | null;
  }>('select * from append_events($1, $2, $3, $4::text::jsonb)', [streamId, kind, revision, payload]);
  const row = r.rows[0]!;
  if (row.outcome === 'stream_deleted') throw new StreamDeletedError(streamId);
  if (row.outcome === 'wrong_expected_version') {
    throw new WrongExpectedVersionError(
      streamId,
      expectedRevision ?? 'any',
      actualRevision(row.current_revision),
    );
  }
  return {
    nextExpectedRevision: Number(row.current_revision),
    // Nothing appended (an empty batch): the origin, which every position follows.
    position:
      row.commit_xact === null
        ? encodePosition(0n, 0n)
        : encodePosition(BigInt(row.commit_xact), BigInt(row.last_position!)),
  };
};

/**
 * The event store on PostgreSQL: the server in production, PGlite embedded in the process for development
 * and tests. Same schema, same SQL, through the SqlClient port.
 *
 * Global positions are (writing transaction id, insert sequence). Every reader of the global order sees
 * only events of transactions older than the oldest transaction still running, read with that horizon in
 * the same statement, so a position, once passed, can never have an event appear behind it.
 */
export class PostgresEventStore implements EventStore {
  private readonly closing = new AbortController();
  private readonly pollIntervalMs: number;
  private readonly pageSize: number;
  private readonly readAllWaitMs: number;
  private readonly reads = new StreamReadBatcher(() => this.sql);
  private readonly live: SharedLiveReads;

  constructor(
    private readonly sql: SqlClient,
    options: PostgresEventStoreOptions = {},
  ) {
    this.pollIntervalMs = options.pollIntervalMs ?? 250;
    this.pageSize = options.pageSize ?? 500;
    this.readAllWaitMs = options.readAllWaitMs ?? 2_000;
    this.live = new SharedLiveReads(sql, this.pageSize);
  }

  async appendToStream(
    streamId: string,
    events: NewEvent[],
    options?: { expectedRevision?: ExpectedRevision },
  ): Promise<AppendResult> {
    this.assertOpen();
    return appendEvents(this.sql, streamId, events, options?.expectedRevision);
  }

  async readStream(streamId: string, options: ReadStreamOptions = {}): Promise<RecordedEvent[]> {
    this.assertOpen();
    if (options.direction === 'backwards') return readOneStream(this.sql, streamId, options);
    return this.reads.read(streamId, options);
  }

  /**
   * Returns the events committed before the call: when a concurrent older transaction holds some of them
   * behind the horizon, waits (up to readAllWaitMs) for it to end rather than answer without them.
   */
  async readAll(options: ReadAllOptions = {}): Promise<ReadAllResult> {
    this.assertOpen();
    const request: PageRequest = {
      after: options.after,
      backwards: options.direction === 'backwards',
      maxCount: options.maxCount,
      filter: options.filter,
    };
    const deadline = Date.now() + this.readAllWaitMs;
    for (;;) {
      const page = await readAllPage(this.sql, request);
      // Held-back events would come after a forwards page that reached the horizon, and before everything
      // in a backwards one.
      const incomplete =
        page.heldBack !== undefined &&
        (request.backwards || options.maxCount === undefined || page.events.length < options.maxCount);
      if (!incomplete || !(await this.waitForHorizon(page.heldBack!, deadline))) {
        return { events: page.events.map(toRecorded), checkpoint: page.checkpoint };
      }
    }
  }

  /** Resolves true once the horizon passes `xact`, false at the deadline. */
  private async waitForHorizon(xact: string, deadline: number): Promise<boolean> {
    for (let attempt = 1; Date.now() < deadline; attempt++) {
      if (await horizonPassed(this.sql, xact)) return true;
      const delay = backoffDelay(attempt, { minMs: 1, maxMs: 20 });
      await new Promise((resolve) =>
        setTimeout(resolve, Math.min(delay, Math.max(0, deadline - Date.now()))),
      );
    }
    return false;
  }

  subscribeToAll(options: SubscribeOptions = {}): AsyncIterable<SubscriptionMessage> {
    this.assertOpen();
    return subscribeToAll(this.sql, options, {
      pageSize: this.pageSize,
      pollIntervalMs: this.pollIntervalMs,
      closing: this.closing.signal,
      live: this.live,
    });
  }

  async deleteStream(streamId: string, options?: { expectedRevision?: ExpectedRevision }): Promise<void> {
    await this.delete(streamId, options?.expectedRevision, false);
  }

  async tombstoneStream(streamId: string, options?: { expectedRevision?: ExpectedRevision }): Promise<void> {
    await this.delete(streamId, options?.expectedRevision, true);
  }

  private async delete(
    streamId: string,
    expected: ExpectedRevision | undefined,
    tombstone: boolean,
  ): Promise<void> {
    this.assertOpen();
    const [kind, revision] = expectation(expected);
    const r = await this.sql.query<{ outcome: string; current_revision: string | null }>(
      'select * from delete_stream($1, $2, $3, $4)',
      [streamId, kind, revision, tombstone],
    );
    const row = r.rows[0]!;
    if (row.outcome === 'stream_deleted') throw new StreamDeletedError(streamId);
    if (row.outcome === 'wrong_expected_version') {
      throw new WrongExpectedVersionError(streamId, expected ?? 'any', actualRevision(row.current_revision));
    }
  }

  async ping(): Promise<void> {
    this.assertOpen();
    await this.sql.query('select 1');
  }

  /** Ends every subscription; the SqlClient belongs to the caller and stays open. */
  async close(): Promise<void> {
    this.closing.abort();
  }

  private assertOpen(): void {
    if (this.closing.signal.aborted) throw new StoreUnavailableError('event store closed');
  }
}
