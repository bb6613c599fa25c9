/**
 * The documentation page in a real browser: Debian's Chromium driven by playwright-core. Without Chromium
 * the test is skipped with a notice, except with CI=true, where it fails (.ci/run installs Chromium).
 */
import type { Browser, BrowserContext } from 'playwright-core';
import { describeInChromium, launchChromium, requireChromium } from '../support/chromium';
import { startTestApp, type TestApp } from '../support/app';
import { testBackends } from '../support/databases';

describeInChromium('docs page test', 'the documentation page in Chromium', () => {
  let t: TestApp;
  let browser: Browser;
  let context: BrowserContext;
  /** Every URL the page asked for, and those that would have left this machine. */
  const requested: string[] = [];
  const external: string[] = [];
  const problems: string[] = [];

  beforeAll(async () => {
    requireChromium();
    const [embedded] = testBackends();
    t = await startTestApp(embedded!, { runSubscriptions: false });
    browser = await launchChromium();
    context = await browser.newContext({ serviceWorkers: 'block' });
    const origin = new URL(t.url).origin;
    await context.route('**/*', async (route) => {
      const url = route.request().url();
      requested.push(url);
      const { protocol } = new URL(url);
      if (new URL(url).origin === origin || protocol === 'data:' || protocol === 'blob:') {
        await route.continue();
        return;
      }
      external.push(url);
      await route.abort('blockedbyclient');
    });
  }, 60_000);

  afterAll(async () => {
    await context?.close();
    await browser?.close();
    await t?.close();
  });

  it('renders the operations of /openapi.json with assets served by the service, nothing from elsewhere', async () => {
    const page = await context.newPage();
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    page.on('console', (m) => {
      if (m.type() === 'error' || /Content Security Policy/i.test(m.text())) problems.push(m.text());
    });

    const answer = await page.goto(`${t.url}/docs`);
    expect(answer?.status()).toBe(200);

    const operation = (method: string, path: string) =>
      page.locator(`.opblock-${method}`, { has: page.locator(`.opblock-summary-path[data-path="${path}"]`) });
    await operation('post', '/v1/auth/login').waitFor({ state: 'visible', timeout: 30_000 });
    await expect(operation('post', '/v1/auth/login').isVisible()).resolves.toBe(true);
    await expect(operation('get', '/v1/users/me').isVisible()).resolves.toBe(true);
    await expect(operation('post', '/v1/admin/users/{id}/deactivate').isVisible()).resolves.toBe(true);
    // The bearer scheme of the document: the page offers to authorize.
    await expect(page.locator('.btn.authorize').first().isVisible()).resolves.toBe(true);

    const origin = new URL(t.url).origin;
    expect(requested).toEqual(
      expect.arrayContaining([
        `${origin}/docs`,
        `${origin}/docs/assets/swagger-ui-bundle.js`,
        `${origin}/docs/init.js`,
        `${origin}/openapi.json`,
      ]),
    );
    expect(external).toEqual([]);
    expect(problems).toEqual([]);
    await page.close();
  }, 60_000);
});
