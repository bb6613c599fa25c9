import pg from 'pg';
import { Mailbox } from '../support/mailbox';
import {
  ServiceProcess,
  bearer,
  createPostgresDatabase,
  expectAnswer,
  freshDataDir,
  removeDataDir,
  type Outcome,
} from '../support/service-process';
import { TcpProxy } from '../support/tcp-proxy';

/**
 * The service's PostgreSQL connections die under load, the way a PostgreSQL restart, a failover or a
 * crashed pooler kills them: the TCP relay between them is killed (every socket destroyed at once) and
 * restarted, and the server itself terminates the service's backends (`pg_terminate_backend`). Twelve
 * clients register and verify, sign in and rotate refresh tokens meanwhile, so connections die checked
 * out inside transactions, idle in the pool and mid-query.
 *
 * The promise: the process stays up, answers only 2xx, 4xx or 503 `unavailable` with Retry-After,
 * recovers by itself, and every command it acknowledged is there afterwards. Only with DATABASE_URL, as
 * the other PostgreSQL tests.
 */
const PASSWORD = 'plum-violet-harbour-9417';
/** The service's `application_name` (pg-client.ts's default): how its backends are told apart. */
const APPLICATION_NAME = 'identity';
const LOAD_MS = 14_000;
const WORKERS_EACH = 4;

const wanted = Boolean(process.env.DATABASE_URL);
const describeIf = wanted ? describe : describe.skip;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

type Tokens = { access_token: string; refresh_token: string };
type Registration = { email: string; verified: 'no' | 'acked' | 'unsure' };
type RefreshSession = { email: string; access: string; refresh: string };

