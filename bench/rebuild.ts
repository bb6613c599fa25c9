import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import type { SqlClient } from '../src/application/sql';
import { deriveKeys } from '../src/infrastructure/crypto/keys';
import { migrations } from '../src/infrastructure/sql/migrations';
import { migrate } from '../src/infrastructure/sql/migrator';
import { PgSqlClient } from '../src/infrastructure/sql/pg-client';
import { PgliteSqlClient } from '../src/infrastructure/sql/pglite-client';
import { BENCH_MASTER_KEY, REPO, runScript, scratchDatabase } from './processes';
import { seedUserEvents } from './seed-events';

export type RebuildRow = {
  events: number;
  seed_seconds: number;
  rebuild_seconds: number;
  events_per_second: number;
  insert_rows_per_second: number;
  ratio: number;
};

/** `identity projections rebuild user-directory` as an operator runs it; its own timing, from its output. */
const cliRebuild = (
  env: Record<string, string>,
  nodeArgs: string[],
): Promise<{ events: number; seconds: number }> =>
  new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [...nodeArgs, 'dist/src/cli.js', 'projections', 'rebuild', 'user-directory'],
      {
        cwd: REPO,
        env: {
          PATH: process.env.PATH,
          HOME: process.env.HOME,
          LOG_LEVEL: 'warn',
          MASTER_KEY: BENCH_MASTER_KEY,
          ...env,
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let out = '';
    child.stdout?.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr?.on('data', (c: Buffer) => (out += c.toString()));
    child.once('exit', (code) => {
      const m = /rebuilt (\d+) events in ([\d.]+) s/.exec(out);
      if (code !== 0 || !m)
        return reject(new Error(`projections rebuild failed (${code}):\n${out.slice(-2000)}`));
      resolve({ events: Number(m[1]), seconds: Number(m[2]) });
    });
  });

/**
 * The user directory rebuilt from `events` events on a store of its own (a scratch database, or a fresh
 * embedded data directory), against a batched raw INSERT of as many rows into a plain table there.
 */
export const rebuildPhase = async (
  backend: 'embedded' | 'postgres',
  events: number,
  log: (line: string) => void,
  nodeArgs: string[] = [],
): Promise<RebuildRow> => {
  const piiWrap = deriveKeys(Buffer.from(BENCH_MASTER_KEY, 'base64')).piiWrap;
  let dir: string | undefined;
  let scratch: Awaited<ReturnType<typeof scratchDatabase>> | undefined;
  let env: Record<string, string>;
  if (backend === 'postgres') {
    scratch = await scratchDatabase(process.env.DATABASE_URL as string);
    env = { DATABASE_URL: scratch.url };
  } else {
    dir = mkdtempSync(path.join(tmpdir(), 'identity-bench-rebuild-'));
    env = { DATA_DIR: dir, DATABASE_URL: '' };
  }
  try {
    const insert = (await runScript('ceilings.ts', ['insert', String(events)], {
      ...(dir ? { BENCH_DATA_DIR: dir } : {}),
      DATABASE_URL: env.DATABASE_URL ?? '',
    })) as { per_second: number };
    log(`raw insert ceiling: ${Math.round(insert.per_second)} rows/s`);

    const sql: SqlClient = scratch
      ? new PgSqlClient({ connectionString: scratch.url })
      : await PgliteSqlClient.open({ dataDir: path.join(dir as string, 'pglite') });
    const seeding = performance.now();
    try {
      await migrate(sql, migrations);
      let reported = 0;
      await seedUserEvents(sql, piiWrap, events, (written) => {
        if (written - reported < 100_000) return;
        reported = written;
        log(`  ${written} events written`);
      });
      // Planner statistics, as autovacuum keeps them in a store that grew by appends. Without them a
      // filtered page read of a freshly loaded table sorts the whole rest of the table per page.
      await sql.query('analyze events');
    } finally {
      await sql.close();
    }
    const seedSeconds = (performance.now() - seeding) / 1000;
    log(`seeded ${events} events in ${seedSeconds.toFixed(1)} s`);
    const rebuilt = await cliRebuild(env, nodeArgs);
    const perSecond = rebuilt.events / rebuilt.seconds;
    return {
      events: rebuilt.events,
      seed_seconds: +seedSeconds.toFixed(1),
      rebuild_seconds: rebuilt.seconds,
      events_per_second: Math.round(perSecond),
      insert_rows_per_second: Math.round(insert.per_second),
      ratio: +(perSecond / insert.per_second).toFixed(3),
    };
  } finally {
    if (dir) rmSync(dir, { recursive: true, force: true });
    await scratch?.drop();
  }
};
