import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { freePort, scratchPostgresDatabase } from '../test/support/local-servers';

export const REPO = path.resolve(__dirname, '..');
const TSX_CLI = require.resolve('tsx/cli');

/** Fixed, so every instance and the seeding in this process derive the same keys. */
export const BENCH_MASTER_KEY = Buffer.alloc(32, 42).toString('base64');

export { freePort };

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Resident set size of a process, from /proc (Linux); null elsewhere. */
export const rssMiB = (pid: number | undefined): number | null => {
  if (pid === undefined) return null;
  try {
    const line = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return line ? Math.round(Number(line[1]) / 1024) : null;
  } catch {
    return null;
  }
};

export const build = (): void => {
  const r = spawnSync('npm', ['run', 'build', '--silent'], { cwd: REPO, stdio: 'inherit' });
  if (r.status !== 0) throw new Error('npm run build failed');
};

/** An empty database on DATABASE_URL's server for one run; dropped afterwards. */
export const scratchDatabase = (serverUrl: string): Promise<{ url: string; drop: () => Promise<void> }> =>
  scratchPostgresDatabase(serverUrl, 'identity_bench_');

export type Child = {
  origin: string;
  pid: number | undefined;
  rss(): number | null;
  stop(): Promise<void>;
};

const stopChild = (child: ChildProcess, timeoutMs = 20_000): Promise<void> =>
  new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    const force = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('exit', () => {
      clearTimeout(force);
      resolve();
    });
    child.kill('SIGTERM');
  });

const waitReady = async (child: ChildProcess, origin: string, what: string, log: () => string) => {
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`${what} exited with ${child.exitCode}:\n${log()}`);
    try {
      const res = await fetch(`${origin}/health/ready`);
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await sleep(200);
  }
  throw new Error(`${what} did not become ready within 120 s:\n${log()}`);
};

export type ServiceOptions = {
  dataDir: string;
  databaseUrl?: string;
  threadpool: number;
  /** Extra node flags, e.g. --cpu-prof. */
  nodeArgs?: string[];
  env?: Record<string, string>;
};

/** `node dist/src/main.js` with the bench's settings; resolves once /health/ready answers 200. */
export const startService = async (options: ServiceOptions): Promise<Child> => {
  const port = await freePort();
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    NODE_ENV: 'production',
    PORT: String(port),
    HOST: '127.0.0.1',
    DATA_DIR: options.dataDir,
    RATE_LIMITS_ENABLED: 'false',
    REQUIRE_VERIFIED_EMAIL: 'false',
    LOG_LEVEL: 'warn',
    MASTER_KEY: BENCH_MASTER_KEY,
    UV_THREADPOOL_SIZE: String(options.threadpool),
    BOOTSTRAP_ADMIN_EMAIL: BENCH_ADMIN_EMAIL,
    ...(options.databaseUrl ? { DATABASE_URL: options.databaseUrl, EVENT_STORE: 'postgres' } : {}),
    ...options.env,
  };
  const child = spawn(process.execPath, [...(options.nodeArgs ?? []), 'dist/src/main.js'], {
    cwd: REPO,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  const keep = (chunk: Buffer) => (log = (log + chunk.toString()).slice(-8_000));
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const origin = `http://127.0.0.1:${port}`;
  try {
    await waitReady(child, origin, 'the service', () => log);
  } catch (e) {
    await stopChild(child);
    throw e;
  }
  return { origin, pid: child.pid, rss: () => rssMiB(child.pid), stop: () => stopChild(child) };
};

export const BENCH_ADMIN_EMAIL = 'bench-admin@example.com';

/** A bench script in a child process (tsx), its JSON answer parsed from the last line of its output. */
export const runScript = (script: string, args: string[], env: Record<string, string>): Promise<unknown> =>
  new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [TSX_CLI, path.join(__dirname, script), ...args], {
      cwd: REPO,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout?.on('data', (c: Buffer) => (out += c.toString()));
    child.once('exit', (code) => {
      if (code !== 0) return reject(new Error(`${script} ${args.join(' ')} exited with ${code}`));
      const last = out.trim().split('\n').pop() ?? '';
      try {
        resolve(JSON.parse(last));
      } catch {
        reject(
          new Error(`${script} ${args.join(' ')}: no JSON answer in ${JSON.stringify(out.slice(-500))}`),
        );
      }
    });
  });

/** The bare express ceiling server as a child process. */
export const startBareServer = async (env: Record<string, string>): Promise<Child> => {
  const child = spawn(process.execPath, [TSX_CLI, path.join(__dirname, 'ceilings.ts'), 'bare-server', '0'], {
    cwd: REPO,
    env: { ...process.env, NODE_ENV: 'production', ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    child.stdout?.on('data', (c: Buffer) => {
      out += c.toString();
      const m = /listening (\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    child.once('exit', (code) => reject(new Error(`bare server exited with ${code}`)));
  });
  return {
    origin: `http://127.0.0.1:${port}`,
    pid: child.pid,
    rss: () => rssMiB(child.pid),
    stop: () => stopChild(child),
  };
};
