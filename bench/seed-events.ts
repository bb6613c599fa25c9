import { createHash, randomUUID } from 'node:crypto';
import type { SqlClient } from '../src/application/sql';
import { InMemoryPiiKeyStore, PiiVault } from '../src/infrastructure/crypto/pii-vault';

/** Events per account: a registration and what a few weeks of use leave in a user stream. */
export const EVENTS_PER_ACCOUNT = 8;

/**
 * Writes `events` user-stream events (EVENTS_PER_ACCOUNT per account, the domain's event shapes, personal
 * data sealed under per-user keys wrapped with `piiWrap`) straight into the event store's tables, 1,000
 * accounts per transaction: the rebuild reads them like any other events, and seeding stays a small part
 * of the run (appending through the store, one stream at a time, would take minutes for a million).
 */
export const seedUserEvents = async (
  sql: SqlClient,
  piiWrap: Buffer,
  events: number,
  onProgress?: (written: number) => void,
): Promise<number> => {
  const accounts = Math.ceil(events / EVENTS_PER_ACCOUNT);
  const hash = (s: string) => createHash('sha256').update(s).digest('hex');
  let t = Date.parse('2025-01-01T00:00:00.000Z');
  const at = () => new Date((t += 1000)).toISOString();
  let written = 0;
  const perBatch = 1000;
  for (let first = 0; first < accounts; first += perBatch) {
    const keys = new InMemoryPiiKeyStore();
    const vault = new PiiVault(keys, piiWrap);
    const streams: string[] = [];
    const rows: {
      stream_id: string;
      revision: number;
      event_id: string;
      type: string;
      data: unknown;
      metadata: unknown;
    }[] = [];
    for (let i = first; i < Math.min(accounts, first + perBatch); i++) {
      const userId = randomUUID();
      await vault.createKey(userId);
      const meta = () => ({
        occurred_at: at(),
        correlation_id: randomUUID(),
        causation_id: randomUUID(),
        actor: { type: 'user', id: userId },
        schema_version: 1,
      });
      const list: [string, unknown][] = [
        [
          'UserRegistered',
          {
            userId,
            email: await vault.seal(userId, `user${i}@example.com`),
            username: await vault.seal(userId, `User ${i}`),
            passwordHash: await vault.seal(userId, `$argon2id$v=19$m=19456,t=2,p=1$${i}`),
            registeredAt: at(),
          },
        ],
        [
          'EmailVerificationRequested',
          { tokenId: randomUUID(), tokenHash: hash(`v${i}`), expiresAt: at(), requestedAt: at() },
        ],
        ['EmailVerified', { at: at() }],
        ['LoginFailed', { at: at(), consecutiveFailures: 1 }],
        ['LoginFailed', { at: at(), consecutiveFailures: 2 }],
        ['FailedLoginsCleared', { at: at() }],
        ['RoleGranted', { role: i % 100 === 0 ? 'admin' : 'events:read' }],
        ['RoleRevoked', { role: i % 100 === 0 ? 'admin' : 'events:read' }],
      ];
      const stream = `user-${userId}`;
      streams.push(stream);
      list.forEach(([type, data], revision) =>
        rows.push({ stream_id: stream, revision, event_id: randomUUID(), type, data, metadata: meta() }),
      );
    }
    await sql.transaction(async (tx) => {
      await tx.query(
        // Hex text: both SQL clients pass text arrays alike, bytea arrays differently.
        `insert into pii_keys (user_id, wrapped_key)
         select id, decode(k, 'hex') from unnest($1::uuid[], $2::text[]) as r(id, k)`,
        [[...keys.rows.keys()], [...keys.rows.values()].map((k) => k.toString('hex'))],
      );
      await tx.query(
        `insert into streams (stream_id, revision) select s, ${EVENTS_PER_ACCOUNT - 1} from unnest($1::text[]) s`,
        [streams],
      );
      await tx.query(
        `insert into events (stream_id, revision, event_id, type, data, metadata)
         select stream_id, revision, event_id, type, data, metadata
         from jsonb_to_recordset($1::jsonb)
           as r(stream_id text, revision bigint, event_id uuid, type text, data jsonb, metadata jsonb)`,
        [JSON.stringify(rows)],
      );
    });
    written += rows.length;
    onProgress?.(written);
  }
  return written;
};
