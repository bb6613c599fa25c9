import { performance } from 'node:perf_hooks';
import { Client } from 'undici';
import { drive, type Clients } from './http-load';
import { BENCH_ADMIN_EMAIL } from './processes';
import { percentile, summarise, type Summary } from './stats';

export const PASSWORD = 'bench password that is long enough';

let emails = 0;
const runTag = Date.now().toString(36);
export const newEmail = (kind: string): string => `${kind}-${runTag}-${(emails += 1)}@example.com`;

export type Tokens = { access_token: string; refresh_token: string };

export const register = async (clients: Clients, email: string, worker = 0): Promise<void> => {
  await clients.expect(
    { method: 'POST', path: '/v1/auth/register', body: { email, password: PASSWORD } },
    202,
    worker,
  );
};

export const login = async (clients: Clients, email: string, worker = 0): Promise<Tokens> =>
  (
    await clients.expect(
      { method: 'POST', path: '/v1/auth/login', body: { email, password: PASSWORD } },
      200,
      worker,
    )
  ).body as Tokens;

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

/** The session id an access token was issued for (its `sid` claim), read without verifying it. */
export const sessionOf = (accessToken: string): string =>
  (JSON.parse(Buffer.from(accessToken.split('.')[1] ?? '', 'base64url').toString()) as { sid: string }).sid;

/** An account per worker, registered and signed in, for the loops that need one. */
export const accounts = async (clients: Clients, n: number, kind: string) =>
  Promise.all(
    Array.from({ length: n }, async (_, w) => {
      const email = newEmail(kind);
      await register(clients, email, w);
      return { email, tokens: await login(clients, email, w) };
    }),
  );

export const registerLoad = (clients: Clients, workers: number, seconds: number): Promise<Summary> =>
  drive({ workers, seconds, op: (w) => register(clients, newEmail('reg'), w) });

export const loginLoad = async (
  clients: Clients,
  workers: number,
  seconds: number,
  users: string[],
  onTokens?: (tokens: Tokens, at: number) => void,
): Promise<Summary> =>
  drive({
    workers,
    seconds,
    op: async (w) => {
      const tokens = await login(clients, users[w % users.length] as string, w);
      onTokens?.(tokens, performance.now());
    },
  });

/** Every worker rotates its own session's refresh token, as one client does, back to back. */
export const refreshLoad = async (clients: Clients, workers: number, seconds: number): Promise<Summary> => {
  const sessions = await accounts(clients, workers, 'refresh');
  const current = sessions.map((s) => s.tokens.refresh_token);
  return drive({
    workers,
    seconds,
    op: async (w) => {
      const answer = await clients.expect(
        { method: 'POST', path: '/v1/auth/refresh', body: { refresh_token: current[w] } },
        200,
        w,
      );
      current[w] = (answer.body as Tokens).refresh_token;
    },
  });
};

export const meLoad = async (clients: Clients, workers: number, seconds: number): Promise<Summary> => {
  const sessions = await accounts(clients, workers, 'me');
  return drive({
    workers,
    seconds,
    op: async (w) => {
      const token = (sessions[w] as { tokens: Tokens }).tokens.access_token;
      await clients.expect({ method: 'GET', path: '/v1/users/me', headers: bearer(token) }, 200, w);
    },
  });
};

/** The bootstrap admin, given `events:read`, signed in again so its token carries the role. */
export const feedReader = async (clients: Clients): Promise<string> => {
  await register(clients, BENCH_ADMIN_EMAIL);
  const first = await login(clients, BENCH_ADMIN_EMAIL);
  const me = (
    await clients.expect({ method: 'GET', path: '/v1/users/me', headers: bearer(first.access_token) }, 200)
  ).body as { id: string };
  await clients.expect(
    {
      method: 'POST',
      path: `/v1/admin/users/${me.id}/roles`,
      headers: bearer(first.access_token),
      body: { role: 'events:read', reason: 'benchmark subscriber' },
    },
    204,
  );
  return (await login(clients, BENCH_ADMIN_EMAIL)).access_token;
};

/**
 * Subscription lag as a downstream service sees it: from the moment a login's answer arrived (its session
 * is committed by then) to the moment its SessionStarted event arrived on `GET /v1/events/stream`. An event
 * that arrives before the answer counts as 0 ms. Login load runs meanwhile.
 */
