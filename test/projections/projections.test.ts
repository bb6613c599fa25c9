import type { RecordedEvent } from '../../src/application/event-store';
import { projections, rebuildProjection } from '../../src/projections';
import { projectionsReadiness } from '../../src/projections/runtime/health';
import { applyBatch, tablesOf, type Projection } from '../../src/projections/runtime/projection';
import { lockActive, readRegistry } from '../../src/projections/runtime/registry';
import { sessionsProjection } from '../../src/projections/sessions/projection';
import { listSessionsOfUser } from '../../src/projections/sessions/queries';
import { userDirectory } from '../../src/projections/user-directory/projection';
import { findUserRow, listUsers } from '../../src/projections/user-directory/queries';
import { testBackends, type TestDatabase } from '../support/databases';
import { checksum, mixedWorkload, modelChecksum, startLive, workload, type Workload } from './workload';

const allEvents = async (db: TestDatabase, p: Projection): Promise<RecordedEvent[]> =>
  (await db.store.readAll({ filter: p.filter })).events;

const tableExists = async (db: TestDatabase, name: string): Promise<boolean> =>
  (await db.sql.query<{ t: string | null }>('select to_regclass($1)::text as t', [name])).rows[0]?.t != null;

const until = async (predicate: () => boolean | Promise<boolean>, timeoutMs = 15_000): Promise<void> => {
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, 10));
  }
};

