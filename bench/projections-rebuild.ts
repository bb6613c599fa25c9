/**
 * Read-model rebuild rate: writes `users` accounts of ten events each (eight in the user stream, two in a
 * session stream; 10,000 users = 100,000 events), then rebuilds every projection from position zero into
 * fresh tables and reports events per second.
 *
 *   npx tsx bench/projections-rebuild.ts [embedded|postgres] [users]
 *
 * `postgres` needs DATABASE_URL (a scratch database is created and dropped).
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { NewEvent } from '../src/application/event-store';
import { SqlPersonalDataVault } from '../src/infrastructure/crypto/pii-vault';
import { personalDataReaders } from '../src/infrastructure/projections';
import { projections, rebuildProjection } from '../src/projections';
import { openEmbedded, openPostgres, type TestDatabase } from '../test/support/databases';

const backend = process.argv[2] ?? 'embedded';
const users = Number(process.argv[3] ?? 10_000);

/** Writes `users` accounts of ten events each; returns the wrapping key their data keys are under. */
export const seedAccounts = async (
  db: TestDatabase,
  users: number,
): Promise<{ piiWrap: Buffer; written: number }> => {
  const piiWrap = randomBytes(32);
  const vault = new SqlPersonalDataVault(db.sql, piiWrap);
  const hash = (s: string) => createHash('sha256').update(s).digest('hex');
  let t = Date.parse('2025-01-01T00:00:00.000Z');
  const at = () => new Date((t += 1000)).toISOString();
  const meta = (actor: string) => ({
    occurred_at: at(),
    correlation_id: randomUUID(),
    causation_id: randomUUID(),
    actor: { type: 'user', id: actor },
    schema_version: 1,
  });
  let written = 0;
  for (let i = 0; i < users; i++) {
    const userId = randomUUID();
    const sessionId = randomUUID();
    await vault.createKey(userId);
    const e = (type: string, data: unknown): NewEvent => ({ type, data, metadata: meta(userId) });
    const userEvents = [
      e('UserRegistered', {
        userId,
        email: await vault.seal(userId, `user${i}@example.com`),
        username: await vault.seal(userId, `User ${i}`),
        passwordHash: await vault.seal(userId, `$argon2id$v=19$m=19456,t=2,p=1$${i}`),
        registeredAt: at(),
      }),
      e('EmailVerificationRequested', {
        tokenId: randomUUID(),
        tokenHash: hash(`v${i}`),
        expiresAt: at(),
        requestedAt: at(),
      }),
      e('EmailVerified', { at: at() }),
      e('LoginFailed', { at: at(), consecutiveFailures: 1 }),
      e('LoginFailed', { at: at(), consecutiveFailures: 2 }),
      e('LoginFailed', { at: at(), consecutiveFailures: 3 }),
      e('FailedLoginsCleared', { at: at() }),
      e('RoleGranted', { role: i % 100 === 0 ? 'admin' : 'events:read' }),
    ];
    await db.store.appendToStream(`user-${userId}`, userEvents, { expectedRevision: 'no_stream' });
    const startedAt = at();
    await db.store.appendToStream(
      `session-${sessionId}`,
      [
        e('SessionStarted', {
          sessionId,
          userId,
          startedAtUserRevision: 7,
          refreshTokenHash: hash(`${sessionId}-0`),
          nonce: randomUUID(),
          startedAt,
          idleExpiresAt: at(),
          absoluteExpiresAt: at(),
          userAgent: await vault.seal(userId, 'Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0'),
        }),
        e('RefreshTokenRotated', { generation: 1, refreshTokenHash: hash(`${sessionId}-1`), at: at() }),
      ],
      { expectedRevision: 'no_stream' },
    );
    written += userEvents.length + 2;
    if ((i + 1) % 1000 === 0) process.stderr.write(`  ${written} events written\n`);
  }
  return { piiWrap, written };
};

const main = async (): Promise<void> => {
  const db = backend === 'postgres' ? await openPostgres() : await openEmbedded();
  try {
    const writing = performance.now();
    const { piiWrap, written } = await seedAccounts(db, users);
    const writeSeconds = (performance.now() - writing) / 1000;
    console.log(`${backend}: wrote ${written} events in ${writeSeconds.toFixed(1)} s`);

    const deps = { sql: db.sql, store: db.store, personalData: personalDataReaders({ piiWrap }) };
    let total = 0;
    const started = performance.now();
    for (const projection of projections) {
      const result = await rebuildProjection(deps, projection);
      total += result.events;
      console.log(
        `${backend}: ${projection.name} rebuilt ${result.events} events in ${result.seconds.toFixed(1)} s = ` +
          `${Math.round(result.eventsPerSecond)} events/s (tables ${result.tables.join(', ')})`,
      );
    }
    const seconds = (performance.now() - started) / 1000;
    console.log(`${backend}: all projections, ${total} events applied in ${seconds.toFixed(1)} s`);
  } finally {
    await db.close();
  }
};

if (require.main === module) {
  main().catch((e: unknown) => {
    console.error(e);
    process.exit(1);
  });
}
