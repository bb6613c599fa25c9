import type { SqlClient } from '../../application/sql';
import type { Migration } from './migrations/types';

/**
 * Applies every migration not yet recorded in `schema_migrations`, in version order, each in its own
 * transaction. Instances starting at once serialise on a transaction-scoped advisory lock taken before the
 * bookkeeping table is even created, so exactly one applies each migration and the others see it done.
 * A version added below an applied one (parallel branches) is still applied. Returns the versions applied.
 */
export const migrate = async (sql: SqlClient, migrations: readonly Migration[]): Promise<number[]> => {
  const ordered = [...migrations].sort((a, b) => a.version - b.version);
  ordered.forEach((m, i) => {
    if (!Number.isInteger(m.version) || m.version <= 0) throw new Error(`migration ${m.name}: bad version`);
    if (i > 0 && ordered[i - 1]!.version === m.version)
      throw new Error(`two migrations share version ${m.version}`);
  });

  const applied: number[] = [];
  for (const m of ordered) {
    const done = await sql.transaction(async (tx) => {
      await tx.query(`select pg_advisory_xact_lock(hashtextextended('schema_migrations', 0))`, []);
      await tx.query(`
        create table if not exists schema_migrations (
          version integer primary key,
          name text not null,
          applied_at timestamptz not null default now()
        )`);
      const r = await tx.query('select 1 from schema_migrations where version = $1', [m.version]);
      if (r.rowCount > 0) return false;
      await tx.query(m.sql);
      await tx.query('insert into schema_migrations (version, name) values ($1, $2)', [m.version, m.name]);
      return true;
    });
    if (done) applied.push(m.version);
  }
  return applied;
};
