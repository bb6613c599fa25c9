import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { createHttpServer, serverTimeouts } from '../../src/api/app';
import { exposeMetrics, metricsApp } from '../../src/api/metrics';
import { ConfigError, loadConfig } from '../../src/infrastructure/config';
import { useTestApp, startTestApp, type TestApp } from '../support/app';
import { expectProblem, registerVerified } from '../support/account-flows';
import { testBackends } from '../support/databases';
import { freePort } from '../support/local-servers';
import { freshDataDir, ServiceProcess } from '../support/service-process';
import { bearer, loginAs, postJson } from '../support/session-fixtures';

const scrape = async (t: TestApp): Promise<string> => {
  const res = await fetch(`${t.url}/metrics`);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toContain('text/plain');
  return res.text();
};

/** The value of one sample line, e.g. `identity_logins_total{outcome="success"}`; 0 when absent. */
const sample = (text: string, name: string): number => {
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line ? Number(line.slice(name.length + 1)) : 0;
};

for (const backend of testBackends()) {
  describe(`metrics on ${backend.name}`, () => {
    const t = useTestApp(backend);

    it('counts login outcomes, lockouts, mail, appends and request durations by route pattern', async () => {
      const account = await registerVerified(t);
      await loginAs(t, account);
      for (let i = 0; i < 5; i++) {
        const res = await postJson(t, '/v1/auth/login', {
          email: account.email,
          password: 'wrong password 123',
        });
        expect(res.status).toBe(401);
      }
      const locked = await postJson(t, '/v1/auth/login', {
        email: account.email,
        password: account.password,
      });
      expect(locked.status).toBe(401);

      const text = await scrape(t);
      expect(sample(text, 'identity_logins_total{outcome="success"}')).toBe(1);
      expect(sample(text, 'identity_logins_total{outcome="invalid_credentials"}')).toBe(5);
      expect(sample(text, 'identity_logins_total{outcome="locked"}')).toBe(1);
      expect(sample(text, 'identity_lockouts_total')).toBe(1);
      expect(sample(text, 'identity_emails_total{kind="verification",result="sent"}')).toBe(1);
      expect(sample(text, 'identity_events_appended_total{type="UserRegistered"}')).toBe(1);
      expect(sample(text, 'identity_event_append_duration_seconds_count{result="ok"}')).toBeGreaterThan(5);
      // Route patterns, never raw URLs (a path or query can carry a token).
      expect(text).toMatch(
        /http_request_duration_seconds_count\{method="POST",route="\/v1\/auth\/login",status="401"\} 6/,
      );
      expect(text).toMatch(/identity_subscription_lag_seconds\{subscription="[^"]+"\} \d/);
      expect(text).toMatch(/identity_subscription_failures\{subscription="[^"]+"\} 0/);
      expect(text).not.toContain(account.email);
    });
  });
}

const TOKEN = 'b7c1e0f4a9d2c3b8e5f6a7d8c9b0a1f2e3d4c5b6';
const [embedded] = testBackends();

const scrapeWith = (url: string, headers: Record<string, string> = {}) =>
  fetch(`${url}/metrics`, { headers });

const expectRefused = async (res: Response, challenge: string) => {
  expect(res.headers.get('www-authenticate')).toBe(challenge);
  expect(res.headers.get('cache-control')).toBe('no-store');
  expect(res.headers.get('x-content-type-options')).toBe('nosniff');
  const body = await expectProblem(res, 401, 'invalid-token');
  expect(JSON.stringify(body)).not.toContain('identity_logins_total');
};

describe('METRICS_TOKEN', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp(embedded!, { env: { METRICS_TOKEN: TOKEN }, runSubscriptions: false });
    exposeMetrics(t.services.metrics, t.config.metrics);
  });
  afterAll(() => t.close());

  it('a scrape without the token is a 401 problem with a Bearer challenge, and shows no metric', async () => {
    await expectRefused(await scrapeWith(t.url), 'Bearer realm="metrics"');
    for (const wrong of [
      bearer('nope'),
      bearer(TOKEN.replace(/.$/, '0')),
      bearer(`${TOKEN}0`),
      bearer(TOKEN.slice(1)),
      { authorization: `Basic ${Buffer.from(`x:${TOKEN}`).toString('base64')}` },
      { authorization: TOKEN },
      { authorization: `Bearer ${TOKEN} extra` },
    ]) {
      await expectRefused(await scrapeWith(t.url, wrong), 'Bearer realm="metrics", error="invalid_token"');
    }
  });

  it('a scrape with the token gets the metrics; the scheme name is case-insensitive (RFC 9110 §11.1)', async () => {
    for (const authorization of [`Bearer ${TOKEN}`, `bearer ${TOKEN}`]) {
      const res = await scrapeWith(t.url, { authorization });
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toContain('text/plain');
      expect(await res.text()).toContain('identity_logins_total');
    }
  });

  it('leaves every other route as it was', async () => {
    expect((await fetch(`${t.url}/health/live`)).status).toBe(200);
  });
});

