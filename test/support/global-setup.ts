import { existsSync, mkdirSync, readdirSync, renameSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { migrations } from '../../src/infrastructure/sql/migrations';
import { migrate } from '../../src/infrastructure/sql/migrator';
import { PgliteSqlClient } from '../../src/infrastructure/sql/pglite-client';
import { POSTGRES_UNREACHABLE_ENV, TEST_DATABASE_PREFIX, TEST_TMP, pgliteTemplatePath } from './databases';

const HOUR_MS = 60 * 60 * 1000;

/** A fresh PGlite takes 3-7 s to initialise; tests load this migrated copy in about one (FACTS.md). */
const buildPgliteTemplate = async (): Promise<void> => {
  mkdirSync(TEST_TMP, { recursive: true });
  const target = pgliteTemplatePath();
  if (!existsSync(target)) {
    const sql = await PgliteSqlClient.open();
    try {
      await migrate(sql, migrations);
      const dump = Buffer.from(await (await sql.dumpDataDir()).arrayBuffer());
      // Other jest runs in this checkout may be reading the template: publish it whole or not at all.
      const partial = `${target}.${process.pid}.tmp`;
      writeFileSync(partial, dump);
      renameSync(partial, target);
    } finally {
      await sql.close();
    }
  }
  for (const file of readdirSync(TEST_TMP)) {
    const full = path.join(TEST_TMP, file);
    if (
      full !== target &&
      file.startsWith('pglite-template-') &&
      Date.now() - statSync(full).mtimeMs > HOUR_MS
    ) {
      unlinkSync(full);
    }
  }
};

/**
 * Notes whether DATABASE_URL answers, and drops test databases an interrupted run left behind (older than
 * an hour, so no live run loses one).
 */
const probePostgres = async (url: string): Promise<void> => {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3_000 });
  try {
    await client.connect();
  } catch (e) {
    const reason = `DATABASE_URL unreachable: ${(e as Error).message || (e as Error).name}`;
    // With CI=true the postgres backend stays in the list and fails on open.
    if (process.env.CI !== 'true') process.env[POSTGRES_UNREACHABLE_ENV] = reason;
    return;
  }
  try {
    const stale = await client.query<{ datname: string }>(
      `select datname from pg_database where datname like $1`,
      [`${TEST_DATABASE_PREFIX}%`],
    );
    for (const { datname } of stale.rows) {
      const created = parseInt(datname.slice(TEST_DATABASE_PREFIX.length).split('_')[0] ?? '', 36);
      if (Number.isFinite(created) && Date.now() - created > HOUR_MS) {
        await client.query(`drop database if exists "${datname}" with (force)`).catch(() => undefined);
      }
    }
  } finally {
    await client.end();
  }
};

export default async (): Promise<void> => {
  await Promise.all([
    buildPgliteTemplate(),
    process.env.DATABASE_URL ? probePostgres(process.env.DATABASE_URL) : Promise.resolve(),
  ]);
};
