/**
 * A throwaway PostgreSQL server of the machine's own binaries, in a temporary directory on a free port: a
 * test may stop it (`-m immediate`, as a crash or an operator would) without touching the shared server
 * that every other test file uses at the same time. About a second to create, a fraction to restart.
 *
 *   const pgsrv = await startPrivatePostgres();   // null when the binaries are not installed
 *   await pgsrv.stop(); ...; await pgsrv.start();
 *   await pgsrv.destroy();
 *
 * PostgreSQL refuses to run as root; as root the commands run as the `postgres` user.
 */
import { execFile } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './service-process';

const run = promisify(execFile);

export type PrivatePostgres = {
  /** `postgres://postgres@127.0.0.1:<port>/postgres` (trust authentication, local only). */
  url: string;
  /** `pg_ctl stop -m immediate`: every backend ends at once, as in a crash. */
  stop: () => Promise<void>;
  start: () => Promise<void>;
  /** Stops the server if it runs and removes its directory; safe to call twice. */
  destroy: () => Promise<void>;
};

/** `PG_BINDIR`, or the newest /usr/lib/postgresql/<version>/bin (Debian's layout), or null. */
export const postgresBinDir = (): string | null => {
  const candidates = process.env.PG_BINDIR ? [process.env.PG_BINDIR] : [];
  const root = '/usr/lib/postgresql';
  if (existsSync(root)) {
    const versions = readdirSync(root)
      .filter((v) => /^\d+$/.test(v))
      .sort((a, b) => Number(b) - Number(a));
    candidates.push(...versions.map((v) => path.join(root, v, 'bin')));
  }
  return candidates.find((dir) => existsSync(path.join(dir, 'pg_ctl'))) ?? null;
};

export const startPrivatePostgres = async (): Promise<PrivatePostgres | null> => {
  const bin = postgresBinDir();
  if (!bin) return null;
  const asRoot = process.getuid?.() === 0;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'identity-pg-'));
  const data = path.join(dir, 'data');
  const as = async (tool: string, args: string[]): Promise<void> => {
    const [file, argv] = asRoot
      ? ['runuser', ['-u', 'postgres', '--', path.join(bin, tool), ...args]]
      : [path.join(bin, tool), args];
    await run(file, argv, { timeout: 60_000 });
  };
  if (asRoot) {
    const ids = await run('id', ['-u', 'postgres']).then(
      async (u) => [Number(u.stdout), Number((await run('id', ['-g', 'postgres'])).stdout)] as const,
    );
    chownSync(dir, ids[0], ids[1]);
  }
  const port = await freePort();
  const options = [
    `-p ${port}`,
    `-k ${dir}`,
    '-c listen_addresses=127.0.0.1',
    // A test server: durability against a power cut is not what is being tested.
    '-c fsync=off',
    '-c full_page_writes=off',
  ].join(' ');
  const start = () =>
    as('pg_ctl', ['-D', data, '-l', path.join(dir, 'server.log'), '-o', options, '-w', 'start']);
  const stop = () => as('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']);
  try {
    await as('initdb', ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-sync']);
    await start();
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    stop,
    start,
    destroy: async () => {
      if (existsSync(path.join(data, 'postmaster.pid'))) await stop().catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
    },
  };
};