for (const backend of testBackends()) {
  describe(`projections on ${backend.name}`, () => {
    let db: TestDatabase;
    let w: Workload;
    beforeEach(async () => {
      db = await backend.open();
      w = workload(db);
    });
    afterEach(() => db.close());

    it('applying events twice, as one batch or one by one, changes nothing', async () => {
      await mixedWorkload(w);
      for (const p of projections) {
        const entry = await db.sql.transaction((tx) => lockActive(tx, p, 'update'));
        const tables = tablesOf(p, entry.tag);
        const events = await allEvents(db, p);
        const applyAll = (batch: RecordedEvent[]) =>
          db.sql.transaction((tx) => applyBatch(p, batch, tx, { tables, personalData: w.personalData(tx) }));
        await applyAll(events);
        const once = await modelChecksum(db.sql, p);
        expect(Object.values(once).some((c) => c.rows > 0)).toBe(true);
        await applyAll(events);
        expect(await modelChecksum(db.sql, p)).toEqual(once);
        // Each old event delivered again on its own, after everything that followed it: still nothing.
        for (const e of events) {
          await applyAll([e]);
          expect({ event: `${e.type}@${e.revision}`, sums: await modelChecksum(db.sql, p) }).toEqual({
            event: `${e.type}@${e.revision}`,
            sums: once,
          });
        }
      }
    });

    it('a rebuild equals the live model, switches over, and the live side carries on in the new tables', async () => {
      const live = projections.map((p) => startLive(db, p, w));
      try {
        const { ids, emails } = await mixedWorkload(w);
        const erased = ids[4] as string;
        await Promise.all(live.map((r) => r.waitFor(w.lastPosition() as string, 10_000)));
        for (const p of projections) {
          const before = await readRegistry(db.sql, p.name);
          const liveSums = await modelChecksum(db.sql, p);
          // Small pages: the result must not depend on how the events were cut into batches.
          const result = await rebuildProjection(
            { sql: db.sql, store: db.store, personalData: w.personalData },
            p,
            {
              pageSize: 7,
            },
          );
          expect(result.events).toBe((await allEvents(db, p)).length);
          const after = await readRegistry(db.sql, p.name);
          expect(after?.tag).not.toBe(before?.tag);
          expect(after?.building).toBeNull();
          for (const old of before?.tables ?? []) expect(await tableExists(db, old)).toBe(false);
          expect(await modelChecksum(db.sql, p)).toEqual(liveSums);
        }

        // The erased account stays erased after the rebuild: its key is gone, so nothing opens again.
        const row = await findUserRow(db.sql, erased);
        expect(row).toMatchObject({ status: 'erased', email: null, username: null, roles: [] });
        const [users] = await activeTables(db, 'user-directory');
        const dump = await db.sql.query<{ t: string }>(
          `select string_agg(u::text, '|') as t from ${users} u`,
        );
        expect(dump.rows[0]?.t).not.toContain(emails[4]);
        expect(dump.rows[0]?.t).not.toContain('Person 4');
        expect(dump.rows[0]?.t).not.toMatch(/pii:v1:|\$argon2/);
        const [sessions] = await activeTables(db, 'sessions');
        const agents = await db.sql.query<{ user_agent: string | null }>(
          `select user_agent from ${sessions} where user_id = $1`,
          [erased],
        );
        expect(agents.rows).toEqual([{ user_agent: null }]);

        // After the switch the live runners write the new tables.
        await w.rename(ids[0] as string, 'After the switch');
        await Promise.all(live.map((r) => r.waitFor(w.lastPosition() as string, 10_000)));
        expect((await findUserRow(db.sql, ids[0] as string))?.username).toBe('After the switch');
        const sums = await modelChecksum(db.sql, userDirectory);
        await rebuildProjection(
          { sql: db.sql, store: db.store, personalData: w.personalData },
          userDirectory,
        );
        expect(await modelChecksum(db.sql, userDirectory)).toEqual(sums);
      } finally {
        await Promise.all(live.map((r) => r.stop()));
      }
    });

    it('the read models hold what happened: statuses, roles, locks, names, sessions and their cut-offs', async () => {
      const live = projections.map((p) => startLive(db, p, w));
      try {
        const { ids, emails, sessions } = await mixedWorkload(w);
        await Promise.all(live.map((r) => r.waitFor(w.lastPosition() as string, 10_000)));
        const [a, b, c, d, e, f] = await Promise.all(ids.map((id) => findUserRow(db.sql, id)));
        expect(a).toMatchObject({
          status: 'active',
          email: emails[0],
          username: 'Person 0',
          roles: ['admin'],
        });
        expect(b).toMatchObject({ status: 'active', failed_logins: 0, locked_until: null });
        expect(c).toMatchObject({ status: 'active', email_verified: true, username: 'Renamed C' });
        expect(d).toMatchObject({ status: 'pending_verification', email_verified: false });
        expect(e).toMatchObject({ status: 'erased', email: null, username: null });
        expect(f).toMatchObject({ status: 'deactivated' });

        // Password failures lock the account; the history of the row shows the lock until the unlock.
        const listed = await listUsers(db.sql, { email: ` ${emails[1]?.toUpperCase()} `, limit: 10 });
        expect(listed.users.map((u) => u.id)).toEqual([ids[1]]);

        // logout-all ended sa1 (and sa2 had ended itself); the session started after it lives.
        const now = w.now();
        const ofA = await listSessionsOfUser(db.sql, ids[0] as string, now);
        expect(ofA.map((s) => s.id)).toEqual([sessions.sa3]);
        expect(ofA[0]?.userAgent).toBe('Firefox on Linux');
        // Deactivation is a cut-off too; reactivation does not revive the session.
        expect(await listSessionsOfUser(db.sql, ids[3] as string, now)).toEqual([]);
        expect(await listSessionsOfUser(db.sql, ids[4] as string, now)).toEqual([]);
        // Lifetimes count: past the idle limit nothing is listed.
        expect(
          await listSessionsOfUser(db.sql, ids[0] as string, new Date(now.getTime() + 2 * 86_400_000)),
        ).toEqual([]);
      } finally {
        await Promise.all(live.map((r) => r.stop()));
      }
    });

    it('a crash mid-batch shows in status and readiness, and resuming equals a clean fold', async () => {
      await mixedWorkload(w);
      const events = await allEvents(db, userDirectory);
      const poison = events[Math.floor(events.length / 2)] as RecordedEvent;
      let broken = true;
      // Writes its rows first, then fails: the rollback must take the partial batch away with it.
      const flaky: Projection = {
        ...userDirectory,
        apply: async (batch, tx, context) => {
          await userDirectory.apply(batch, tx, context);
          if (broken && batch.some((e) => e.position === poison.position)) throw new Error('disk on fire');
        },
      };
      const runner = startLive(db, flaky, w);
      try {
        // The failing batch is isolated event by event: the status names the poison event itself.
        await until(() => runner.status().lastError?.includes(poison.position) === true);
        expect(runner.status().lastError).toContain(poison.type);
        const readiness = projectionsReadiness({
          store: db.store,
          sql: db.sql,
          clock: { now: () => new Date() },
          statuses: () => [runner.status()],
          projections: [userDirectory],
          thresholdSeconds: 3600,
        });
        await expect(readiness()).resolves.toEqual({ ok: false, detail: 'user-directory failing' });
        broken = false;
        await expect(runner.waitFor(events[events.length - 1]!.position, 10_000)).resolves.toBe(true);
        await expect(readiness()).resolves.toEqual({ ok: true });
        expect(runner.status().failures).toBeGreaterThan(0);
      } finally {
        await runner.stop();
      }
      const resumed = await modelChecksum(db.sql, userDirectory);
      await rebuildProjection({ sql: db.sql, store: db.store, personalData: w.personalData }, userDirectory);
      expect(await modelChecksum(db.sql, userDirectory)).toEqual(resumed);
      expect(resumed.users?.rows).toBe(6);
    });

    it('an interrupted rebuild resumes its own build, and a fresh one starts from empty tables', async () => {
      await mixedWorkload(w);
      const deps = { sql: db.sql, store: db.store, personalData: w.personalData };
      const stop = new AbortController();
      await expect(
        rebuildProjection(deps, sessionsProjection, {
          pageSize: 5,
          signal: stop.signal,
          onProgress: () => stop.abort(),
        }),
      ).rejects.toThrow(/interrupted/);
      const interrupted = await readRegistry(db.sql, sessionsProjection.name);
      expect(interrupted?.building?.position).not.toBeNull();
      const resumed = await rebuildProjection(deps, sessionsProjection, { pageSize: 5 });
      expect(resumed.resumed).toBe(true);
      expect(resumed.tag).toBe(interrupted?.building?.tag);
      const sums = await modelChecksum(db.sql, sessionsProjection);
      const fresh = await rebuildProjection(deps, sessionsProjection);
      expect(fresh.resumed).toBe(false);
      expect(await modelChecksum(db.sql, sessionsProjection)).toEqual(sums);
      for (const t of fresh.tables) expect((await checksum(db.sql, t)).rows).toBeGreaterThan(0);
    });
  });
}

const activeTables = async (db: TestDatabase, name: string): Promise<string[]> =>
  (await db.sql.query<{ tables: string[] }>('select tables from projections where name = $1', [name])).rows[0]
    ?.tables ?? [];
