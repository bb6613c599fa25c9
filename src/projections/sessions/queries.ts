import type { SqlExecutor } from '../../application/sql';
import { table } from '../runtime/projection';
import { readActive } from '../runtime/registry';
import { sessionsProjection } from './projection';
import { SESSIONS } from './schema';

export type SessionSummary = {
  id: string;
  createdAt: Date;
  lastUsedAt: Date;
  /** Opened at projection time; null when none was recorded or the user was erased. */
  userAgent: string | null;
};

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * The sessions of a user that are still alive at `now`: not ended (by itself or by a cut-off in the user
 * stream) and within their idle and absolute lifetimes. Newest first. From the read model, so a session
 * started a moment ago may be missing until the projection has caught up: wait for the login's position
 * with `waitForProjection(runtime, 'sessions', position)` when that matters. Whether a session may be used
 * is never decided here (session/session-check.ts reads the write side).
 */
export const listSessionsOfUser = async (
  sql: SqlExecutor,
  userId: string,
  now: Date = new Date(),
): Promise<SessionSummary[]> => {
  if (!UUID.test(userId)) return [];
  return readActive(
    sql,
    sessionsProjection,
    async (tables) => {
      const r = await sql.query<{
        id: string;
        created_at: Date;
        last_used_at: Date;
        user_agent: string | null;
      }>(
        `select id::text, created_at, last_used_at, user_agent from ${table(tables, SESSIONS)}
         where user_id = $1 and not ended and absolute_expires_at > $2
           and (idle_expires_at is null or idle_expires_at > $2)
         order by created_at desc, id`,
        [userId, now],
      );
      return r.rows.map((row) => ({
        id: row.id,
        createdAt: row.created_at,
        lastUsedAt: row.last_used_at,
        userAgent: row.user_agent,
      }));
    },
    [],
  );
};
