/**
 * The ceilings each service row is compared with, run in a process of their own so nothing else shares
 * their event loop or libuv pool (run.ts starts them one at a time, never while the service is loaded):
 *
 *   tsx bench/ceilings.ts argon2 <verify|hash> <concurrency> <seconds>   -> one JSON line
 *   tsx bench/ceilings.ts bare-server <port>                              -> "listening <port>", then serves
 *   tsx bench/ceilings.ts insert <rows>                                   -> one JSON line
 *
 * argon2 runs at the service's parameters (ARGON2_* as the service reads them, OWASP floor by default) with
 * the same UV_THREADPOOL_SIZE as the service. The store is PostgreSQL at DATABASE_URL when set, otherwise
 * PGlite in BENCH_DATA_DIR, as the service would use it.
 */
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { argon2id, hash, verify } from 'argon2';
import express from 'express';
import type { SqlClient } from '../src/application/sql';
import { PgSqlClient } from '../src/infrastructure/sql/pg-client';
import { PgliteSqlClient } from '../src/infrastructure/sql/pglite-client';
import { summarise } from './stats';

const argon2Params = () => ({
  type: argon2id as typeof argon2id,
  memoryCost: Number(process.env.ARGON2_MEMORY_KIB ?? 19456),
  timeCost: Number(process.env.ARGON2_TIME_COST ?? 2),
  parallelism: Number(process.env.ARGON2_PARALLELISM ?? 1),
});

const openSql = async (): Promise<SqlClient> => {
  if (process.env.DATABASE_URL) return new PgSqlClient({ connectionString: process.env.DATABASE_URL });
  const dir = process.env.BENCH_DATA_DIR;
  if (!dir) throw new Error('BENCH_DATA_DIR or DATABASE_URL is required');
  return PgliteSqlClient.open({ dataDir: path.join(dir, 'pglite') });
};

const argon2Ceiling = async (mode: string, concurrency: number, seconds: number) => {
  const params = argon2Params();
  const password = 'correct horse battery staple';
  const stored = await hash(password, params);
  const work = mode === 'hash' ? () => hash(password, params) : () => verify(stored, password);
  await Promise.all(Array.from({ length: concurrency }, () => work()));
  const latencies: number[] = [];
  const started = performance.now();
  const until = started + seconds * 1000;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < until) {
        const t = performance.now();
        await work();
        latencies.push(performance.now() - t);
      }
    }),
  );
  return summarise(latencies, (performance.now() - started) / 1000, 0);
};

const FIXED_BODY = {
  id: '5f0c1d3e-8a4b-4c1e-9d2f-0a1b2c3d4e5f',
  email: 'someone@example.com',
  username: 'Someone',
  email_verified: true,
  roles: ['user'],
  created_at: '2025-01-01T00:00:00.000Z',
};

/** A session row read by primary key and one event appended, in one transaction: refresh without the rules. */
const bareServer = async (port: number) => {
  const sql = await openSql();
  await sql.query(`create table if not exists bare_sessions (id uuid primary key, revision bigint not null,
    refresh_token_hash text not null)`);
  await sql.query(`create table if not exists bare_events (position bigint generated always as identity
    primary key, stream_id text not null, revision bigint not null, type text not null, data jsonb not null,
    unique (stream_id, revision))`);
  const app = express();
  app.disable('x-powered-by');
  app.use(express.json());
  app.get('/fixed', (_req, res) => {
    res.setHeader('Cache-Control', 'no-store');
    res.json(FIXED_BODY);
  });
  app.post('/session', async (_req, res) => {
    const id = randomUUID();
    await sql.query('insert into bare_sessions (id, revision, refresh_token_hash) values ($1, 0, $2)', [
      id,
      'x'.repeat(64),
    ]);
    res.json({ id });
  });
  app.post('/refresh', async (req, res) => {
    const id = String((req.body as { id?: unknown }).id);
    const revision = await sql.transaction(async (tx) => {
      const { rows } = await tx.query<{ revision: string }>(
        'select revision from bare_sessions where id = $1 for update',
        [id],
      );
      const next = Number(rows[0]?.revision ?? 0) + 1;
      await tx.query(
        `insert into bare_events (stream_id, revision, type, data) values ($1, $2, 'RefreshTokenRotated', $3)`,
        [`session-${id}`, next, JSON.stringify({ generation: next, at: new Date().toISOString() })],
      );
      await tx.query('update bare_sessions set revision = $2 where id = $1', [id, next]);
      return next;
    });
    res.json({ revision });
  });
  const server = app.listen(port, '127.0.0.1', () => {
    const address = server.address();
    process.stdout.write(`listening ${typeof address === 'object' && address ? address.port : port}\n`);
  });
  const stop = () => server.close(() => void sql.close().then(() => process.exit(0)));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
};

/** The same number of rows as the rebuild applies, in the user directory's shape, 1,000 per statement. */
const insertCeiling = async (rows: number) => {
  const sql = await openSql();
  try {
    await sql.query('drop table if exists bare_directory');
    await sql.query(`create table bare_directory (id uuid primary key, email text, username text,
      status text not null, roles text[] not null, email_verified boolean not null, failed_logins int not null,
      created_at timestamptz not null, updated_at timestamptz not null, revision bigint not null)`);
    const batch = 1000;
    const started = performance.now();
    for (let done = 0; done < rows; done += batch) {
      const n = Math.min(batch, rows - done);
      const ids = Array.from({ length: n }, () => randomUUID());
      const emails = ids.map((_, i) => `user${done + i}@example.com`);
      const names = ids.map((_, i) => `User ${done + i}`);
      const at = new Date().toISOString();
      await sql.transaction((tx) =>
        tx.query(
          `insert into bare_directory (id, email, username, status, roles, email_verified, failed_logins,
             created_at, updated_at, revision)
           select id, email, username, 'active', array['user'], true, 0, $4, $4, 7
           from unnest($1::uuid[], $2::text[], $3::text[]) as r(id, email, username)`,
          [ids, emails, names, at],
        ),
      );
    }
    const seconds = (performance.now() - started) / 1000;
    await sql.query('drop table bare_directory');
    return { rows, seconds, per_second: rows / seconds };
  } finally {
    await sql.close();
  }
};

const main = async () => {
  const [what, a, b, c] = process.argv.slice(2);
  if (what === 'argon2') {
    const r = await argon2Ceiling(a ?? 'verify', Number(b ?? 4), Number(c ?? 5));
    process.stdout.write(`${JSON.stringify(r)}\n`);
  } else if (what === 'bare-server') {
    await bareServer(Number(a ?? 0));
  } else if (what === 'insert') {
    process.stdout.write(`${JSON.stringify(await insertCeiling(Number(a ?? 50_000)))}\n`);
  } else {
    throw new Error(`unknown ceiling "${what}"`);
  }
};

main().catch((e: unknown) => {
  process.stderr.write(`${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