export const subscriptionLag = async (
  clients: Clients,
  origin: string,
  readerToken: string,
  workers: number,
  seconds: number,
  users: string[],
) => {
  const answered = new Map<string, number>();
  const delivered = new Map<string, number>();
  const sse = new Client(origin);
  const controller = new AbortController();
  const res = await sse.request({
    method: 'GET',
    path: '/v1/events/stream',
    headers: { ...bearer(readerToken), accept: 'text/event-stream' },
    signal: controller.signal,
  });
  if (res.statusCode !== 200) throw new Error(`event stream answered ${res.statusCode}`);
  const reading = (async () => {
    let buffer = '';
    try {
      for await (const chunk of res.body) {
        buffer += (chunk as Buffer).toString();
        let end: number;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const frame = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const data = frame
            .split('\n')
            .filter((l) => l.startsWith('data:'))
            .map((l) => l.slice(5).trim())
            .join('\n');
          if (!data) continue;
          const event = JSON.parse(data) as { type: string; stream: string };
          if (event.type === 'SessionStarted')
            delivered.set(event.stream.slice('session-'.length), performance.now());
        }
      }
    } catch (e) {
      if (!controller.signal.aborted) throw e;
    }
  })();
  // The reader starts from the beginning of the log: the figure is the LIVE lag, so the measured load starts
  // only once a login made now has come through (delivery is in commit order: everything before it did too).
  const warmup = sessionOf((await login(clients, users[0] as string)).access_token);
  const liveBy = performance.now() + 120_000;
  while (!delivered.has(warmup)) {
    if (performance.now() > liveBy) throw new Error('the event stream did not catch up within 120 s');
    await new Promise((r) => setTimeout(r, 20));
  }
  delivered.clear();
  const load = await loginLoad(clients, workers, seconds, users, (tokens, at) =>
    answered.set(sessionOf(tokens.access_token), at),
  );
  // The last logins' events: give them a moment to arrive before counting what is missing.
  const deadline = performance.now() + 5_000;
  while ([...answered.keys()].some((sid) => !delivered.has(sid)) && performance.now() < deadline) {
    await new Promise((r) => setTimeout(r, 50));
  }
  controller.abort();
  await reading;
  await sse.close().catch(() => undefined);
  const lags: number[] = [];
  let missing = 0;
  for (const [sid, at] of answered) {
    const got = delivered.get(sid);
    if (got === undefined) missing += 1;
    else lags.push(Math.max(0, got - at));
  }
  const sorted = lags.sort((a, b) => a - b);
  return {
    load,
    events: lags.length,
    missing,
    p50_ms: +percentile(sorted, 50).toFixed(2),
    p99_ms: +percentile(sorted, 99).toFixed(2),
    max_ms: +(sorted[sorted.length - 1] ?? NaN).toFixed(2),
  };
};

/**
 * Login latency of an account with `pastLogins` earlier logins against a fresh account: the past logins
 * are made first (4 at a time), then both accounts log in alternately, one request at a time.
 */
export const pastLoginsEffect = async (clients: Clients, pastLogins: number, samples: number) => {
  const heavy = newEmail('heavy');
  const fresh = newEmail('fresh');
  await register(clients, heavy);
  await register(clients, fresh);
  const started = performance.now();
  await drive({ workers: 4, count: pastLogins, op: async (w) => void (await login(clients, heavy, w)) });
  const setupSeconds = (performance.now() - started) / 1000;
  const heavyTimes: number[] = [];
  const freshTimes: number[] = [];
  for (let i = 0; i < samples; i++) {
    for (const [email, into] of [
      [heavy, heavyTimes],
      [fresh, freshTimes],
    ] as const) {
      const t = performance.now();
      await login(clients, email);
      into.push(performance.now() - t);
    }
  }
  const h = summarise(heavyTimes, 1, 0);
  const f = summarise(freshTimes, 1, 0);
  return {
    past_logins: pastLogins,
    setup_seconds: +setupSeconds.toFixed(1),
    heavy_p50_ms: h.p50_ms,
    fresh_p50_ms: f.p50_ms,
    ratio: +(h.p50_ms / f.p50_ms).toFixed(3),
  };
};
