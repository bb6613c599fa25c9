import { startTestApp, type TestApp } from '../support/app';
import { testBackends } from '../support/databases';

/** CORS_ALLOWED_ORIGINS at the header level; test/e2e/pages.test.ts has the same from a real page. */
const [embedded] = testBackends();
const APP = 'https://app.example.com';

describe('CORS', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp(embedded!, {
      runSubscriptions: false,
      env: { CORS_ALLOWED_ORIGINS: `${APP}, http://localhost:5173`, CORS_MAX_AGE_SECONDS: '900' },
    });
  });
  afterAll(() => t.close());

  const preflight = (path: string, origin: string) =>
    fetch(`${t.url}${path}`, {
      method: 'OPTIONS',
      headers: {
        origin,
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'content-type, authorization, idempotency-key',
      },
    });

  it('a listed origin gets its preflight answered and cached, on /v1/* and /oauth2/*', async () => {
    for (const path of ['/v1/auth/login', '/oauth2/token']) {
      const res = await preflight(path, APP);
      expect(res.status).toBe(204);
      expect(res.headers.get('access-control-allow-origin')).toBe(APP);
      expect(res.headers.get('access-control-allow-methods')).toContain('POST');
      expect(res.headers.get('access-control-allow-headers')?.toLowerCase()).toContain('authorization');
      expect(res.headers.get('access-control-allow-headers')?.toLowerCase()).toContain('idempotency-key');
      expect(res.headers.get('access-control-max-age')).toBe('900');
      expect(res.headers.get('access-control-allow-credentials')).toBeNull();
      expect(res.headers.get('vary')).toContain('Origin');
    }
    const real = await fetch(`${t.url}/v1/users/me`, { headers: { origin: 'http://localhost:5173' } });
    expect(real.status).toBe(401);
    expect(real.headers.get('access-control-allow-origin')).toBe('http://localhost:5173');
    expect(real.headers.get('access-control-expose-headers')).toContain('WWW-Authenticate');
  });

  it('any other origin gets no Access-Control-Allow-* at all; the preflight is not answered', async () => {
    for (const origin of [
      'https://evil.example',
      'https://app.example.com.evil.example',
      'null',
      `${APP}:443x`,
    ]) {
      const res = await preflight('/v1/auth/login', origin);
      expect(res.status).not.toBe(204);
      for (const name of res.headers.keys()) expect(name).not.toMatch(/^access-control-allow-/);
      const real = await fetch(`${t.url}/v1/users/me`, { headers: { origin } });
      for (const name of real.headers.keys()) expect(name).not.toMatch(/^access-control-allow-/);
    }
  });

  it('only the API: the hosted pages and the rest answer no CORS', async () => {
    const res = await fetch(`${t.url}/forgot-password`, { headers: { origin: APP } });
    expect(res.status).toBe(200);
    expect(res.headers.get('access-control-allow-origin')).toBeNull();
    const health = await fetch(`${t.url}/health/live`, { headers: { origin: APP } });
    expect(health.headers.get('access-control-allow-origin')).toBeNull();
  });
});

describe('CORS off by default', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp(embedded!, { runSubscriptions: false });
  });
  afterAll(() => t.close());

  it('with no CORS_ALLOWED_ORIGINS no origin gets CORS answers', async () => {
    const res = await fetch(`${t.url}/v1/auth/login`, {
      method: 'OPTIONS',
      headers: { origin: APP, 'access-control-request-method': 'POST' },
    });
    expect(res.headers.get('access-control-allow-origin')).toBeNull();
  });
});
