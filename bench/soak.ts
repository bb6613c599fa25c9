/**
 * Soak: the built service on PostgreSQL under mixed traffic for N minutes while its connections are cut
 * and the process itself is killed, as a restarting or failing-over database and a crashing host do.
 *
 *   DATABASE_URL=postgres://... npx tsx bench/soak.ts --minutes=2 [--workers=12] [--reset-every=10]
 *   const { result, summary } = await runSoak({ minutes: 2 });   // from another bench script
 *
 * Clients register and sign in, sign in again, and rotate refresh tokens in closed loops. The service's
 * DATABASE_URL goes through a TCP relay of this process: every `resetEverySeconds` the relay is killed
 * (every connection destroyed, new ones refused for a moment) or the server ends the service's backends
 * (`pg_terminate_backend`), and once a minute the service gets `kill -9` and is started again on the same
 * database. After each fault a probe signs in until it works: that is the recovery time.
 *
 * What must hold: no 5xx but 503 `unavailable`, no connection dropped except by a kill -9, no exit nobody
 * asked for, and no acknowledged command lost (checked once the run is over: every registration that got
 * 202 signs in, every session that got tokens is alive, every rotation's newest refresh token rotates).
 * Standalone, the exit code is 1 when any of that failed.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { TcpProxy } from '../test/support/tcp-proxy';
import { Clients, type Call } from './http-load';
import { build, scratchDatabase, sleep, startService, type Child } from './processes';
import { percentile } from './stats';

export type SoakOptions = {
  minutes: number;
  /** The server a scratch database is created on for the run (dropped afterwards); DATABASE_URL by default. */
  databaseUrl?: string;
  /** Closed-loop clients, split evenly between register+login, login and refresh. Default 12. */
  workers?: number;
  /** Seconds between connection resets (a kill -9 takes the slot at second 30 of every minute). Default 10. */
  resetEverySeconds?: number;
  /** Runs `npm run build` first (the soak runs dist/). Default true. */
  build?: boolean;
  /** Progress lines; stderr by default. */
  log?: (line: string) => void;
};

export type FaultKind = 'relay-killed' | 'backends-terminated' | 'kill-9';

export type FaultRecord = {
  kind: FaultKind;
  /** Seconds into the run. */
  at_s: number;
  /** How long the fault itself lasted (the relay down; 0 for a termination or a kill -9). */
  outage_ms: number;
  /** From the end of the fault to the first sign-in that worked; null if none did within 60 s. */
  recovery_ms: number | null;
  /** Backends the server ended (backends-terminated). */
  terminated?: number;
};

export type SoakResult = {
  minutes: number;
  workers: number;
  requests: number;
  /** Answers by status; `lost` for a call whose connection failed or died. */
  by_status: Record<string, number>;
  /** 5xx other than 503, and 503s that are not the `unavailable` problem. Must be 0. */
  server_errors: number;
  server_error_samples: string[];
  unavailable: number;
  /** Calls whose connection died while no kill -9 was under way. Must be 0. */
  lost_outside_kills: number;
  /** Service exits nobody asked for (it was started again each time). Must be 0. */
  crashes: number;
  acknowledged: { registrations: number; logins: number; rotations: number };
  /** Acknowledged commands not there after the run. Must be 0. */
  acknowledged_lost: number;
  acknowledged_lost_samples: string[];
  faults: FaultRecord[];
  recovery_ms: { p50: number | null; max: number | null; reset_max: number | null; kill_max: number | null };
};

export type SoakReport = { result: SoakResult; summary: string };

type Outcome = { kind: 'answer'; status: number; body: unknown } | { kind: 'lost'; error: string };
type Tokens = { access_token: string; refresh_token: string };

const PASSWORD = 'soak password that is long enough';
/** The service's application_name (src/infrastructure/sql/pg-client.ts): how its backends are found. */
const APPLICATION_NAME = 'identity';
const THREADPOOL = 4;
const SAMPLES = 10;

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

const forEachLimit = async <T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> => {
  let next = 0;
  await Promise.all(
    Array.from({ length: limit }, async () => {
      while (next < items.length) await fn(items[next++] as T);
    }),
  );
};

/** The service child, killed and started again on the same database; calls made meanwhile wait for it. */
class SoakService {
  private child: Child | null = null;
  private clients: Clients | null = null;
  private restarting: Promise<void> | null = null;
  private generation = 0;
  private killing = false;
  crashes = 0;
  lostOutsideKills = 0;

