import {
  StreamDeletedError,
  StreamNotFoundError,
  type ReadStreamOptions,
  type RecordedEvent,
} from '../../application/event-store';
import type { SqlExecutor } from '../../application/sql';
import { toRecorded, type EventRow } from './postgres-read-all';
import { SameTurnBatch } from './same-turn';

type StreamHead = { stream_revision: string | null; visible_from: string | null; tombstoned: boolean | null };
type Row = EventRow & StreamHead & { request: number };

/** One stream's rows (its head, then its events, if any) into the events or the typed error. */
const settle = (streamId: string, rows: (EventRow & StreamHead)[]): RecordedEvent[] => {
  const head = rows[0];
  if (!head || head.stream_revision === null) throw new StreamNotFoundError(streamId);
  if (head.tombstoned) throw new StreamDeletedError(streamId);
  if (Number(head.stream_revision) < Number(head.visible_from)) throw new StreamNotFoundError(streamId);
  return rows.filter((row) => row.global_position !== null).map(toRecorded);
};

/** One stream, either direction: the stream row, its visible events in the range joined beside it. */
export const readOneStream = async (
  sql: SqlExecutor,
  streamId: string,
  options: ReadStreamOptions = {},
): Promise<RecordedEvent[]> => {
  const backwards = options.direction === 'backwards';
  const r = await sql.query<EventRow & StreamHead>(
    `select s.revision as stream_revision, s.visible_from, s.tombstoned, e.*
     from streams s
     left join lateral (
       select e.transaction_id::text as xact, e.global_position, e.stream_id, e.revision, e.event_id, e.type,
              e.data, e.metadata, e.created_at
       from events e
       where e.stream_id = s.stream_id and e.revision >= s.visible_from
         and ${backwards ? 'e.revision <= coalesce($2::bigint, s.revision)' : 'e.revision >= coalesce($2::bigint, 0)'}
       order by e.revision ${backwards ? 'desc' : 'asc'}
       limit $3
     ) e on true
     where s.stream_id = $1`,
    [streamId, options.fromRevision ?? null, options.maxCount ?? null],
  );
  return settle(streamId, r.rows);
};

type Pending = {
  streamId: string;
  options: ReadStreamOptions;
  resolve: (events: RecordedEvent[]) => void;
  reject: (error: unknown) => void;
};

/**
 * Forward stream reads issued together go to the database as ONE statement. A token check folds its
 * session and its user at once, and under load many requests' stream loads land in the same turn of the
 * event loop; each statement costs a round trip and a wake-up of the server process, which on a busy
 * machine is CPU taken from password hashing. Reads are collected until the end of the current turn
 * (`setImmediate`), then answered from one snapshot, each with its own result or typed error, exactly as
 * separate reads would have answered. A lone read goes as it always did.
 */
export class StreamReadBatcher {
  private readonly pending = new SameTurnBatch<Pending>((batch) => void this.flush(batch));

  constructor(private readonly sql: () => SqlExecutor) {}

  read(streamId: string, options: ReadStreamOptions): Promise<RecordedEvent[]> {
    return new Promise((resolve, reject) => this.pending.add({ streamId, options, resolve, reject }));
  }

  private async flush(batch: Pending[]): Promise<void> {
    if (batch.length === 1) {
      const [only] = batch as [Pending];
      return readOneStream(this.sql(), only.streamId, only.options).then(only.resolve, only.reject);
    }
    let rows: Row[];
    try {
      const r = await this.sql().query<Row>(
        `select q.request::int as request, s.revision as stream_revision, s.visible_from, s.tombstoned, e.*
         from unnest($1::text[], $2::bigint[], $3::bigint[]) with ordinality as q(stream_id, from_revision, max_count, request)
         left join streams s on s.stream_id = q.stream_id
         left join lateral (
           select e.transaction_id::text as xact, e.global_position, e.stream_id, e.revision, e.event_id,
                  e.type, e.data, e.metadata, e.created_at
           from events e
           where e.stream_id = s.stream_id and e.revision >= s.visible_from
             and e.revision >= coalesce(q.from_revision, 0)
           order by e.revision asc
           limit q.max_count
         ) e on true
         order by q.request, e.revision`,
        [
          batch.map((p) => p.streamId),
          batch.map((p) => p.options.fromRevision ?? null),
          batch.map((p) => p.options.maxCount ?? null),
        ],
      );
      rows = r.rows;
    } catch (e) {
      for (const p of batch) p.reject(e);
      return;
    }
    const byRequest = new Map<number, Row[]>();
    for (const row of rows) {
      const request = Number(row.request);
      const list = byRequest.get(request);
      if (list) list.push(row);
      else byRequest.set(request, [row]);
    }
    batch.forEach((p, i) => {
      try {
        p.resolve(settle(p.streamId, byRequest.get(i + 1) ?? []));
      } catch (e) {
        p.reject(e);
      }
    });
  }
}
