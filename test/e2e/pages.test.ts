/**
 * The mailed links and browser apps in a real browser (Debian's Chromium, playwright-core), against the
 * real service process on the embedded store with mail written as files under DATA_DIR, as `npm start`
 * runs it: open the link from the mail file, press the button, see the result. A second HTTP server on
 * other origins plays the operator's browser app (CORS) and a hostile site (cross-site form POST).
 * Without Chromium the test is skipped with a notice, except with CI=true, where it fails.
 */
import { rmSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { describeInChromium, launchChromium, requireChromium } from '../support/chromium';
import { freePort } from '../support/local-servers';
import { linkFromMail } from '../support/mail-files';
import { freshDataDir, ServiceProcess } from '../support/service-process';

const PASSWORD = 'plum-violet-harbour-9417';

/** What runs in the page (the test's own types have no DOM). */
type Dom = {
  document: { activeElement: { id: string } | null };
  getComputedStyle: (e: unknown) => { backgroundColor: string };
};
// Serialised into the page: it may name only the page's own globals.
const focused = () => (globalThis as unknown as Dom).document.activeElement?.id;

describeInChromium('pages test', 'hosted pages and CORS in Chromium', () => {
  let svc: ServiceProcess;
  let dataDir: string;
  let base: string;
  let other: http.Server;
  /** The operator's app (listed in CORS_ALLOWED_ORIGINS) and a site that is not. */
  let appOrigin: string;
  let strangerOrigin: string;
  let browser: Browser;
  let context: BrowserContext;
  const problems: string[] = [];

  beforeAll(async () => {
    requireChromium();
    // A page on another origin: whatever HTML the test puts at ?html=, or a blank page.
    other = http.createServer((req, res) => {
      const html =
        new URL(req.url ?? '/', 'http://x').searchParams.get('html') ?? '<!doctype html><p>app</p>';
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(html);
    });
    await new Promise<void>((resolve) => other.listen(0, '127.0.0.1', () => resolve()));
    const otherPort = (other.address() as AddressInfo).port;
    appOrigin = `http://localhost:${otherPort}`;
    strangerOrigin = `http://127.0.0.1:${otherPort}`;

    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    dataDir = await freshDataDir();
    svc = new ServiceProcess({
      dataDir,
      env: {
        PORT: String(port),
        PUBLIC_URL: base,
        APP_URL: `${appOrigin}/signed-in`,
        CORS_ALLOWED_ORIGINS: appOrigin,
        RATE_LIMITS_ENABLED: 'true',
      },
    });
    await svc.start();
    browser = await launchChromium();
    context = await browser.newContext({ serviceWorkers: 'block' });
  }, 120_000);

  afterAll(async () => {
    await context?.close();
    await browser?.close();
    await svc?.dispose();
    await new Promise((r) => other?.close(r));
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  const newPage = async (): Promise<Page> => {
    const page = await context.newPage();
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    page.on('console', (m) => {
      if (/Content Security Policy|Refused to/i.test(m.text())) problems.push(m.text());
    });
    return page;
  };

  const register = async (email: string) => {
    const res = await fetch(`${base}/v1/auth/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email, password: PASSWORD }),
    });
    expect(res.status).toBe(202);
  };

  const login = (email: string, password: string) =>
    fetch(`${base}/v1/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email, password }),
    });

  it('register, open the link from the mail file, press the button: verified; the link then says it is used', async () => {
    const email = `ada-${Date.now()}@example.com`;
    await register(email);
    const link = await linkFromMail(dataDir, email, 'verification');
    expect(link.startsWith(`${base}/verify-email?token=`)).toBe(true);
    expect((await login(email, PASSWORD)).status).toBe(403);

    const page = await newPage();
    const opened = await page.goto(link);
    expect(opened?.status()).toBe(200);
    expect(opened?.headers()['cache-control']).toBe('no-store');
    await expect(page.locator('h1').textContent()).resolves.toBe('Verify your email address');
    // The stylesheet is the service's own and applied: the button is styled.
    const background = await page
      .locator('button')
      .evaluate((b) => (globalThis as unknown as Dom).getComputedStyle(b).backgroundColor);
    expect(background).toBe('rgb(29, 78, 216)');
    // Opening the link used nothing up: the password still does not log in.
    expect((await login(email, PASSWORD)).status).toBe(403);

    await page.getByRole('button', { name: 'Verify my email address' }).click();
    await page.waitForLoadState();
    await expect(page.locator('h1').textContent()).resolves.toBe('Your email address is verified');
    await expect(page.getByRole('link', { name: 'Continue' }).getAttribute('href')).resolves.toBe(
      `${appOrigin}/signed-in`,
    );
    expect((await login(email, PASSWORD)).status).toBe(200);

    const again = await page.goto(link);
    expect(again?.status()).toBe(400);
    await expect(page.locator('h1').textContent()).resolves.toBe('This link does not work any more');
    await page.getByRole('link', { name: 'Get a new verification link' }).click();
    await expect(page.locator('label[for="email"]').textContent()).resolves.toBe('Email address');
    await page.close();
    expect(problems).toEqual([]);
  }, 90_000);

  it('forgot password on the page, the reset link from the mail; a weak password keeps the link; then a new one works', async () => {
    const email = `grace-${Date.now()}@example.com`;
    await register(email);
    const page = await newPage();
    await page.goto(await linkFromMail(dataDir, email, 'verification'));
    await page.getByRole('button').click();
    await page.waitForLoadState();

    await page.goto(`${base}/forgot-password`);
    // The field has the focus on arrival, a phone's keyboard opens on it.
    await expect(page.evaluate(focused)).resolves.toBe('email');
    await page.getByLabel('Email address').fill(email);
    await page.getByRole('button', { name: 'Send me a reset link' }).click();
    await page.waitForLoadState();
    await expect(page.locator('h1').textContent()).resolves.toBe('Check your email');

    const link = await linkFromMail(dataDir, email, 'reset');
    expect(link.startsWith(`${base}/reset-password?token=`)).toBe(true);
    await page.goto(link);
    await page.getByLabel('New password').fill('too-short');
    await page.getByRole('button', { name: 'Set the new password' }).click();
    await page.waitForLoadState();
    const field = page.getByLabel('New password');
    await expect(field.getAttribute('aria-invalid')).resolves.toBe('true');
    const describedBy = (await field.getAttribute('aria-describedby')) ?? '';
    const error = page.locator(`[id="${describedBy.split(' ').at(-1)}"]`);
    await expect(error.textContent()).resolves.toContain('is shorter than the minimum length');
    await expect(page.evaluate(focused)).resolves.toBe('new_password');

    await field.fill('a-much-better-passphrase-42');
    await page.getByRole('button', { name: 'Set the new password' }).click();
    await page.waitForLoadState();
    await expect(page.locator('h1').textContent()).resolves.toBe('Your password is changed');
    expect((await login(email, 'a-much-better-passphrase-42')).status).toBe(200);
    expect((await page.goto(link))?.status()).toBe(400);
    await page.close();
    expect(problems).toEqual([]);
  }, 90_000);

  it('a form on another site that posts to the verification page is refused with 403 and verifies nothing', async () => {
    const email = `eve-${Date.now()}@example.com`;
    await register(email);
    const link = await linkFromMail(dataDir, email, 'verification');
    const token = new URL(link).searchParams.get('token') ?? '';
    const page = await newPage();
    for (const origin of [appOrigin, strangerOrigin]) {
      const html = `<!doctype html><form method="post" action="${base}/verify-email"><input type="hidden" name="token" value="${token}"><button>go</button></form>`;
      await page.goto(`${origin}/?html=${encodeURIComponent(html)}`);
      const [answer] = await Promise.all([
        page.waitForResponse((r) => r.url() === `${base}/verify-email`),
        page.getByRole('button', { name: 'go' }).click(),
      ]);
      expect(answer.status()).toBe(403);
    }
    expect((await login(email, PASSWORD)).status).toBe(403);
    await page.close();
  }, 60_000);

  it('CORS: the listed app origin calls the API (preflight and all); another origin cannot read it', async () => {
    const call = (page: Page) =>
      page.evaluate(async (url) => {
        try {
          const res = await fetch(`${url}/v1/auth/login`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', 'idempotency-key': 'k-1' },
            body: JSON.stringify({ email: 'nobody@example.com', password: 'wrong-password-123' }),
          });
          return { status: res.status, body: await res.text(), retry: res.headers.get('x-request-id') };
        } catch (e) {
          return { error: String(e) };
        }
      }, base);

    const app = await newPage();
    await app.goto(`${appOrigin}/`);
    const allowed = await call(app);
    expect(allowed).toMatchObject({ status: 401 });
    expect(JSON.parse((allowed as { body: string }).body)).toMatchObject({ code: 'invalid-credentials' });
    expect((allowed as { retry: string | null }).retry).not.toBeNull();

    const stranger = await newPage();
    await stranger.goto(`${strangerOrigin}/`);
    expect(await call(stranger)).toEqual({ error: expect.stringContaining('Failed to fetch') });
    await app.close();
    await stranger.close();
  }, 60_000);
});
