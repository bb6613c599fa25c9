import type { RecordedEvent } from '../../application/event-store';
import type { SqlExecutor } from '../../application/sql';

/**
 * Deliveries that failed (the `relay_deliveries` table, migration 40). A webhook target retries a failing
 * delivery with backoff (its runner) until `max_age` has passed since its FIRST failure, a time kept here so
 * it counts across restarts and instances; then the delivery is parked (recorded here for good) and the
 * target moves on. `identity relay replay <target>` delivers parked ones again.
 */

const short = (e: unknown): string =>
  (e instanceof Error ? `${e.name}: ${e.message}` : String(e)).slice(0, 500);

/** Records one more failed attempt; returns when the first one happened. */
export const recordFailure = async (
  sql: SqlExecutor,
  target: string,
  event: RecordedEvent,
  error: unknown,
  now: Date,
): Promise<Date> => {
  const r = await sql.query<{ first_failed_at: Date | string }>(
    `insert into relay_deliveries
       (target, event_id, stream_id, revision, position, event_type, last_error, first_failed_at)
     values ($1, $2, $3, $4, $5, $6, $7, $8::timestamptz)
     on conflict (target, event_id) do update
       set attempts = relay_deliveries.attempts + 1, last_error = excluded.last_error
     returning first_failed_at`,
    [
      target,
      event.id,
      event.streamId,
      event.revision,
      event.position,
      event.type,
      short(error),
      now.toISOString(),
    ],
  );
  return new Date(r.rows[0]!.first_failed_at);
};

export const park = async (sql: SqlExecutor, target: string, eventId: string): Promise<void> => {
  await sql.query(
    `update relay_deliveries set parked_at = now(), replayed_at = null where target = $1 and event_id = $2`,
    [target, eventId],
  );
};

/** A delivery that failed before went through: it is no longer failing. */
export const clearFailure = async (sql: SqlExecutor, target: string, eventId: string): Promise<void> => {
  await sql.query(`delete from relay_deliveries where target = $1 and event_id = $2 and parked_at is null`, [
    target,
    eventId,
  ]);
};

export type ParkedDelivery = {
  eventId: string;
  streamId: string;
  revision: number;
  position: string;
  type: string;
  attempts: number;
  firstFailedAt: Date;
  parkedAt: Date;
  lastError: string | null;
};

export const parkedDeliveries = async (sql: SqlExecutor, target: string): Promise<ParkedDelivery[]> => {
  const r = await sql.query<Record<string, unknown>>(
    `select event_id, stream_id, revision, position, event_type, attempts, first_failed_at, parked_at, last_error
       from relay_deliveries
      where target = $1 and parked_at is not null and replayed_at is null
      order by position`,
    [target],
  );
  return r.rows.map((row) => ({
    eventId: String(row.event_id),
    streamId: String(row.stream_id),
    revision: Number(row.revision),
    position: String(row.position),
    type: String(row.event_type),
    attempts: Number(row.attempts),
    firstFailedAt: new Date(row.first_failed_at as string),
    parkedAt: new Date(row.parked_at as string),
    lastError: row.last_error === null ? null : String(row.last_error),
  }));
};

export const markReplayed = async (sql: SqlExecutor, target: string, eventId: string): Promise<void> => {
  await sql.query(`update relay_deliveries set replayed_at = now() where target = $1 and event_id = $2`, [
    target,
    eventId,
  ]);
};

export const countParked = async (sql: SqlExecutor): Promise<Map<string, number>> => {
  const r = await sql.query<{ target: string; n: string | number }>(
    `select target, count(*) as n from relay_deliveries
      where parked_at is not null and replayed_at is null group by target`,
  );
  return new Map(r.rows.map((row) => [row.target, Number(row.n)]));
};
