/**
 * An account workload driven through the domain deciders and the event store directly (no HTTP, no
 * argon2): what the projection tests fold. Personal data is sealed with a real vault over the test
 * database, so projections open it, and erasure really deletes the key.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { handle, type CommandContext } from '../../src/application/write/handle';
import type { EventStore, Position } from '../../src/application/event-store';
import type { SqlClient } from '../../src/application/sql';
import { SubscriptionRunner } from '../../src/projections/runtime/runner';
import { sessionDecider, sessionStreamId, type SessionCommand } from '../../src/domain/session';
import {
  userDecider,
  userStreamId,
  type Role,
  type UserCommand,
  type UserState,
} from '../../src/domain/user';
import { SqlPersonalDataVault } from '../../src/infrastructure/crypto/pii-vault';
import { personalDataReaders } from '../../src/infrastructure/projections';
import { projectionHandler } from '../../src/projections';
import type { PersonalDataReaders, Projection } from '../../src/projections/runtime/projection';
import type { TestDatabase } from '../support/databases';

export const silentLogger = { info: () => undefined, warn: () => undefined, error: () => undefined };

const hash = (s: string) => createHash('sha256').update(s).digest('hex');

export type Workload = ReturnType<typeof workload>;

/** `start`: the time of the first command; every command moves the clock on by one second. */
export const workload = (db: TestDatabase, start = new Date('2025-03-01T10:00:00.000Z')) => {
  const piiWrap = randomBytes(32);
  const vault = new SqlPersonalDataVault(db.sql, piiWrap);
  const personalData: PersonalDataReaders = personalDataReaders({ piiWrap });
  let time = start.getTime();
  let last: Position | null = null;
  const tick = (): Date => new Date((time += 1000));
  const ctx = (
    now: Date,
    actor: CommandContext['actor'] = { type: 'system', id: null },
    reason?: string,
  ) => ({
    correlationId: randomUUID(),
    causationId: randomUUID(),
    actor,
    now,
    ...(reason !== undefined ? { reason } : {}),
  });
  const admin = { type: 'admin' as const, id: randomUUID() };

  const user = async (
    userId: string,
    command: (now: Date, state: UserState) => UserCommand,
    reason?: string,
  ) => {
    const now = tick();
    const r = await handle(
      db.store,
      userDecider,
      userStreamId(userId),
      ({ state }: { state: UserState }) => userDecider.decide(command(now, state), state),
      ctx(now, reason ? admin : { type: 'user', id: userId }, reason),
    );
    if (r.position) last = r.position;
    return r;
  };
  const session = async (sessionId: string, command: (now: Date) => SessionCommand) => {
    const now = tick();
    const r = await handle(db.store, sessionDecider, sessionStreamId(sessionId), command(now), ctx(now));
    if (r.position) last = r.position;
    return r;
  };
  const seal = (userId: string, value: string) => vault.seal(userId, value);

  return {
    vault,
    personalData,
    piiWrap,
    lastPosition: () => last,
    now: () => new Date(time),
    register: async (email: string, options: { username?: string; verified?: boolean } = {}) => {
      const userId = randomUUID();
      await vault.createKey(userId);
      const sealedEmail = await seal(userId, email);
      const sealedHash = await seal(
        userId,
        `$argon2id$v=19$m=19456,t=2,p=1$${randomBytes(8).toString('hex')}`,
      );
      const sealedName = options.username !== undefined ? await seal(userId, options.username) : undefined;
      await user(userId, (now) => ({
        type: 'RegisterUser',
        data: {
          userId,
          email: sealedEmail,
          ...(sealedName !== undefined ? { username: sealedName } : {}),
          passwordHash: sealedHash,
          verificationTokenId: randomUUID(),
          verificationTokenHash: hash(randomUUID()),
          verificationExpiresAt: new Date(now.getTime() + 86_400_000),
          requireVerification: options.verified !== false,
          now,
        },
      }));
      return userId;
    },
    verify: (userId: string) =>
      user(userId, (now, state) => ({
        type: 'VerifyEmail',
        data: {
          tokenHash: state.status === 'pending_verification' ? (state.verification?.tokenHash ?? '') : '',
          now,
        },
      })),
    failLogins: async (userId: string, times: number) => {
      for (let i = 0; i < times; i++) {
        await user(userId, (now) => ({
          type: 'CheckPassword',
          data: { attemptId: randomUUID(), passwordVerified: false, requireVerification: true, now },
        }));
      }
    },
    login: (userId: string) =>
      user(userId, (now) => ({
        type: 'CheckPassword',
        data: { attemptId: randomUUID(), passwordVerified: true, requireVerification: true, now },
      })),
    rename: async (userId: string, username: string | null) => {
      const sealed = username === null ? null : await seal(userId, username);
      return user(userId, (now) => ({ type: 'UpdateProfile', data: { username: sealed, now } }));
    },
    grant: (userId: string, role: Role) =>
      user(userId, (now) => ({ type: 'GrantRole', data: { role, now } }), 'needs it'),
    revoke: (userId: string, role: Role) =>
      user(userId, (now) => ({ type: 'RevokeRole', data: { role, now } }), 'no longer'),
    deactivate: (userId: string) =>
      user(userId, (now) => ({ type: 'DeactivateUser', data: { now } }), 'abuse'),
    reactivate: (userId: string) => user(userId, (now) => ({ type: 'ReactivateUser', data: { now } }), 'ok'),
    unlock: (userId: string) => user(userId, (now) => ({ type: 'UnlockUser', data: { now } }), 'called us'),
    logoutAll: (userId: string) => user(userId, (now) => ({ type: 'EndAllSessions', data: { now } })),
    erase: async (userId: string) => {
      const r = await user(userId, (now) => ({ type: 'EraseUser', data: { now } }), 'GDPR art. 17');
      await vault.erase(userId);
      return r;
    },
    startSession: async (userId: string, userAgent?: string) => {
      const sessionId = randomUUID();
      const revision = (await db.store.readStream(userStreamId(userId))).length - 1;
      const sealedAgent = userAgent !== undefined ? await seal(userId, userAgent) : undefined;
      await session(sessionId, (now) => ({
        type: 'StartSession',
        data: {
          sessionId,
          userId,
          startedAtUserRevision: revision,
          refreshTokenHash: hash(`${sessionId}-0`),
          nonce: randomUUID(),
          idleMs: 86_400_000,
          absoluteMs: 30 * 86_400_000,
          ...(sealedAgent !== undefined ? { userAgent: sealedAgent } : {}),
          now,
        },
      }));
      return sessionId;
    },
    rotate: (sessionId: string, generation: number) =>
      session(sessionId, (now) => ({
        type: 'Refresh',
        data: {
          presentedGeneration: generation,
          presentedHash: hash(`${sessionId}-${generation}`),
          successorHash: hash(`${sessionId}-${generation + 1}`),
          graceMs: 10_000,
          idleMs: 86_400_000,
          now,
        },
      })),
    endSession: (sessionId: string) =>
      session(sessionId, (now) => ({ type: 'EndSession', data: { reason: 'revoked_by_user', now } })),
  };
};