  constructor(
    private readonly start: () => Promise<Child>,
    private readonly connections: number,
    private readonly log: (line: string) => void,
  ) {}

  /** Starts the service; a start that fails (the database unreachable at that moment) is tried again. */
  async up(): Promise<void> {
    const deadline = performance.now() + 60_000;
    for (;;) {
      try {
        this.child = await this.start();
        break;
      } catch (e) {
        if (performance.now() > deadline) throw e;
        this.log(`the service did not start (${(e as Error).message.split('\n')[0]}); trying again`);
        await sleep(500);
      }
    }
    this.clients = new Clients([this.child.origin], this.connections);
    this.generation += 1;
  }

  /** SIGKILL, then a start on the same data; resolves once the new process is ready. */
  kill9(): Promise<void> {
    return this.restart('kill -9');
  }

  /** An exit nobody asked for: counted, and the service started again so the run goes on. */
  async watch(): Promise<void> {
    const pid = this.child?.pid;
    if (this.restarting || pid === undefined) return;
    try {
      process.kill(pid, 0);
    } catch {
      this.crashes += 1;
      this.log(`the service (pid ${pid}) exited by itself; starting it again`);
      await this.restart(null);
    }
  }

  private restart(signal: 'kill -9' | null): Promise<void> {
    if (this.restarting) return this.restarting;
    this.killing = signal !== null;
    const child = this.child;
    const clients = this.clients;
    this.restarting = (async () => {
      if (child?.pid !== undefined && signal) process.kill(child.pid, 'SIGKILL');
      await child?.stop();
      void clients?.close().catch(() => undefined);
      await this.up();
    })().finally(() => {
      this.restarting = null;
      this.killing = false;
    });
    return this.restarting;
  }

  async call(call: Call, worker = 0): Promise<Outcome> {
    while (this.restarting) await this.restarting.catch(() => undefined);
    const clients = this.clients as Clients;
    const generation = this.generation;
    try {
      const a = await clients.call(call, worker);
      return { kind: 'answer', status: a.status, body: a.body };
    } catch (e) {
      if (!this.killing && generation === this.generation) this.lostOutsideKills += 1;
      const cause = (e as { code?: string; cause?: { code?: string } }).cause?.code;
      return { kind: 'lost', error: cause ?? (e as { code?: string }).code ?? (e as Error).message };
    }
  }

  async stop(): Promise<void> {
    while (this.restarting) await this.restarting.catch(() => undefined);
    await this.child?.stop();
    await this.clients?.close().catch(() => undefined);
  }
}

