import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { SqlExecutor } from '../../src/application/sql';
import { commands } from '../../src/cli/commands';
import { loadConfig } from '../../src/infrastructure/config';
import { PgliteSqlClient } from '../../src/infrastructure/sql/pglite-client';
import { testBackends } from '../support/databases';

const MASTER_KEY = Buffer.alloc(32, 9).toString('base64');

const keysRotate = () => {
  const command = commands.find((c) => c.name === 'keys rotate');
  if (!command) throw new Error('`keys rotate` is not a CLI command');
  return command;
};

/** Runs the command and returns its exit code and what it printed. */
const run = async (env: Record<string, string>): Promise<{ code: number; out: string }> => {
  const printed: string[] = [];
  const spy = jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    printed.push(String(chunk));
    return true;
  });
  try {
    const code = await keysRotate().run([], loadConfig({ LOG_LEVEL: 'silent', MASTER_KEY, ...env }));
    return { code, out: printed.join('') };
  } finally {
    spy.mockRestore();
  }
};

const signingKeys = async (sql: SqlExecutor) =>
  (
    await sql.query<{ kid: string; retired: boolean }>(
      'select kid, retired_at is not null as retired from signing_keys order by created_at',
    )
  ).rows;

/** What `identity keys rotate` leaves behind: a new signing key, and the old one retired, not deleted. */
const expectRotated = async (sql: SqlExecutor, out: string): Promise<void> => {
  const kid = /new kid: ([A-Za-z0-9_-]{43})/.exec(out)?.[1];
  expect(kid).toBeDefined();
  const keys = await signingKeys(sql);
  expect(keys).toHaveLength(2);
  expect(keys.filter((k) => !k.retired).map((k) => k.kid)).toEqual([kid]);
};

for (const backend of testBackends()) {
  describe(`identity keys rotate (${backend.name})`, () => {
    it('adds a signing key and retires the current one', async () => {
      if (backend.name === 'postgres') {
        const db = await backend.open();
        try {
          const result = await run({ EVENT_STORE: 'postgres', DATABASE_URL: db.connectionString ?? '' });
          expect(result.code).toBe(0);
          await expectRotated(db.sql, result.out);
        } finally {
          await db.close();
        }
        return;
      }
      const dataDir = mkdtempSync(path.join(os.tmpdir(), 'identity-cli-'));
      try {
        const result = await run({ EVENT_STORE: 'embedded', DATA_DIR: dataDir });
        expect(result.code).toBe(0);
        const sql = await PgliteSqlClient.open({ dataDir: path.join(dataDir, 'pglite') });
        try {
          await expectRotated(sql, result.out);
        } finally {
          await sql.close();
        }
      } finally {
        rmSync(dataDir, { recursive: true, force: true });
      }
    }, 60_000);
  });
}
