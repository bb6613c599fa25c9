import type { SqlExecutor } from '../../application/sql';
import { table, type Tables } from '../runtime/projection';

/**
 * Sessions per user, for GET /v1/users/me/sessions. Built from the `session-` streams AND the `user-`
 * streams, because ending every session of a user is one cut-off event in the user stream
 * (docs/design.md, "Sessions"): `session_cutoffs` keeps each user's latest cut-off so a session whose start
 * is projected after it is still judged by it. The user agent is opened at projection time and blanked
 * on erasure; the IP is not kept. Never here: refresh-token hashes, nonces.
 */
export const SESSIONS = 'sessions';
export const SESSION_CUTOFFS = 'session_cutoffs';

export const createSessionTables = async (tx: SqlExecutor, tables: Tables): Promise<void> => {
  const s = table(tables, SESSIONS);
  const c = table(tables, SESSION_CUTOFFS);
  await tx.query(`
    create table if not exists ${s} (
      id uuid primary key,
      user_id uuid not null,
      created_at timestamptz not null,
      last_used_at timestamptz not null,
      user_agent text,
      ended boolean not null default false,
      ended_at timestamptz,
      end_reason text,
      -- The user-stream revision its login decided on: what a cut-off is compared with.
      started_at_user_revision bigint not null,
      idle_expires_at timestamptz,
      absolute_expires_at timestamptz not null,
      -- The session-stream revision folded in: the idempotency guard.
      revision bigint not null
    );
    create index if not exists ${s}_user on ${s} (user_id, created_at);
    create table if not exists ${c} (
      user_id uuid primary key,
      -- The user-stream revision of the latest cut-off applied: the cut-off's idempotency guard, and the
      -- revision a session must have started at (or after) to outlive it.
      revision bigint not null,
      survivor_session_id uuid,
      reason text not null,
      at timestamptz not null,
      erased boolean not null default false
    );
  `);
};
