import { PostgresEventStore } from '../../src/infrastructure/event-store/postgres-event-store';
import { PgSqlClient } from '../../src/infrastructure/sql/pg-client';
import { LOCKOUT_THRESHOLD } from '../../src/domain/user';
import { startTestApp, type TestApp } from '../support/app';
import { testBackends, type TestDatabase } from '../support/databases';
import { createAccount, postJson, userState, type TestAccount } from '../support/session-fixtures';

/**
 * The lockout holds against parallel guesses (CONTRACT.md "Lockout": counted atomically). However many
 * wrong passwords arrive at once, on one instance or on two sharing the store, at most the policy's number
 * of them is checked with argon2 before the lock, and a right password sent while they are being recorded
 * is refused unless it was itself one of the guesses the policy allowed.
 */

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

type Instance = { t: TestApp; verifies: () => number };

const withVerifyCount = (t: TestApp): Instance => {
  const spy = jest.spyOn(t.services.hasher, 'verify');
  return { t, verifies: () => spy.mock.calls.length };
};

const login = (i: Instance, account: TestAccount, password: string) =>
  postJson(i.t, '/v1/auth/login', { email: account.email, password }).then(async (r) => {
    await r.arrayBuffer();
    return r.status;
  });

/** A second store over the same database: its own pool and its own caches, as another process has. */
const secondStore = async (db: TestDatabase): Promise<TestDatabase> => {
  if (db.backend === 'embedded') {
    const store = new PostgresEventStore(db.sql);
    return { ...db, store, close: () => store.close() };
  }
  const sql = new PgSqlClient({ connectionString: db.connectionString as string, max: 10 });
  const store = new PostgresEventStore(sql);
  return {
    ...db,
    sql,
    store,
    close: async () => {
      await store.close();
      await sql.close();
    },
  };
};

for (const backend of testBackends()) {
  describe(`login under a burst of parallel guesses (${backend.name})`, () => {
    let one: Instance;
    let two: Instance;
    let secondDb: TestDatabase;

    beforeAll(async () => {
      const t = await startTestApp(backend);
      secondDb = await secondStore(t.db);
      const t2 = await startTestApp(backend, { db: secondDb, runSubscriptions: false });
      one = withVerifyCount(t);
      two = withVerifyCount(t2);
    });
    afterAll(async () => {
      jest.restoreAllMocks();
      await two.t.close();
      await secondDb.close();
      await one.t.close();
    });

    const mark = (): number => one.verifies() + two.verifies();
    const checksSince = (before: number): number => mark() - before;

    it('checks at most the policy number of 200 parallel wrong passwords, then the account is locked', async () => {
      const account = await createAccount(one.t.services);
      const before = mark();
      const answers = await Promise.all(
        Array.from({ length: 200 }, (_, i) => login(i % 2 ? two : one, account, `wrong guess ${i}`)),
      );
      expect(new Set(answers)).toEqual(new Set([401]));
      expect(checksSince(before)).toBeLessThanOrEqual(LOCKOUT_THRESHOLD);
      const { state, types } = await userState(one.t.services, account.userId);
      expect(types.filter((x) => x === 'LoginFailed')).toHaveLength(LOCKOUT_THRESHOLD);
      expect(types.filter((x) => x === 'AccountLocked')).toHaveLength(1);
      expect(state.status === 'active' && state.lockout.attempts).toEqual([]);
      // Locked: the right password is refused without a check.
      const mid = mark();
      expect(await login(one, account, account.password)).toBe(401);
      expect(checksSince(mid)).toBe(0);
    });

    it('refuses the right password sent 30 ms after 50 parallel wrong ones, unless it was an allowed guess', async () => {
      const account = await createAccount(one.t.services);
      const before = mark();
      const wrong = Promise.all(
        Array.from({ length: 50 }, (_, i) => login(i % 2 ? two : one, account, `wrong guess ${i}`)),
      );
      await sleep(30);
      const right = await login(one, account, account.password);
      expect(new Set(await wrong)).toEqual(new Set([401]));
      const checks = checksSince(before);

      const events = await one.t.services.store.readStream(`user-${account.userId}`);
      const succeeded = events.find((e) => e.type === 'LoginSucceeded');
      if (right === 200) {
        // A proven password clears the failures, as any successful login does: the guesses after it count
        // anew, at most five again before the lock.
        const after = events.slice(events.indexOf(succeeded!)).filter((e) => e.type === 'LoginFailed');
        expect(after.length).toBeLessThanOrEqual(LOCKOUT_THRESHOLD);
        expect(checks).toBeLessThanOrEqual(2 * LOCKOUT_THRESHOLD);
        // Accepted only as one of the five guesses, decided on the stream as it was when recorded: no lock
        // before it, and its reservation among the first five.
        const id = (succeeded?.data as { attemptId: string }).attemptId;
        const starts = events.filter((e) => e.type === 'LoginAttemptStarted');
        const rank = starts.findIndex((e) => (e.data as { attemptId: string }).attemptId === id);
        expect(rank).toBeGreaterThanOrEqual(0);
        expect(rank).toBeLessThan(LOCKOUT_THRESHOLD);
        const lockedAt = events.findIndex((e) => e.type === 'AccountLocked');
        expect(lockedAt === -1 || lockedAt > events.indexOf(succeeded!)).toBe(true);
      } else {
        expect(right).toBe(401);
        expect(succeeded).toBeUndefined();
        expect(checks).toBeLessThanOrEqual(LOCKOUT_THRESHOLD);
      }
    });

    it('accepts the right password after four wrong ones, and records the success on the stream', async () => {
      const account = await createAccount(one.t.services);
      for (let i = 0; i < LOCKOUT_THRESHOLD - 1; i++)
        expect(await login(one, account, `wrong ${i}`)).toBe(401);
      expect(await login(two, account, account.password)).toBe(200);
      const { state, types } = await userState(one.t.services, account.userId);
      expect(types.slice(-2)).toEqual(['LoginAttemptStarted', 'LoginSucceeded']);
      expect(state.status === 'active' && state.lockout).toMatchObject({
        consecutiveFailures: 0,
        attempts: [],
      });
    });
  });
}
