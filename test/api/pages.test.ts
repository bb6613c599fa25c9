import { startTestApp, type TestApp } from '../support/app';
import { nextMail, register, registerVerified, tokenIn } from '../support/account-flows';
import { testBackends } from '../support/databases';
import { postJson, streamTypes } from '../support/session-fixtures';

/**
 * The hosted pages over HTTP (CONTRACT.md "Pages a person opens"): headers, GET never uses a link, the
 * form's POST does, through the same handlers as the JSON API, and a cross-site POST is refused. The same
 * flows in a browser: test/e2e/pages.test.ts.
 */
const CSP_PARTS = [
  "default-src 'none'",
  "style-src 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
];

const [embedded] = testBackends();

describe('hosted pages', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp(embedded!);
  });
  afterAll(() => t.close());

  const form = (path: string, fields: Record<string, string>, headers: Record<string, string> = {}) =>
    fetch(`${t.url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
      body: new URLSearchParams(fields).toString(),
      redirect: 'manual',
    });

  const expectPageHeaders = (res: Response) => {
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.headers.get('referrer-policy')).toBe('no-referrer');
    const csp = res.headers.get('content-security-policy') ?? '';
    for (const part of CSP_PARTS) expect(csp).toContain(part);
    expect(res.headers.get('x-frame-options')).toBe('DENY');
  };

  it('GET /verify-email shows a form and uses nothing up, however often it is opened', async () => {
    const r = await register(t);
    for (let i = 0; i < 3; i += 1) {
      const res = await fetch(`${t.url}/verify-email?token=${r.token}`);
      expect(res.status).toBe(200);
      expectPageHeaders(res);
      const html = await res.text();
      expect(html).toContain('<form method="post" action="verify-email">');
      expect(html).toContain(`name="token" value="${r.token}"`);
      expect(html).not.toMatch(/<script/i);
    }
    expect(await streamTypes(t.services, `user-${r.userId}`)).not.toContain('EmailVerified');
  });

  it("the form's POST verifies (the same event as the JSON API); the link is then used", async () => {
    const r = await register(t);
    const res = await form(
      '/verify-email',
      { token: r.token },
      { origin: 'null', 'sec-fetch-site': 'same-origin' },
    );
    expect(res.status).toBe(200);
    expectPageHeaders(res);
    expect(await res.text()).toContain('Your email address is verified');
    expect(await streamTypes(t.services, `user-${r.userId}`)).toContain('EmailVerified');
    const again = await fetch(`${t.url}/verify-email?token=${r.token}`);
    expect(again.status).toBe(400);
    const html = await again.text();
    expect(html).toContain('This link does not work any more');
    expect(html).toContain('href="resend-verification"');
    expect((await postJson(t, '/v1/auth/login', { email: r.email, password: r.password })).status).toBe(200);
  });

  it('a made-up or malformed token gets the bad-link page, never a 500', async () => {
    for (const token of ['', 'x', 'A'.repeat(64), '<script>']) {
      const res = await fetch(`${t.url}/verify-email?token=${encodeURIComponent(token)}`);
      expect(res.status).toBe(400);
      expect(await res.text()).not.toContain('<script>');
    }
    expect((await fetch(`${t.url}/reset-password`)).status).toBe(400);
  });

  it('reset: a weak password shows the form again with the reason, the token still works; then success', async () => {
    const account = await registerVerified(t);
    const since = t.mail.messages.length;
    expect((await form('/forgot-password', { email: account.email })).status).toBe(200);
    const token = tokenIn(await nextMail(t, account.email, 'reset', since));
    expect((await fetch(`${t.url}/reset-password?token=${token}`)).status).toBe(200);

    const weak = await form('/reset-password', { token, new_password: 'short' });
    expect(weak.status).toBe(422);
    const html = await weak.text();
    expect(html).toContain('aria-describedby="new_password-hint new_password-error"');
    expect(html).toContain('id="new_password-error"');
    expect(html).toContain('is shorter than the minimum length');
    expect(html).toContain(`value="${token}"`);

    const done = await form('/reset-password', { token, new_password: 'a-much-better-passphrase-42' });
    expect(done.status).toBe(200);
    expect(await done.text()).toContain('Your password is changed');
    expect(await streamTypes(t.services, `user-${account.userId}`)).toContain('PasswordResetCompleted');
    expect((await fetch(`${t.url}/reset-password?token=${token}`)).status).toBe(400);
    const login = await postJson(t, '/v1/auth/login', {
      email: account.email,
      password: 'a-much-better-passphrase-42',
    });
    expect(login.status).toBe(200);
  });

  it('forgot-password answers the same page for a known and an unknown address', async () => {
    const known = await registerVerified(t);
    const a = await form('/forgot-password', { email: known.email });
    const b = await form('/forgot-password', { email: 'nobody-here@example.com' });
    expect([a.status, b.status]).toEqual([200, 200]);
    expect(await a.text()).toBe(await b.text());
    const empty = await form('/forgot-password', { email: '' });
    expect(empty.status).toBe(400);
    const html = await empty.text();
    expect(html).toContain('aria-describedby="email-error"');
    expect(html).toContain('aria-invalid="true"');
  });

  it('refuses a cross-site form POST with 403 before it runs; the page own form (Origin null) passes', async () => {
    const r = await register(t);
    const refused: Record<string, string>[] = [
      { 'sec-fetch-site': 'cross-site' },
      { 'sec-fetch-site': 'same-site' },
      { origin: 'https://evil.example' },
      { origin: 'http://identity.test.evil.example', 'sec-fetch-site': 'same-origin' },
    ];
    for (const headers of refused) {
      const res = await form('/verify-email', { token: r.token }, headers);
      expect(res.status).toBe(403);
      expectPageHeaders(res);
    }
    expect(await streamTypes(t.services, `user-${r.userId}`)).not.toContain('EmailVerified');
    const own = await form('/verify-email', { token: r.token }, { origin: 'http://identity.test' });
    expect(own.status).toBe(200);
  });

  it('serves its stylesheet itself; a wrong method is an HTML 405 with Allow', async () => {
    const css = await fetch(`${t.url}/assets/pages.css`);
    expect(css.status).toBe(200);
    expect(css.headers.get('content-type')).toBe('text/css; charset=utf-8');
    const put = await fetch(`${t.url}/verify-email`, { method: 'PUT' });
    expect(put.status).toBe(405);
    expect(put.headers.get('allow')).toBe('GET, HEAD, POST');
    expect(put.headers.get('content-type')).toBe('text/html; charset=utf-8');
    const json = await form('/verify-email', {}, {});
    expect(json.status).toBe(400);
  });
});

describe('hosted pages share the JSON API rate limits', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp(embedded!, {
      env: { RATE_LIMITS_ENABLED: 'true', RATE_LIMIT_EMAIL_PER_MINUTE: '2' },
      runSubscriptions: false,
    });
  });
  afterAll(() => t.close());

  it('the page form and the JSON route draw on one bucket; the refusal is a page with Retry-After', async () => {
    const body = new URLSearchParams({ token: 'x' }).toString();
    const page = () =>
      fetch(`${t.url}/verify-email`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body,
      });
    expect((await page()).status).toBe(400);
    expect((await postJson(t, '/v1/auth/verify-email', { token: 'A'.repeat(64) })).status).toBe(400);
    const limited = await page();
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(limited.headers.get('content-type')).toBe('text/html; charset=utf-8');
  });
});