describe('METRICS_PORT', () => {
  let t: TestApp;
  let server: Server;
  let metricsUrl: string;
  beforeAll(async () => {
    t = await startTestApp(embedded!, { env: { METRICS_PORT: '0' }, runSubscriptions: false });
    exposeMetrics(t.services.metrics, t.config.metrics);
    // What src/main.ts starts on METRICS_PORT.
    server = createHttpServer(
      metricsApp(t.services.metrics, { logger: t.services.logger, trustProxy: false, token: undefined }),
      { logger: t.services.logger, timeouts: serverTimeouts(30) },
    );
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    metricsUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    if (server) {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
    await t?.close();
  });

  it('the main port answers /metrics with a 404 problem, as for any unknown path', async () => {
    const res = await scrapeWith(t.url);
    expect(await expectProblem(res, 404, 'not-found')).toMatchObject({ instance: '/metrics' });
  });

  it('the metrics port serves them, and nothing else', async () => {
    const res = await scrapeWith(metricsUrl);
    expect(res.status).toBe(200);
    expect(await res.text()).toContain('identity_logins_total');
    await expectProblem(await fetch(`${metricsUrl}/health/live`), 404, 'not-found');
    await expectProblem(await fetch(`${metricsUrl}/v1/auth/login`, { method: 'POST' }), 404, 'not-found');
  });
});

describe('metrics configuration', () => {
  const problemsOf = (env: Record<string, string>): string[] => {
    try {
      loadConfig({ DATA_DIR: '/tmp/identity-config-test', ...env });
      return [];
    } catch (e) {
      if (e instanceof ConfigError) return e.problems;
      throw e;
    }
  };

  it('takes a port and a token, both optional', () => {
    expect(loadConfig({ DATA_DIR: '/tmp/x' }).metrics).toEqual({ port: undefined, token: undefined });
    expect(loadConfig({ DATA_DIR: '/tmp/x', METRICS_PORT: '9464', METRICS_TOKEN: TOKEN }).metrics).toEqual({
      port: 9464,
      token: TOKEN,
    });
  });

  it.each([
    [{ METRICS_PORT: 'nine' }, 'METRICS_PORT'],
    [{ METRICS_PORT: '70000' }, 'METRICS_PORT'],
    [{ METRICS_PORT: '3000' }, 'METRICS_PORT: must differ from PORT'],
    [{ PORT: '8080', METRICS_PORT: '8080' }, 'METRICS_PORT: must differ from PORT'],
    [{ METRICS_TOKEN: 'short' }, 'METRICS_TOKEN'],
    [{ METRICS_TOKEN: `${TOKEN} with spaces` }, 'METRICS_TOKEN'],
  ])('refuses %j, naming the variable', (env, named) => {
    expect(problemsOf(env)).toEqual([expect.stringContaining(named)]);
  });
});

describe('the service process with METRICS_PORT and METRICS_TOKEN', () => {
  let svc: ServiceProcess;
  let metricsUrl: string;
  beforeAll(async () => {
    const port = await freePort();
    svc = new ServiceProcess({
      dataDir: await freshDataDir(),
      env: { METRICS_PORT: String(port), METRICS_TOKEN: TOKEN },
    });
    await svc.start();
    metricsUrl = `http://127.0.0.1:${port}`;
  }, 90_000);
  afterAll(() => svc.dispose());

  it('serves the metrics on their own port behind the token, and not on the main port', async () => {
    const main = await svc.call('GET', '/metrics');
    expect(main).toMatchObject({ kind: 'answer', status: 404, body: { code: 'not-found' } });
    await expectRefused(await scrapeWith(metricsUrl), 'Bearer realm="metrics"');
    const scraped = await scrapeWith(metricsUrl, bearer(TOKEN));
    expect(scraped.status).toBe(200);
    expect(await scraped.text()).toContain('identity_logins_total');
    expect(svc.logTail()).toContain('metrics listening');
  });
});
