/**
 * `npm run bench`: the service driven over real HTTP from this process (undici, a fixed number of
 * connections), each figure set against a ceiling measured in the same run on the same machine, when
 * nothing else is loaded. Writes bench/results/<date>.json and .md and prints the table.
 *
 *   npm run bench -- [--quick] [--backend=embedded|postgres] [--seconds=N] [--past-logins=N]
 *                    [--rebuild-events=N] [--timing-samples=N] [--profile] [--rebuild-only] [--timing-only]
 *   npm run bench -- --soak=<minutes>     (PostgreSQL only: resets and kill -9 under mixed traffic)
 *
 * The backend is PostgreSQL when DATABASE_URL is set (a scratch database per part, dropped afterwards),
 * otherwise the embedded store in a temporary data directory. `--profile` starts the service with
 * --cpu-prof; bench/profile-summary.ts reads the profiles. The exit code is non-zero only when the bench
 * itself broke: a missed target is marked in the table.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { Clients, drive } from './http-load';
import {
  build,
  rssMiB,
  runScript,
  scratchDatabase,
  sleep,
  startBareServer,
  startService,
  type Child,
} from './processes';
import { rebuildPhase } from './rebuild';
import { runSoak } from './soak';
import { timingComparison, timingTable } from './timing';
import { markdown, type Results } from './report';
import {
  accounts,
  feedReader,
  loginLoad,
  meLoad,
  pastLoginsEffect,
  refreshLoad,
  registerLoad,
  subscriptionLag,
} from './scenarios';
import type { Summary } from './stats';

const args = process.argv.slice(2);
const option = (name: string): string | undefined =>
  args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
const quick = args.includes('--quick');
const backend = (option('backend') ?? (process.env.DATABASE_URL ? 'postgres' : 'embedded')) as
  'embedded' | 'postgres';
const seconds = Number(option('seconds') ?? (quick ? 3 : 15));
const pastLogins = Number(option('past-logins') ?? (quick ? 500 : 10_000));
const rebuildEvents = Number(option('rebuild-events') ?? (quick ? 50_000 : 1_000_000));
const timingSamples = Number(option('timing-samples') ?? (quick ? 60 : 300));
const profile = args.includes('--profile');
const mode = quick
  ? 'quick'
  : ['seconds', 'past-logins', 'rebuild-events'].some((o) => option(o))
    ? 'custom'
    : 'full';

/** libuv's pool: cores + 2 (FACTS.md), for the service and the argon2 ceilings alike. */
const THREADPOOL = 4;
/** argon2 work in flight: as many as the pool has threads; more only adds latency. */
const ARGON2_CONNECTIONS = 4;
/** Cheap requests: enough connections to keep a 2-core machine busy. */
const HTTP_CONNECTIONS = 8;

const log = (line: string): void => void process.stderr.write(`bench: ${line}\n`);

/** The highest resident size seen while `work` runs, sampled every 200 ms. */
const peakRss = async <T>(
  children: Child[],
  work: () => Promise<T>,
): Promise<{ result: T; peak: number }> => {
  let peak = 0;
  const sample = () => {
    for (const c of children) peak = Math.max(peak, c.rss() ?? 0);
  };
  const timer = setInterval(sample, 200);
  try {
    const result = await work();
    sample();
    return { result, peak };
  } finally {
    clearInterval(timer);
  }
};

const ceilings = async (dbEnv: Record<string, string>) => {
  const argon2 = (mode: string) =>
    runScript('ceilings.ts', ['argon2', mode, String(ARGON2_CONNECTIONS), String(seconds)], {
      UV_THREADPOOL_SIZE: String(THREADPOOL),
    }) as Promise<Summary>;
  const verify = await argon2('verify');
  log(`argon2 verify ceiling: ${verify.per_second}/s`);
  const hash = await argon2('hash');
  log(`argon2 hash ceiling: ${hash.per_second}/s`);
  const bare = await startBareServer(dbEnv);
  const clients = new Clients([bare.origin], HTTP_CONNECTIONS);
  try {
    const fixed = await drive({
      workers: HTTP_CONNECTIONS,
      seconds,
      op: (w) => clients.expect({ method: 'GET', path: '/fixed' }, 200, w).then(() => undefined),
    });
    log(`bare fixed JSON ceiling: ${fixed.per_second}/s`);
    const ids = await Promise.all(
      Array.from(
        { length: HTTP_CONNECTIONS },
        async (_, w) =>
          (
            (await clients.expect({ method: 'POST', path: '/session', body: {} }, 200, w)).body as {
              id: string;
            }
          ).id,
      ),
    );
    const readAppend = await drive({
      workers: HTTP_CONNECTIONS,
      seconds,
      op: (w) =>
        clients
          .expect({ method: 'POST', path: '/refresh', body: { id: ids[w] } }, 200, w)
          .then(() => undefined),
    });
    log(`bare read + append ceiling: ${readAppend.per_second}/s`);
    return { argon2_verify: verify, argon2_hash: hash, bare_fixed_json: fixed, bare_read_append: readAppend };
  } finally {
    await clients.close();
    await bare.stop();
  }
};