export const runSoak = async (options: SoakOptions): Promise<SoakReport> => {
  const log = options.log ?? ((line: string) => void process.stderr.write(`soak: ${line}\n`));
  const serverUrl = options.databaseUrl ?? process.env.DATABASE_URL;
  if (!serverUrl) throw new Error('the soak runs on PostgreSQL: set DATABASE_URL');
  const minutes = options.minutes;
  if (!(minutes > 0)) throw new Error('minutes must be positive');
  const workers = Math.max(3, options.workers ?? 12);
  const resetEvery = options.resetEverySeconds ?? 10;
  const durationMs = minutes * 60_000;
  if (options.build ?? true) build();

  const cleanups: (() => Promise<unknown> | void)[] = [];
  try {
    const db = await scratchDatabase(serverUrl);
    cleanups.push(db.drop);
    const proxy = await TcpProxy.forUrl(db.url);
    cleanups.push(() => proxy.close());
    const admin = new pg.Client({ connectionString: db.url, application_name: 'identity-soak' });
    admin.on('error', () => undefined);
    await admin.connect();
    cleanups.push(() => admin.end());
    const dataDir = mkdtempSync(path.join(tmpdir(), 'identity-soak-'));
    cleanups.push(() => rmSync(dataDir, { recursive: true, force: true }));

    const service = new SoakService(
      () =>
        startService({
          dataDir,
          databaseUrl: proxy.rewrite(db.url),
          threadpool: THREADPOOL,
          // A rotation whose answer a fault swallowed is retried with the same parent; the grace window
          // answers it with the current successor even across a restart.
          // A fixed PUBLIC_URL: the issuer of access tokens defaults to it, and each start gets a new port,
          // so tokens issued before a kill -9 would otherwise fail the `iss` check after it.
          env: { REFRESH_REUSE_GRACE_SECONDS: '120', PUBLIC_URL: 'http://identity.soak' },
        }),
      workers + 2,
      log,
    );
    cleanups.push(() => service.stop());
    await service.up();

    const byStatus = new Map<string, number>();
    const serverErrors: string[] = [];
    let serverErrorCount = 0;
    /** Every answer counted; a 5xx that is not the `unavailable` 503 is a failure of the service. */
    const call = async (what: string, c: Call, worker = 0): Promise<Outcome> => {
      const a = await service.call(c, worker);
      const key = a.kind === 'answer' ? String(a.status) : 'lost';
      byStatus.set(key, (byStatus.get(key) ?? 0) + 1);
      if (a.kind === 'answer' && a.status >= 500) {
        const problem = (a.body as { code?: string } | null)?.code;
        if (a.status !== 503 || problem !== 'unavailable') {
          serverErrorCount += 1;
          if (serverErrors.length < SAMPLES)
            serverErrors.push(`${what}: ${a.status} ${JSON.stringify(a.body)}`);
        }
      }
      return a;
    };
    const answered = (a: Outcome, status: number): boolean => a.kind === 'answer' && a.status === status;
    const tokensOf = (a: Outcome): Tokens => (a.kind === 'answer' ? a.body : {}) as Tokens;
    const register = (email: string, w = 0) =>
      call('register', { method: 'POST', path: '/v1/auth/register', body: { email, password: PASSWORD } }, w);
    const login = (email: string, w = 0) =>
      call('login', { method: 'POST', path: '/v1/auth/login', body: { email, password: PASSWORD } }, w);
    const refresh = (token: string, w = 0) =>
      call('refresh', { method: 'POST', path: '/v1/auth/refresh', body: { refresh_token: token } }, w);

    const tag = Date.now().toString(36);
    let emails = 0;
    const newEmail = (kind: string) => `soak-${tag}-${kind}-${(emails += 1)}@example.com`;
    const signUp = async (kind: string): Promise<{ email: string; tokens: Tokens }> => {
      const email = newEmail(kind);
      if (!answered(await register(email), 202)) throw new Error(`could not register ${email}`);
      const a = await login(email);
      if (!answered(a, 200)) throw new Error(`could not sign in ${email}`);
      return { email, tokens: tokensOf(a) };
    };

    const each = Math.floor(workers / 3);
    const probe = await signUp('probe');
    const loginAccounts = await Promise.all(Array.from({ length: each }, () => signUp('login')));
    const rotating = (
      await Promise.all(Array.from({ length: workers - 2 * each }, () => signUp('refresh')))
    ).map((s) => ({ email: s.email, refresh: s.tokens.refresh_token }));

    // The ledger: what the service acknowledged.
    const registrations: string[] = [];
    const sessions: { email: string; access: string }[] = [];
    let rotations = 0;
    const lostAcks: string[] = [];
    let lostAckCount = 0;
    const ackLost = (what: string) => {
      lostAckCount += 1;
      if (lostAcks.length < SAMPLES) lostAcks.push(what);
    };

    const started = performance.now();
    const stopAt = started + durationMs;
    const running = () => performance.now() < stopAt;
    const pause = (a: Outcome) => (a.kind === 'lost' || answered(a, 503) ? sleep(100) : Promise.resolve());

    const registerWorker = async (w: number) => {
      while (running()) {
        const email = newEmail('reg');
        const r = await register(email, w);
        if (!answered(r, 202)) {
          await pause(r);
          continue;
        }
        registrations.push(email);
        const a = await login(email, w);
        if (answered(a, 200)) sessions.push({ email, access: tokensOf(a).access_token });
        else await pause(a);
      }
    };
    const loginWorker = async (w: number) => {
      const email = (loginAccounts[w] as { email: string }).email;
      while (running()) {
        const a = await login(email, w);
        if (answered(a, 200)) sessions.push({ email, access: tokensOf(a).access_token });
        else await pause(a);
      }
    };
    const refreshWorker = async (w: number) => {
      const session = rotating[w] as { email: string; refresh: string };
      while (running()) {
        // A rotation left unanswered may have happened: the same parent is retried until one is answered.
        const a = await refresh(session.refresh, w);
        if (answered(a, 200)) {
          session.refresh = tokensOf(a).refresh_token;
          rotations += 1;
        } else if (a.kind === 'answer' && a.status !== 503) {
          // The newest acknowledged token was refused: that rotation's session is gone.
          ackLost(`rotation of ${session.email}: ${a.status} ${JSON.stringify(a.body)}`);
          const again = await login(session.email, w);
          if (answered(again, 200)) session.refresh = tokensOf(again).refresh_token;
        } else await pause(a);
      }
    };

    /** From now until a sign-in works: the recovery time of the fault that just ended. */
    const recovery = async (): Promise<number | null> => {
      const from = performance.now();
      while (performance.now() - from < 60_000) {
        if (answered(await login(probe.email, workers + 1), 200)) return Math.round(performance.now() - from);
        await sleep(50);
      }
      return null;
    };

    // The plan: a kill -9 at second 30 of each minute, a connection reset every `resetEvery` seconds
    // otherwise, alternating the relay (down briefly or for longer) and the server ending the backends.
    const kills = Array.from({ length: Math.ceil(minutes) }, (_, m) => (m * 60 + 30) * 1000).filter(
      (t) => t < durationMs - 5_000,
    );
    const resets: number[] = [];
    for (let t = resetEvery * 1000; t < durationMs - 3_000; t += resetEvery * 1000)
      if (kills.every((k) => Math.abs(k - t) >= 5_000)) resets.push(t);
    const plan = [
      ...kills.map((at) => ({ at, kind: 'kill-9' as FaultKind })),
      ...resets.map((at, i) => ({
        at,
        kind: (i % 2 === 0 ? 'relay-killed' : 'backends-terminated') as FaultKind,
      })),
    ].sort((a, b) => a.at - b.at);

    const faults: FaultRecord[] = [];
    const faulting = (async () => {
      let relayKills = 0;
      for (const step of plan) {
        const wait = started + step.at - performance.now();
        if (wait > 0) await sleep(wait);
        if (!running()) break;
        const at_s = Math.round((performance.now() - started) / 100) / 10;
        const record: FaultRecord = { kind: step.kind, at_s, outage_ms: 0, recovery_ms: null };
        if (step.kind === 'relay-killed') {
          const down = (relayKills += 1) % 2 === 1 ? 300 : 1_500;
          await proxy.kill();
          await sleep(down);
          await proxy.restart();
          record.outage_ms = down;
        } else if (step.kind === 'backends-terminated') {
          const r = await admin.query(
            `select pg_terminate_backend(pid) from pg_stat_activity
             where datname = current_database() and application_name = $1 and pid <> pg_backend_pid()`,
            [APPLICATION_NAME],
          );
          record.terminated = r.rowCount ?? 0;
        } else {
          const from = performance.now();
          await service.kill9();
          const rest = await recovery();
          record.recovery_ms = rest === null ? null : Math.round(performance.now() - from);
          faults.push(record);
          log(`${at_s}s kill -9: serving again after ${record.recovery_ms} ms`);
          continue;
        }
        record.recovery_ms = await recovery();
        faults.push(record);
        log(
          `${at_s}s ${step.kind}${record.terminated !== undefined ? ` (${record.terminated} backends)` : ''}` +
            `${record.outage_ms ? ` for ${record.outage_ms} ms` : ''}: serving again after ${record.recovery_ms} ms`,
        );
      }
    })();
    const watching = (async () => {
      while (running()) {
        await service.watch();
        await sleep(500);
      }
    })();

    log(
      `${minutes} min of ${workers} clients; ${kills.length} kill -9 and ${resets.length} connection resets`,
    );
    await Promise.all([
      faulting,
      watching,
      ...Array.from({ length: each }, (_, w) => registerWorker(w)),
      ...Array.from({ length: each }, (_, w) => loginWorker(w)),
      ...Array.from({ length: workers - 2 * each }, (_, w) => refreshWorker(w)),
    ]);
    await proxy.restart();
    await service.watch();

    // The ledger against what the service answers now, retried while it says 503.
    log(
      `checking ${registrations.length} registrations, ${sessions.length} sessions, ${rotating.length} rotations`,
    );
    const settled = async (attempt: () => Promise<Outcome>): Promise<Outcome> => {
      const until = performance.now() + 30_000;
      for (;;) {
        const a = await attempt();
        if ((a.kind === 'answer' && a.status !== 503) || performance.now() > until) return a;
        await sleep(200);
      }
    };
    const shown = (a: Outcome) => (a.kind === 'answer' ? String(a.status) : a.error);
    await forEachLimit(registrations, THREADPOOL, async (email) => {
      const a = await settled(() => login(email));
      if (!answered(a, 200)) ackLost(`registration of ${email}: sign-in answers ${shown(a)}`);
    });
    await forEachLimit(sessions, 8, async (s) => {
      const a = await settled(() =>
        call('test-token', {
          method: 'POST',
          path: '/v1/auth/test-token',
          body: {},
          headers: bearer(s.access),
        }),
      );
      if (!answered(a, 200)) ackLost(`session of ${s.email}: its access token answers ${shown(a)}`);
    });
    await forEachLimit(rotating, 8, async (s) => {
      const a = await settled(() => refresh(s.refresh));
      if (!answered(a, 200)) ackLost(`rotation of ${s.email}: its newest refresh token answers ${shown(a)}`);
    });

    const recoveries = (kinds: FaultKind[]) =>
      faults
        .filter((f) => kinds.includes(f.kind))
        .map((f) => f.recovery_ms ?? Infinity)
        .sort((a, b) => a - b);
    const all = recoveries(['relay-killed', 'backends-terminated', 'kill-9']);
    const maxOf = (xs: number[]) => (xs.length ? (xs.at(-1) as number) : null);
    const result: SoakResult = {
      minutes,
      workers,
      requests: [...byStatus.values()].reduce((a, b) => a + b, 0),
      by_status: Object.fromEntries([...byStatus].sort()),
      server_errors: serverErrorCount,
      server_error_samples: serverErrors,
      unavailable: byStatus.get('503') ?? 0,
      lost_outside_kills: service.lostOutsideKills,
      crashes: service.crashes,
      acknowledged: { registrations: registrations.length, logins: sessions.length, rotations },
      acknowledged_lost: lostAckCount,
      acknowledged_lost_samples: lostAcks,
      faults,
      recovery_ms: {
        p50: all.length ? percentile(all, 50) : null,
        max: maxOf(all),
        reset_max: maxOf(recoveries(['relay-killed', 'backends-terminated'])),
        kill_max: maxOf(recoveries(['kill-9'])),
      },
    };
    return { result, summary: summarise(result) };
  } finally {
    for (const cleanup of cleanups.reverse()) await Promise.resolve(cleanup()).catch(() => undefined);
  }
};

