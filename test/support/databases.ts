/**
 * Fresh, migrated databases for any test file, on every backend the run can reach.
 *
 *   for (const backend of testBackends()) {
 *     describe(backend.name, () => {
 *       let db: TestDatabase;
 *       beforeAll(async () => { db = await backend.open(); });
 *       afterAll(() => db.close());
 *       it('...', async () => { await db.store.appendToStream(...); await db.sql.query(...); });
 *     });
 *   }
 *
 * - `embedded` is always there: PGlite loaded from the migrated template global-setup.ts dumped (~1 s,
 *   ~300 MB). Open one per file (or per describe) rather than per test, and close it.
 * - `postgres` is there when DATABASE_URL is set: every open creates a database with a random name on that
 *   server, migrates it, and its close drops it. When the server cannot be reached the backend is left out
 *   with a notice, except with CI=true, where opening fails so a broken setup cannot pass as green.
 *
 * Each database is private to its opener, but a PostgreSQL server's subscription horizon is cluster-wide:
 * never leave a transaction open in a test (FACTS.md).
 */
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import type { EventStore } from '../../src/application/event-store';
import type { SqlClient } from '../../src/application/sql';
import {
  PostgresEventStore,
  type PostgresEventStoreOptions,
} from '../../src/infrastructure/event-store/postgres-event-store';
import { migrations } from '../../src/infrastructure/sql/migrations';
import { migrate } from '../../src/infrastructure/sql/migrator';
import { PgSqlClient } from '../../src/infrastructure/sql/pg-client';
import { PgliteSqlClient } from '../../src/infrastructure/sql/pglite-client';

export type BackendName = 'embedded' | 'postgres';

export type TestDatabase = {
  backend: BackendName;
  sql: SqlClient;
  store: EventStore;
  /** PostgreSQL only: the test database's URL, for a second client (another instance, a migration race). */
  connectionString?: string;
  /** Closes the store and the client; a PostgreSQL test database is dropped. */
  close(): Promise<void>;
};

export type OpenOptions = {
  store?: PostgresEventStoreOptions;
  /** PostgreSQL pool size (default 10). */
  poolSize?: number;
  /**
   * false: an empty database, for tests of migrations themselves (embedded then starts a fresh PGlite,
   * which takes 3-7 s instead of ~1).
   */
  migrate?: boolean;
};

export type TestBackend = {
  name: BackendName;
  open(options?: OpenOptions): Promise<TestDatabase>;
};

export const TEST_TMP = path.resolve(__dirname, '../../.test-tmp');

/** Test databases are named `identity_test_<base36 ms>_<random>`, so stale ones can be found and dropped. */
export const TEST_DATABASE_PREFIX = 'identity_test_';

/** Set by global-setup.ts when DATABASE_URL is set but unreachable outside CI. */
export const POSTGRES_UNREACHABLE_ENV = 'IDENTITY_TEST_POSTGRES_UNREACHABLE';

/**
 * The template is keyed by the migrations and the PGlite version, so concurrent or later runs with the same
 * schema reuse it and a changed schema gets its own file.
 */
export const pgliteTemplatePath = (): string => {
  // The package exports no package.json; its entry point sits in dist/ beside it.
  const manifest = path.resolve(path.dirname(require.resolve('@electric-sql/pglite')), '../package.json');
  const pgliteVersion = (JSON.parse(readFileSync(manifest, 'utf8')) as { version: string }).version;
  const hash = createHash('sha256')
    .update(JSON.stringify({ pgliteVersion, migrations }))
    .digest('hex')
    .slice(0, 16);
  return path.join(TEST_TMP, `pglite-template-${hash}.tgz`);
};

export const openEmbedded = async (options: OpenOptions = {}): Promise<TestDatabase> => {
  const template = pgliteTemplatePath();
  const migrated = options.migrate ?? true;
  const sql =
    migrated && existsSync(template)
      ? await PgliteSqlClient.open({ loadDataDir: new Blob([readFileSync(template)]) })
      : await PgliteSqlClient.open();
  try {
    // A no-op on the template; migrates from scratch when a file runs without global-setup.
    if (migrated) await migrate(sql, migrations);
  } catch (e) {
    await sql.close();
    throw e;
  }
  const store = new PostgresEventStore(sql, options.store);
  return {
    backend: 'embedded',
    sql,
    store,
    close: async () => {
      await store.close();
      await sql.close();
    },
  };
};

const databaseUrl = (url: string, database: string): string => {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
};

const adminQuery = async (url: string, text: string): Promise<void> => {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5_000 });
  try {
    await client.connect();
  } catch (e) {
    throw new Error(
      `DATABASE_URL is set but PostgreSQL cannot be reached (${(e as Error).message || (e as Error).name}); ` +
        'unset it to run on the embedded store only',
      { cause: e },
    );
  }
  try {
    await client.query(text);
  } finally {
    await client.end();
  }
};

export const openPostgres = async (options: OpenOptions = {}): Promise<TestDatabase> => {
  const url = process.env.DATABASE_URL;
  if (!url) throw new Error('DATABASE_URL is not set');
  const name = `${TEST_DATABASE_PREFIX}${Date.now().toString(36)}_${randomBytes(4).toString('hex')}`;
  await adminQuery(url, `create database ${name}`);
  const connectionString = databaseUrl(url, name);
  const sql = new PgSqlClient({ connectionString, max: options.poolSize ?? 10 });
  const drop = async () => {
    await sql.close();
    await adminQuery(url, `drop database if exists ${name} with (force)`);
  };
  try {
    if (options.migrate ?? true) await migrate(sql, migrations);
  } catch (e) {
    await drop();
    throw e;
  }
  const store = new PostgresEventStore(sql, options.store);
  return {
    backend: 'postgres',
    sql,
    store,
    connectionString,
    close: async () => {
      await store.close();
      await drop();
    },
  };
};

export const testBackends = (): TestBackend[] => {
  const backends: TestBackend[] = [{ name: 'embedded', open: openEmbedded }];
  if (process.env.DATABASE_URL) {
    if (process.env[POSTGRES_UNREACHABLE_ENV] && process.env.CI !== 'true') {
      process.stderr.write(`postgres backend skipped: ${process.env[POSTGRES_UNREACHABLE_ENV]}\n`);
    } else {
      backends.push({ name: 'postgres', open: openPostgres });
    }
  }
  return backends;
};
