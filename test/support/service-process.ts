/**
 * The real service as a child process (`node -r tsx/cjs src/main.ts`), for tests that kill it, stop what
 * it stands on, or signal it: what an operator's process manager does, not what a test double can show.
 *
 *   const svc = new ServiceProcess({ dataDir: await freshDataDir(), env: { BOOTSTRAP_ADMIN_EMAIL: ... } });
 *   await svc.start();
 *   const answer = await svc.call('POST', '/v1/auth/register', { email, password });
 *   await svc.kill('SIGKILL'); await svc.start();     // same DATA_DIR / DATABASE_URL
 *   await svc.terminate();                            // SIGTERM, resolves with the exit code
 *
 * The child listens on a port of its own choosing (PORT=0) and the port is read from its start-up log line,
 * so restarts never race another process for a fixed port. Calls made while it is down wait for the next
 * start; a call whose connection dies answers `{ kind: 'lost' }`: the client cannot know whether it ran.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PgliteSqlClient } from '../../src/infrastructure/sql/pglite-client';
import { TEST_DATABASE_PREFIX, pgliteTemplatePath } from './databases';
import { freePort, scratchPostgresDatabase } from './local-servers';

const REPO = path.resolve(__dirname, '../..');
const TSX = require.resolve('tsx/cjs');
const START_TIMEOUT_MS = 60_000;
const LOG_LINES_KEPT = 300;

export const TEST_MASTER_KEY = Buffer.alloc(32, 7).toString('base64');
export const TEST_PUBLIC_URL = 'http://identity.test';

export type Answer = { kind: 'answer'; status: number; headers: Headers; body: unknown; text: string };
export type Lost = { kind: 'lost'; error: string };
export type Outcome = Answer | Lost;

export type Exit = { code: number | null; signal: NodeJS.Signals | null };

/**
 * A data directory for one service. With `seed`, the embedded store starts from the migrated template that
 * global-setup.ts builds (~2 s instead of ~8 s for a fresh PGlite): the state a first start leaves behind.
 */
export const freshDataDir = async (options: { seed?: boolean } = {}): Promise<string> => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'identity-fault-'));
  const template = pgliteTemplatePath();
  if (options.seed !== false && existsSync(template)) {
    const sql = await PgliteSqlClient.open({
      dataDir: path.join(dir, 'pglite'),
      loadDataDir: new Blob([readFileSync(template)]),
    });
    await sql.close();
  }
  return dir;
};

/**
 * An empty database on the server at `serverUrl` (named like databases.ts names them, so global-setup
 * drops one an interrupted run left behind). The service migrates it on its first start.
 */
export const createPostgresDatabase = (
  serverUrl: string,
): Promise<{ url: string; drop: () => Promise<void> }> =>
  scratchPostgresDatabase(serverUrl, TEST_DATABASE_PREFIX);

type Deferred = { promise: Promise<void>; resolve: () => void; reject: (e: Error) => void };
const deferred = (): Deferred => {
  let resolve = (): void => undefined;
  let reject = (_e: Error): void => undefined;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  // Nobody may be waiting when it fails.
  promise.catch(() => undefined);
  return { promise, resolve, reject };
};

export type ServiceOptions = {
  dataDir: string;
  /** Added to the base environment below; `DATABASE_URL` switches the service to PostgreSQL. */
  env?: Record<string, string>;
};

export class ServiceProcess {
  private child: ChildProcess | null = null;
  private exit: Promise<Exit> | null = null;
  private up: Deferred = deferred();
  private base = '';
  private readonly lines: string[] = [];
  /** Exits nobody asked for: the service died by itself. */
  readonly crashes: Exit[] = [];
  private stopping = false;

  constructor(private readonly options: ServiceOptions) {}

  get url(): string {
    return this.base;
  }

  /** The last lines the child wrote (its JSON log and stderr), for a failing test's message. */
  logTail(lines = 60): string {
    return this.lines.slice(-lines).join('\n');
  }