const ms = (n: number | null) => (n === null ? 'n/a' : Number.isFinite(n) ? `${n} ms` : 'never');

/** One line: what a reader checks first. */
export const summarise = (r: SoakResult): string => {
  const kills = r.faults.filter((f) => f.kind === 'kill-9').length;
  const resets = r.faults.length - kills;
  const verdict =
    r.server_errors === 0 && r.lost_outside_kills === 0 && r.crashes === 0 && r.acknowledged_lost === 0
      ? 'OK'
      : 'FAILED';
  return (
    `soak ${verdict}: ${r.minutes} min, ${r.workers} clients, ${r.requests} requests ` +
    `(${r.unavailable} 503, ${r.by_status.lost ?? 0} dropped, ${r.lost_outside_kills} of them outside a kill -9), ` +
    `${r.server_errors} 5xx other than 503, ${r.crashes} crashes, ` +
    `${r.acknowledged_lost} acknowledged commands lost (${r.acknowledged.registrations} registrations, ` +
    `${r.acknowledged.logins} sign-ins, ${r.acknowledged.rotations} rotations); ` +
    `${resets} connection resets + ${kills} kill -9, recovery p50 ${ms(r.recovery_ms.p50)}, ` +
    `max after a reset ${ms(r.recovery_ms.reset_max)}, after a kill -9 ${ms(r.recovery_ms.kill_max)}`
  );
};

const main = async (): Promise<void> => {
  const option = (name: string): string | undefined =>
    process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
  const { result, summary } = await runSoak({
    minutes: Number(option('minutes') ?? 1),
    ...(option('workers') ? { workers: Number(option('workers')) } : {}),
    ...(option('reset-every') ? { resetEverySeconds: Number(option('reset-every')) } : {}),
  });
  process.stdout.write(`${JSON.stringify(result)}\n${summary}\n`);
  process.exitCode = summary.startsWith('soak OK') ? 0 : 1;
};

if (require.main === module) {
  main().catch((e: unknown) => {
    process.stderr.write(`soak failed: ${(e as Error).stack ?? String(e)}\n`);
    process.exit(1);
  });
}
