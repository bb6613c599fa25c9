import type { SqlExecutor } from '../../application/sql';

export type MailOutboxBacklog = { pending: number; retrying: number; oldestAgeSeconds: number };

/** The outbox's pending rows (neither sent nor dropped), those waiting for a retry, and the oldest's age. */
export const readOutboxBacklog = async (sql: SqlExecutor): Promise<MailOutboxBacklog> => {
  const { rows } = await sql.query<{ pending: number; retrying: number; oldest: number | null }>(
    `select count(*)::int as pending,
            (count(*) filter (where last_error is not null))::int as retrying,
            extract(epoch from now() - min(created_at))::float8 as oldest
       from mail_outbox
      where sent_at is null and dropped_at is null`,
  );
  const r = rows[0];
  return {
    pending: Number(r?.pending ?? 0),
    retrying: Number(r?.retrying ?? 0),
    oldestAgeSeconds: Math.max(0, Number(r?.oldest ?? 0)),
  };
};