  /** Starts the child and resolves once it listens; rejects if it exits first or takes too long. */
  async start(): Promise<void> {
    if (this.child) throw new Error('the service is already running');
    this.stopping = false;
    const child = spawn(process.execPath, ['-r', TSX, 'src/main.ts'], {
      cwd: REPO,
      env: {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        HOME: process.env.HOME ?? os.tmpdir(),
        TMPDIR: os.tmpdir(),
        DATA_DIR: this.options.dataDir,
        PORT: '0',
        HOST: '127.0.0.1',
        LOG_LEVEL: 'info',
        RATE_LIMITS_ENABLED: 'false',
        PUBLIC_URL: TEST_PUBLIC_URL,
        MASTER_KEY: TEST_MASTER_KEY,
        ...this.options.env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    const listening = new Promise<number>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error('the service did not start in time')),
        START_TIMEOUT_MS,
      );
      const onLine = (line: string) => {
        this.keep(line);
        if (!line.includes('identity service listening')) return;
        try {
          const port = (JSON.parse(line) as { port?: unknown }).port;
          if (typeof port === 'number') {
            clearTimeout(timer);
            resolve(port);
          }
        } catch {
          /* not a log line of ours */
        }
      };
      readLines(child.stdout, onLine);
      readLines(child.stderr, (line) => this.keep(line));
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`the service exited during start-up (code ${code}, signal ${signal})`));
      });
    });
    this.exit = new Promise<Exit>((resolve) =>
      child.once('exit', (code, signal) => {
        const exit = { code, signal };
        if (this.child === child) this.child = null;
        if (!this.stopping) {
          this.crashes.push(exit);
          // Calls waiting for the service would otherwise wait for a start nobody will make.
          this.up.reject(new Error(`the service exited by itself (code ${code}, signal ${signal})`));
          this.up = deferred();
        }
        resolve(exit);
      }),
    );
    try {
      const port = await listening;
      this.base = `http://127.0.0.1:${port}`;
      this.up.resolve();
    } catch (e) {
      this.stopping = true;
      child.kill('SIGKILL');
      await this.exit;
      throw new Error(`${(e as Error).message}\n${this.logTail()}`);
    }
  }

  /** Sends `signal` and resolves with the exit; calls made from now on wait for the next start. */
  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<Exit> {
    const child = this.child;
    const exit = this.exit;
    if (!child || !exit) throw new Error('the service is not running');
    this.stopping = true;
    this.up = deferred();
    child.kill(signal);
    return exit;
  }

  /** SIGTERM: the graceful shutdown of src/main.ts. */
  terminate(): Promise<Exit> {
    return this.kill('SIGTERM');
  }

  /** Stops whatever is still running (afterAll), without waiting for a graceful end. */
  async dispose(): Promise<void> {
    if (this.child) await this.kill('SIGKILL');
  }

  whenUp(): Promise<void> {
    return this.up.promise;
  }

  /**
   * One HTTP exchange. Waits while the service is down; a connection that fails or dies before the answer
   * is `lost`. Never throws for the network, so a load driver can record what each call did.
   */
  async call(
    method: string,
    route: string,
    body?: unknown,
    headers: Record<string, string> = {},
    timeoutMs = 20_000,
  ): Promise<Outcome> {
    try {
      await this.whenUp();
      const res = await fetch(`${this.base}${route}`, {
        method,
        headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(timeoutMs),
      });
      const text = await res.text();
      let parsed: unknown = undefined;
      try {
        parsed = text ? JSON.parse(text) : undefined;
      } catch {
        parsed = undefined;
      }
      return { kind: 'answer', status: res.status, headers: res.headers, body: parsed, text };
    } catch (e) {
      const cause = (e as { cause?: { code?: string; message?: string } }).cause;
      return { kind: 'lost', error: cause?.code ?? cause?.message ?? (e as Error).message };
    }
  }

  private keep(line: string): void {
    this.lines.push(line);
    if (this.lines.length > LOG_LINES_KEPT) this.lines.splice(0, this.lines.length - LOG_LINES_KEPT);
  }
}

const readLines = (stream: NodeJS.ReadableStream | null, onLine: (line: string) => void): void => {
  if (!stream) return;
  let rest = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    const parts = (rest + chunk).split('\n');
    rest = parts.pop() ?? '';
    for (const line of parts) if (line) onLine(line);
  });
};

/** The answer when it has `status`; otherwise throws with what came instead (for a test's set-up steps). */
export const expectAnswer = async (outcome: Promise<Outcome>, status: number): Promise<Answer> => {
  const a = await outcome;
  if (a.kind !== 'answer' || a.status !== status)
    throw new Error(`expected ${status}, got ${a.kind === 'answer' ? `${a.status} ${a.text}` : a.error}`);
  return a;
};

export const bearer = (token: string): Record<string, string> => ({ authorization: `Bearer ${token}` });

/** A port nothing listens on right now, for a server a test starts and restarts on the same port. */
export { freePort };

/** Removes a data directory made by freshDataDir. */
export const removeDataDir = (dir: string): void => rmSync(dir, { recursive: true, force: true });
