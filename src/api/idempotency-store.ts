import type { SqlExecutor } from '../application/sql';

/** The `idempotency_keys` table behind idempotency.ts: claim a key, find its row, finish or release it. */

export const IDEMPOTENCY_TTL_SECONDS = 24 * 3600;

export type StoredRow = {
  request_hash: string;
  status: 'running' | 'done';
  response_status: number | null;
  response_headers: Record<string, string | string[]> | string | null;
  response_body: string | null;
};

/** A claim is fenced by its own `created_at`: a later claimant of an expired key is never overwritten. */
export type Claim = { scope: string; key: string; claimedAt: Date };

export const idempotencyStore = (sql: SqlExecutor, limits: { ttlMs: number; leaseMs: number }) => ({
  /**
   * Takes the key for this request: a new row, or one whose lifetime ended, or a `running` claim older
   * than the lease (its process died). False when another live row holds it.
   */
  claim: async ({ scope, key, claimedAt }: Claim, requestHash: string): Promise<boolean> => {
    const result = await sql.query(
      `insert into idempotency_keys (scope, key, request_hash, status, created_at)
       values ($1, $2, $3, 'running', $4::timestamptz)
       on conflict (scope, key) do update
         set request_hash = excluded.request_hash, status = 'running', response_status = null,
             response_headers = null, response_body = null, created_at = excluded.created_at
         where idempotency_keys.created_at < $5::timestamptz
            or (idempotency_keys.status = 'running' and idempotency_keys.created_at < $6::timestamptz)
       returning scope`,
      [
        scope,
        key,
        requestHash,
        claimedAt.toISOString(),
        new Date(claimedAt.getTime() - limits.ttlMs).toISOString(),
        new Date(claimedAt.getTime() - limits.leaseMs).toISOString(),
      ],
    );
    return result.rows.length === 1;
  },

  find: async (scope: string, key: string): Promise<StoredRow | undefined> => {
    const result = await sql.query<StoredRow>(
      `select request_hash, status, response_status, response_headers, response_body
         from idempotency_keys where scope = $1 and key = $2`,
      [scope, key],
    );
    return result.rows[0];
  },

  /** Records the answer (`kept` null: only the status, for an answer that carried credentials). */
  finish: async (
    claim: Claim,
    status: number,
    kept: { headers: Record<string, string | string[]>; body: string } | null,
  ): Promise<void> => {
    await sql.query(
      `update idempotency_keys
          set status = 'done', response_status = $4, response_headers = $5::jsonb, response_body = $6
        where scope = $1 and key = $2 and created_at = $3::timestamptz and status = 'running'`,
      [
        claim.scope,
        claim.key,
        claim.claimedAt.toISOString(),
        status,
        kept ? JSON.stringify(kept.headers) : null,
        kept ? kept.body : null,
      ],
    );
  },

  /** Gives the key back, so a retry runs the command again. */
  release: async (claim: Claim): Promise<void> => {
    await sql.query(
      `delete from idempotency_keys where scope = $1 and key = $2 and created_at = $3::timestamptz and status = 'running'`,
      [claim.scope, claim.key, claim.claimedAt.toISOString()],
    );
  },
});

/** Deletes rows past their lifetime; run periodically (expired rows are already ignored on read). */
export const purgeExpiredIdempotencyKeys = async (
  sql: SqlExecutor,
  options: { ttlSeconds?: number; now?: Date } = {},
): Promise<number> => {
  const cutoff = new Date(
    (options.now ?? new Date()).getTime() - (options.ttlSeconds ?? IDEMPOTENCY_TTL_SECONDS) * 1000,
  );
  const result = await sql.query(`delete from idempotency_keys where created_at < $1::timestamptz`, [
    cutoff.toISOString(),
  ]);
  return result.rowCount;
};