describeIf('PostgreSQL connections reset under load', () => {
  let db: { url: string; drop: () => Promise<void> };
  let proxy: TcpProxy;
  let svc: ServiceProcess;
  let dataDir: string;
  let mailbox: Mailbox;
  let admin: pg.Client;

  beforeAll(async () => {
    db = await createPostgresDatabase(process.env.DATABASE_URL as string);
    proxy = await TcpProxy.forUrl(db.url);
    admin = new pg.Client({ connectionString: db.url, application_name: 'connection-reset-test' });
    admin.on('error', () => undefined);
    await admin.connect();
    dataDir = await freshDataDir({ seed: false });
    mailbox = new Mailbox(dataDir);
    svc = new ServiceProcess({
      dataDir,
      env: {
        DATABASE_URL: proxy.rewrite(db.url),
        // A rotation whose answer a reset swallowed is retried by its client; the grace window returns
        // the current successor to it however long the outage lasted.
        REFRESH_REUSE_GRACE_SECONDS: '120',
      },
    });
    await svc.start();
  }, 60_000);

  afterAll(async () => {
    await svc?.dispose();
    await proxy?.close();
    await admin?.end().catch(() => undefined);
    await db?.drop().catch(() => undefined);
    if (dataDir) removeDataDir(dataDir);
  });

  it('stays up, answers 503 with Retry-After while connections die, and keeps every acknowledged command', async () => {
    // After a crash ServiceProcess holds new calls until the next start, which never comes here.
    const call: ServiceProcess['call'] = (...args) =>
      svc.crashes.length > 0
        ? Promise.resolve<Outcome>({ kind: 'lost', error: 'the service exited' })
        : svc.call(...args);
    const wrong: string[] = [];
    const counts = new Map<string, number>();
    /** 4xx answers, for the summary line: a refusal is a fine answer, but which ones came is worth seeing. */
    const refused: string[] = [];
    /** Every answer of the load: 2xx, 4xx, or a 503 `unavailable` problem with Retry-After. */
    const judge = (name: string, a: Outcome): Outcome => {
      const key = `${name} ${a.kind === 'answer' ? a.status : 'lost'}`;
      counts.set(key, (counts.get(key) ?? 0) + 1);
      if (a.kind === 'lost') {
        wrong.push(`${name}: no answer (${a.error})`);
        return a;
      }
      if (a.status === 503) {
        const body = a.body as { code?: string } | undefined;
        const problemJson = (a.headers.get('content-type') ?? '').startsWith('application/problem+json');
        if (!problemJson || body?.code !== 'unavailable' || !(Number(a.headers.get('retry-after')) > 0))
          wrong.push(`${name}: 503 without the unavailable problem and Retry-After: ${a.text}`);
      } else if (a.status < 200 || a.status >= 500 || (a.status >= 300 && a.status < 400)) {
        wrong.push(`${name}: ${a.status} ${a.text}`);
      } else if (a.status >= 400) {
        refused.push(`${name}: ${a.status} ${(a.body as { code?: string } | undefined)?.code}`);
      }
      return a;
    };
    const ok = (a: Outcome, status = 200): boolean => a.kind === 'answer' && a.status === status;
    const tokensOf = (a: Outcome): Tokens => (a.kind === 'answer' ? a.body : {}) as Tokens;
    /** Retries a call while the service answers 503, as a client honouring Retry-After (but faster). */
    const untilAnswered = async (name: string, attempt: () => Promise<Outcome>, until: number) => {
      for (;;) {
        const a = judge(name, await attempt());
        if (a.kind === 'lost' || (a.kind === 'answer' && a.status !== 503) || Date.now() > until) return a;
        await sleep(100);
      }
    };

    const signUp = async (email: string): Promise<Tokens> => {
      await expectAnswer(svc.call('POST', '/v1/auth/register', { email, password: PASSWORD }), 202);
      const token = (await mailbox.waitFor(email, 'verification', 15_000))?.at(-1)?.token;
      if (!token) throw new Error(`no verification mail for ${email}`);
      await expectAnswer(svc.call('POST', '/v1/auth/verify-email', { token }), 200);
      const login = await expectAnswer(
        svc.call('POST', '/v1/auth/login', { email, password: PASSWORD }),
        200,
      );
      return login.body as Tokens;
    };
    const people = Array.from({ length: WORKERS_EACH * 2 }, (_, i) => `person${i}@example.com`);
    const signedIn = await Promise.all(people.map(async (email) => ({ email, tokens: await signUp(email) })));
    const loginAccounts = people.slice(0, WORKERS_EACH);
    const refreshSessions: RefreshSession[] = signedIn.slice(WORKERS_EACH).map((p) => ({
      email: p.email,
      access: p.tokens.access_token,
      refresh: p.tokens.refresh_token,
    }));

    // The ledger: what the service acknowledged.
    const registrations: Registration[] = [];
    const sessions: { email: string; access: string }[] = [];
    let registered = 0;

    const started = Date.now();
    const stopAt = started + LOAD_MS;
    const running = () => Date.now() < stopAt && svc.crashes.length === 0;
    const settle = () => stopAt + 20_000;

    const registerWorker = async (w: number) => {
      while (running()) {
        const email = `reg${w}.${(registered += 1)}@example.com`;
        const a = judge('register', await call('POST', '/v1/auth/register', { email, password: PASSWORD }));
        if (!ok(a, 202)) {
          await sleep(100);
          continue;
        }
        const entry: Registration = { email, verified: 'no' };
        registrations.push(entry);
        // The mail consumer resumes from its checkpoint after a reset; the link may come late.
        const token = (await mailbox.waitFor(email, 'verification', 5_000))?.at(-1)?.token;
        if (!token) continue;
        const verify = await untilAnswered(
          'verify-email',
          () => call('POST', '/v1/auth/verify-email', { token }),
          settle(),
        );
        entry.verified = ok(verify) ? 'acked' : 'unsure';
        if (entry.verified !== 'acked') continue;
        const login = judge('login', await call('POST', '/v1/auth/login', { email, password: PASSWORD }));
        if (ok(login)) sessions.push({ email, access: tokensOf(login).access_token });
      }
    };
    const loginWorker = async (w: number) => {
      const email = loginAccounts[w] as string;
      while (running()) {
        const a = judge('login', await call('POST', '/v1/auth/login', { email, password: PASSWORD }));
        if (ok(a)) sessions.push({ email, access: tokensOf(a).access_token });
        else {
          if (a.kind === 'answer' && a.status !== 503) wrong.push(`login ${email}: ${a.status} ${a.text}`);
          await sleep(100);
        }
      }
    };
    const refreshWorker = async (w: number) => {
      const session = refreshSessions[w] as RefreshSession;
      while (running()) {
        // A rotation that was not acknowledged may have happened: the same parent is retried until one
        // is, and the grace window answers it with the current successor.
        const a = await untilAnswered(
          'refresh',
          () => call('POST', '/v1/auth/refresh', { refresh_token: session.refresh }),
          settle(),
        );
        if (ok(a)) {
          const tokens = tokensOf(a);
          session.refresh = tokens.refresh_token;
          session.access = tokens.access_token;
        } else {
          if (a.kind === 'answer') wrong.push(`refresh ${session.email}: ${a.status} ${a.text}`);
          await sleep(100);
        }
      }
    };

    // Connections die every ~1.5 s: the relay killed (restarted after a short or a longer gap), or the
    // server ending the service's backends.
    const terminated: number[] = [];
    const faults = (async () => {
      const plan: ('relay' | 'terminate' | 'both')[] = ['relay', 'terminate', 'relay', 'terminate', 'both'];
      for (const [i, kind] of plan.entries()) {
        await sleep(1_500 + (i % 2) * 700);
        if (!running()) break;
        if (kind !== 'terminate') await proxy.kill();
        if (kind !== 'relay') {
          const r = await admin.query(
            `select pg_terminate_backend(pid) from pg_stat_activity
             where datname = current_database() and application_name = $1 and pid <> pg_backend_pid()`,
            [APPLICATION_NAME],
          );
          terminated.push(r.rowCount ?? 0);
        }
        if (kind !== 'terminate') {
          await sleep(i < 2 ? 200 : 1_200);
          await proxy.restart();
        }
      }
    })();

    await Promise.all([
      faults,
      ...Array.from({ length: WORKERS_EACH }, (_, w) => registerWorker(w)),
      ...Array.from({ length: WORKERS_EACH }, (_, w) => loginWorker(w)),
      ...Array.from({ length: WORKERS_EACH }, (_, w) => refreshWorker(w)),
    ]);
    // A relay left down by a crash mid-plan must not fail the checks below for the wrong reason.
    await proxy.restart();

    const lastWords = svc
      .logTail(300)
      .split('\n')
      .filter((l) => !l.includes('"msg":"request"'))
      .slice(-30)
      .join('\n');
    expect({ crashes: svc.crashes, log: svc.crashes.length ? lastWords : '' }).toEqual({
      crashes: [],
      log: '',
    });
    // The faults did hit: the server ended some of the service's backends.
    expect(terminated.some((n) => n > 0)).toBe(true);

    // It recovers by itself: a login works again without a restart.
    const back = Date.now();
    for (;;) {
      const a = await call('POST', '/v1/auth/login', { email: loginAccounts[0], password: PASSWORD });
      if (ok(a)) break;
      if (a.kind === 'answer' && a.status !== 503)
        throw new Error(`login after the resets: ${a.status} ${a.text}`);
      if (a.kind === 'lost' || Date.now() - back > 20_000) throw new Error('the service did not recover');
      await sleep(200);
    }

    // Every acknowledged registration is on the write side: its password is known to the login, which
    // reads the user stream (403 email-not-verified until the link is followed, never 401).
    const missing: string[] = [];
    const check = async <T>(items: T[], fn: (item: T) => Promise<void>) => {
      let next = 0;
      await Promise.all(
        Array.from({ length: 6 }, async () => {
          while (next < items.length) await fn(items[next++] as T);
        }),
      );
    };
    await check(registrations, async (r) => {
      const a = await untilAnswered(
        'login after',
        () => call('POST', '/v1/auth/login', { email: r.email, password: PASSWORD }),
        Date.now() + 10_000,
      );
      const expected = r.verified === 'acked' ? [200] : r.verified === 'unsure' ? [200, 403] : [403];
      if (a.kind !== 'answer' || !expected.includes(a.status))
        missing.push(`registration ${r.email} (${r.verified}): ${a.kind === 'answer' ? a.status : a.error}`);
      if (a.kind === 'answer' && a.status === 403) {
        // The link still verifies it: the account is whole, not only a stream with a password.
        const token = mailbox.to(r.email, 'verification').at(-1)?.token;
        if (token) {
          const v = await untilAnswered(
            'verify after',
            () => call('POST', '/v1/auth/verify-email', { token }),
            Date.now() + 10_000,
          );
          if (!ok(v)) missing.push(`verify ${r.email}: ${v.kind === 'answer' ? v.status : v.error}`);
        }
      }
    });
    // Every acknowledged login's session is alive, and every acknowledged rotation's successor rotates.
    await check(sessions, async (s) => {
      const a = await untilAnswered(
        'session after',
        () => call('POST', '/v1/auth/test-token', {}, bearer(s.access)),
        Date.now() + 10_000,
      );
      if (!ok(a)) missing.push(`session of ${s.email}: ${a.kind === 'answer' ? a.status : a.error}`);
    });
    await check(refreshSessions, async (s) => {
      const a = await untilAnswered(
        'refresh after',
        () => call('POST', '/v1/auth/refresh', { refresh_token: s.refresh }),
        Date.now() + 10_000,
      );
      if (!ok(a)) missing.push(`rotation of ${s.email}: ${a.kind === 'answer' ? a.status : a.error}`);
    });

    process.stdout.write(
      `connection resets: ${registrations.length} registrations, ${sessions.length} sessions acknowledged; ` +
        `backends terminated ${terminated.join('+')}; relay connections ${proxy.accepted}; answers ` +
        `${JSON.stringify(Object.fromEntries([...counts].sort()))}; refusals ${JSON.stringify(refused)}; ` +
        `recovered in ${Date.now() - back} ms\n`,
    );
    expect(wrong).toEqual([]);
    expect(missing).toEqual([]);
    expect(registrations.length).toBeGreaterThan(0);
    expect(sessions.length).toBeGreaterThan(0);
    expect(svc.crashes).toEqual([]);
  }, 120_000);
});