const main = async (): Promise<void> => {
  if (backend === 'postgres' && !process.env.DATABASE_URL)
    throw new Error('--backend=postgres needs DATABASE_URL');
  if (args.includes('--rebuild-only')) {
    build();
    const row = await rebuildPhase(
      backend,
      rebuildEvents,
      log,
      profile ? ['--cpu-prof', '--cpu-prof-dir=bench/results/profiles/rebuild'] : [],
    );
    process.stdout.write(`${JSON.stringify({ backend, ...row })}\n`);
    return;
  }
  const soak = option('soak');
  if (soak !== undefined) {
    const { result, summary } = await runSoak({ minutes: Number(soak), log });
    process.stdout.write(`\n${summary}\n1-min load average at end: ${loadavg()[0]?.toFixed(2)}\n`);
    const failed =
      result.server_errors + result.lost_outside_kills + result.crashes + result.acknowledged_lost > 0;
    if (failed) process.exitCode = 1;
    return;
  }
  if (args.includes('--timing-only')) {
    build();
    const rows = await timingComparison({ backend, samples: timingSamples, log });
    process.stdout.write(
      `\n${timingTable(rows)}\n\n1-min load average at end: ${loadavg()[0]?.toFixed(2)}\n`,
    );
    return;
  }
  const started = new Date();
  // Other work on the machine skews every figure; the ceilings share the skew only when it is steady.
  const loadAtStart = loadavg()[0] as number;
  log(`${mode} run on ${backend}; building`);
  build();
  const cleanups: (() => Promise<void> | void)[] = [];
  const profileDir = path.join(__dirname, 'results', 'profiles', started.toISOString().replace(/[:.]/g, '-'));
  try {
    // The ceilings' store: the same kind as the service's, its own database.
    let dbEnv: Record<string, string>;
    if (backend === 'postgres') {
      const db = await scratchDatabase(process.env.DATABASE_URL as string);
      cleanups.push(db.drop);
      dbEnv = { DATABASE_URL: db.url };
    } else {
      const dir = mkdtempSync(path.join(tmpdir(), 'identity-bench-bare-'));
      cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
      dbEnv = { BENCH_DATA_DIR: dir, DATABASE_URL: '' };
    }
    const ceiling = await ceilings(dbEnv);

    const dataDir = mkdtempSync(path.join(tmpdir(), 'identity-bench-service-'));
    cleanups.push(() => rmSync(dataDir, { recursive: true, force: true }));
    let databaseUrl: string | undefined;
    if (backend === 'postgres') {
      const db = await scratchDatabase(process.env.DATABASE_URL as string);
      cleanups.push(db.drop);
      databaseUrl = db.url;
    }
    const serviceOptions = {
      dataDir,
      databaseUrl,
      threadpool: THREADPOOL,
      nodeArgs: profile ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [],
    };
    const service = await startService(serviceOptions);
    const stopService = service.stop;
    cleanups.push(stopService);
    await sleep(2_000);
    const idleRss = service.rss();
    log(`service ready at ${service.origin}; idle RSS ${idleRss} MiB`);

    const clients = new Clients([service.origin], HTTP_CONNECTIONS);
    cleanups.push(() => clients.close());
    const reader = await feedReader(clients);
    const { result: loaded, peak } = await peakRss([service], async () => {
      const register = await registerLoad(clients, ARGON2_CONNECTIONS, seconds);
      log(`register: ${register.per_second}/s`);
      const users = (await accounts(clients, ARGON2_CONNECTIONS, 'login')).map((a) => a.email);
      const login = await loginLoad(clients, ARGON2_CONNECTIONS, seconds, users);
      log(`login: ${login.per_second}/s`);
      const refresh = await refreshLoad(clients, HTTP_CONNECTIONS, seconds);
      log(`refresh: ${refresh.per_second}/s`);
      const me = await meLoad(clients, HTTP_CONNECTIONS, seconds);
      log(`GET /v1/users/me: ${me.per_second}/s`);
      const lag = await subscriptionLag(clients, service.origin, reader, ARGON2_CONNECTIONS, seconds, users);
      log(`subscription lag p99 ${lag.p99_ms} ms over ${lag.events} events`);
      const past = await pastLoginsEffect(clients, pastLogins, quick ? 15 : 40);
      log(`login p50 after ${pastLogins} logins ${past.heavy_p50_ms} ms, fresh ${past.fresh_p50_ms} ms`);
      return { register, login, refresh, me, lag, past, users };
    });

    // Several instances on one PostgreSQL; the embedded store allows one process per data directory.
    let scaling: Results['scaling'] = null;
    if (backend === 'postgres') {
      const second = await startService({
        ...serviceOptions,
        dataDir: mkdtempSync(path.join(tmpdir(), 'identity-bench-2-')),
      });
      cleanups.push(second.stop);
      const both = new Clients([service.origin, second.origin], HTTP_CONNECTIONS / 2);
      cleanups.push(() => both.close());
      const { result, peak: twoPeak } = await peakRss([service, second], async () => ({
        login: await loginLoad(both, ARGON2_CONNECTIONS, seconds, loaded.users),
        me: await meLoad(both, HTTP_CONNECTIONS, seconds),
      }));
      log(`two instances: login ${result.login.per_second}/s, me ${result.me.per_second}/s`);
      scaling = {
        one: { login: loaded.login, me: loaded.me },
        two: { ...result, peak_rss_mib_each: twoPeak },
        note: 'two service processes on two ports, the load split evenly across them (the service has no cluster mode)',
      };
      await second.stop();
    }
    await stopService();
    await clients.close();

    const timing = await timingComparison({ backend, samples: timingSamples, log });

    log(`projection rebuild of ${rebuildEvents} events`);
    const rebuild = await rebuildPhase(backend, rebuildEvents, log, serviceOptions.nodeArgs);
    log(`rebuild: ${rebuild.events_per_second} events/s vs insert ${rebuild.insert_rows_per_second} rows/s`);

    const results: Results = {
      date: started.toISOString(),
      mode,
      backend,
      machine: {
        cores: cpus().length,
        node: process.version,
        load_average_1m: { start: +loadAtStart.toFixed(2), end: +(loadavg()[0] as number).toFixed(2) },
      },
      settings: {
        seconds,
        threadpool: THREADPOOL,
        argon2_connections: ARGON2_CONNECTIONS,
        http_connections: HTTP_CONNECTIONS,
        past_logins: pastLogins,
        rebuild_events: rebuildEvents,
      },
      ceilings: ceiling,
      service: { register: loaded.register, login: loaded.login, refresh: loaded.refresh, me: loaded.me },
      subscription_lag: loaded.lag,
      past_logins: loaded.past,
      rebuild,
      memory: {
        idle_rss_mib: idleRss,
        peak_rss_mib_under_load: peak,
        bench_process_rss_mib: rssMiB(process.pid),
      },
      scaling,
      profiles: profile ? profileDir : null,
      timing,
    };
    const table = markdown(results);
    const dir = path.join(__dirname, 'results');
    mkdirSync(dir, { recursive: true });
    const stamp = started.toISOString().replace(/[:.]/g, '-');
    writeFileSync(path.join(dir, `${stamp}.json`), `${JSON.stringify(results, null, 2)}\n`);
    writeFileSync(path.join(dir, `${stamp}.md`), `${table}\n`);
    process.stdout.write(`\n${table}\n\nwritten: bench/results/${stamp}.json\n`);
  } finally {
    for (const cleanup of cleanups.reverse()) await Promise.resolve(cleanup()).catch(() => undefined);
  }
};

main().then(
  () => process.exit(0),
  (e: unknown) => {
    process.stderr.write(`bench failed: ${(e as Error).stack ?? String(e)}\n`);
    process.exit(1);
  },
);