/**
 * The mixed workload of the issue: registrations (verified or not), verification, login failures up to a
 * lock and an unlock, roles, renames, deactivation, erasure, sessions with rotations, ends and cut-offs.
 */
export const mixedWorkload = async (w: Workload, users = 6) => {
  const ids: string[] = [];
  const emails: string[] = [];
  for (let i = 0; i < users; i++) {
    const email = `person${i}.${randomBytes(3).toString('hex')}@example.com`;
    emails.push(email);
    ids.push(await w.register(email, { username: `Person ${i}`, verified: i % 3 !== 2 }));
  }
  const [a, b, c, d, e, f] = ids as [string, string, string, string, string, string];
  await w.verify(a);
  await w.verify(b);
  const sa1 = await w.startSession(a, 'Firefox on Linux');
  const sa2 = await w.startSession(a, 'Safari on iPhone');
  await w.rotate(sa1, 0);
  await w.failLogins(b, 5);
  await w.grant(a, 'admin');
  await w.grant(a, 'pii:read');
  await w.revoke(a, 'pii:read');
  await w.rename(c, 'Renamed C');
  const sd = await w.startSession(d, 'curl/8');
  await w.deactivate(d);
  await w.reactivate(d);
  const se = await w.startSession(e, 'Chrome on Windows');
  await w.endSession(sa2);
  await w.logoutAll(a);
  const sa3 = await w.startSession(a, 'Firefox on Linux');
  await w.unlock(b);
  await w.erase(e);
  await w.deactivate(f);
  return { ids, emails, sessions: { sa1, sa2, sa3, sd, se } };
};

/** A live runner for one projection over the test database, started. */
export const startLive = (db: { store: EventStore; sql: SqlClient }, projection: Projection, w: Workload) => {
  const runner = new SubscriptionRunner(projectionHandler(projection, { personalData: w.personalData }), {
    store: db.store,
    sql: db.sql,
    logger: silentLogger,
    minBackoffMs: 10,
    maxBackoffMs: 50,
    standbyPollMs: 20,
  });
  runner.start();
  return runner;
};

/** A digest of every row of a table, in a fixed order: equal digests, equal tables. */
export const checksum = async (sql: SqlClient, table: string): Promise<{ rows: number; md5: string }> => {
  const r = await sql.query<{ rows: string; md5: string }>(
    `select count(*)::text as rows, md5(coalesce(string_agg(t::text, '|' order by t::text), '')) as md5
     from ${table} t`,
  );
  return { rows: Number(r.rows[0]?.rows), md5: r.rows[0]?.md5 ?? '' };
};

export const activeTablesOf = async (sql: SqlClient, name: string): Promise<string[]> =>
  (await sql.query<{ tables: string[] }>('select tables from projections where name = $1', [name])).rows[0]
    ?.tables ?? [];

/** Checksums of every table of a projection's active build, keyed by base name. */
export const modelChecksum = async (sql: SqlClient, projection: Projection) => {
  const tables = await activeTablesOf(sql, projection.name);
  const out: Record<string, { rows: number; md5: string }> = {};
  for (const t of tables) out[t.replace(/_v\d+(_\d+)?$/, '')] = await checksum(sql, t);
  return out;
};
