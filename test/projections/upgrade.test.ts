import { createRuntime } from '../../src/infrastructure/runtime';
import { subscriptionHandlers } from '../../src/infrastructure/subscriptions';
import { useTestApp } from '../support/app';
import { registerVerified } from '../support/account-flows';
import { testBackends } from '../support/databases';

const until = async (what: string, predicate: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> => {
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`${what}: not reached in time`);
    await new Promise((r) => setTimeout(r, 50));
  }
};

for (const backend of testBackends()) {
  describe(`projection upgrade on ${backend.name}`, () => {
    const t = useTestApp(backend);

    const registry = async () =>
      (
        await t.services.sql.query<{ version: number; tag: string; tables: string[] }>(
          `select version, tag, tables from projections where name = 'user-directory'`,
        )
      ).rows[0];
    const emailsIn = async (table: string) =>
      (await t.services.sql.query<{ email: string }>(`select email from ${table} order by email`)).rows.map(
        (r) => r.email,
      );

    it('a build of another version is rebuilt beside the live tables at start and takes over when caught up', async () => {
      const first = await registerVerified(t);
      await until('first user projected', async () => {
        // The registry row appears with the projection's first batch.
        const table = (await registry())?.tables[0];
        return table !== undefined && (await emailsIn(table)).length === 1;
      });
      const before = (await registry())!;

      // What a release with a new projection version finds: the active build is of an older version, in
      // tables of that version's names.
      await t.runtime.stop();
      expect(before.tag).toBe(`v${before.version}`);
      const oldTag = `v${before.version - 1}`;
      const oldTables = before.tables.map((name) =>
        name.replace(new RegExp(`_${before.tag}$`), `_${oldTag}`),
      );
      for (const [i, name] of before.tables.entries()) {
        await t.services.sql.query(`alter table ${name} rename to ${oldTables[i]}`);
      }
      await t.services.sql.query(
        `update projections set version = version - 1, tag = $1, tables = $2 where name = 'user-directory'`,
        [oldTag, oldTables],
      );
      const runtime = createRuntime(t.services, subscriptionHandlers(t.services));
      runtime.start();
      try {
        await until('switched to the current version', async () => {
          const r = await registry();
          return r !== undefined && r.version === before.version && r.tag === before.tag;
        });
        const after = (await registry())!;
        expect(await emailsIn(after.tables[0]!)).toEqual([first.email.toLowerCase()]);
        // The old version's tables are gone.
        const old = await t.services.sql.query(`select to_regclass($1) as t`, [oldTables[0]]);
        expect(old.rows[0]).toEqual({ t: null });

        // The live runner writes the new tables from here on.
        const second = await registerVerified(t);
        await until('live after the switch', async () => (await emailsIn(after.tables[0]!)).length === 2);
        expect(await emailsIn(after.tables[0]!)).toEqual(
          [first.email.toLowerCase(), second.email.toLowerCase()].sort(),
        );
      } finally {
        await runtime.stop();
      }
    });
  });
}
