import { Worker } from 'node:worker_threads';
import type { SqlExecutor, SqlResult } from '../../../src/application/sql';
import { migration as idempotencyMigration } from '../../../src/infrastructure/sql/migrations/0003-idempotency';

/**
 * An in-memory PostgreSQL (PGlite) with the idempotency table, until the shared harness exists.
 *
 * PGlite loads its WebAssembly runtime with dynamic `import()`, which jest's module sandbox refuses unless
 * node runs with --experimental-vm-modules. The project runs plain `jest`, so PGlite lives in a worker
 * thread, outside the sandbox, and queries cross over as messages.
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { PGlite } = require(workerData.pglitePath);
const pg = new PGlite();
parentPort.on('message', async ({ id, op, text, params }) => {
  try {
    if (op === 'exec') {
      await pg.exec(text);
      parentPort.postMessage({ id, ok: true });
    } else if (op === 'close') {
      await pg.close();
      parentPort.postMessage({ id, ok: true });
    } else {
      const r = await pg.query(text, params);
      parentPort.postMessage({ id, ok: true, rows: r.rows, rowCount: r.affectedRows ?? r.rows.length });
    }
  } catch (e) {
    parentPort.postMessage({ id, ok: false, message: String(e && e.message), code: e && e.code });
  }
});
`;

type Reply = {
  id: number;
  ok: boolean;
  rows?: unknown[];
  rowCount?: number;
  message?: string;
  code?: string;
};

export type TestSql = SqlExecutor & { exec: (sql: string) => Promise<void>; close: () => Promise<void> };

export const openTestSql = async (): Promise<TestSql> => {
  const worker = new Worker(WORKER_SOURCE, {
    eval: true,
    workerData: { pglitePath: require.resolve('@electric-sql/pglite') },
  });
  const pending = new Map<number, { resolve: (r: Reply) => void; reject: (e: Error) => void }>();
  let nextId = 0;
  worker.on('message', (reply: Reply) => {
    const waiter = pending.get(reply.id);
    pending.delete(reply.id);
    if (!waiter) return;
    if (reply.ok) waiter.resolve(reply);
    else waiter.reject(Object.assign(new Error(reply.message), { code: reply.code }));
  });
  worker.on('error', (e) => {
    for (const waiter of pending.values()) waiter.reject(e);
    pending.clear();
  });
  const call = (op: 'exec' | 'query' | 'close', text = '', params?: readonly unknown[]): Promise<Reply> =>
    new Promise((resolve, reject) => {
      const id = (nextId += 1);
      pending.set(id, { resolve, reject });
      worker.postMessage({ id, op, text, params: params ? [...params] : undefined });
    });

  const sql: TestSql = {
    query: async <R = Record<string, unknown>>(
      text: string,
      params?: readonly unknown[],
    ): Promise<SqlResult<R>> => {
      const reply = await call('query', text, params);
      return { rows: (reply.rows ?? []) as R[], rowCount: reply.rowCount ?? 0 };
    },
    exec: async (text) => void (await call('exec', text)),
    close: async () => {
      await call('close');
      await worker.terminate();
    },
  };
  await sql.exec(idempotencyMigration.sql);
  return sql;
};
