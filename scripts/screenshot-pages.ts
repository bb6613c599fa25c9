/**
 * Screenshots of the hosted pages for the README (`npx tsx scripts/screenshot-pages.ts`): starts the
 * service as `npm start` would (embedded store, mail as files) in a scratch DATA_DIR, registers an
 * account, opens the verification link from the mail file in Chromium, and saves what a new user sees:
 * docs/verify-email-page.png (a phone-sized viewport). Needs Chromium at /usr/bin/chromium (or CHROMIUM).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { CHROMIUM, LAUNCH_ARGS } from '../test/support/chromium';
import { freePort } from '../test/support/local-servers';

const REPO = path.resolve(__dirname, '..');
const OUT = path.join(REPO, 'docs', 'verify-email-page.png');

const waitFor = async <T>(
  what: string,
  probe: () => Promise<T | null> | T | null,
  ms = 180_000,
): Promise<T> => {
  const deadline = Date.now() + ms;
  for (;;) {
    const found = await probe();
    if (found !== null) return found;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
};

const main = async (): Promise<void> => {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'identity-screenshot-'));
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const child = spawn(process.execPath, ['-r', require.resolve('tsx/cjs'), 'src/main.ts'], {
    cwd: REPO,
    env: {
      ...process.env,
      DATA_DIR: dataDir,
      PORT: String(port),
      HOST: '127.0.0.1',
      PUBLIC_URL: base,
      LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  try {
    await waitFor('the service', async () => {
      const res = await fetch(`${base}/health/live`).catch(() => null);
      return res?.ok ? true : null;
    });
    const email = 'ada@example.com';
    const res = await fetch(`${base}/v1/auth/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email, password: 'plum-violet-harbour-9417' }),
    });
    if (res.status !== 202) throw new Error(`register answered ${res.status}`);
    const link = await waitFor('the verification mail', () => {
      const dir = path.join(dataDir, 'mail');
      const file = (() => {
        try {
          return readdirSync(dir).find((n) => n.endsWith('.txt') && n.includes('-verification-'));
        } catch {
          return undefined;
        }
      })();
      return file ? (readFileSync(path.join(dir, file), 'utf8').match(/https?:\/\/\S+/)?.[0] ?? null) : null;
    });
    const browser = await chromium.launch({
      executablePath: process.env.CHROMIUM ?? CHROMIUM,
      args: LAUNCH_ARGS,
    });
    const page = await browser.newPage({ viewport: { width: 390, height: 640 }, deviceScaleFactor: 2 });
    await page.goto(link);
    await page.screenshot({ path: OUT });
    await browser.close();
    process.stdout.write(`wrote ${path.relative(REPO, OUT)} (the page ${new URL(link).pathname} opens)\n`);
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
    rmSync(dataDir, { recursive: true, force: true });
  }
};

main().catch((e: unknown) => {
  process.stderr.write(`screenshot failed: ${(e as Error).message}\n`);
  process.exit(1);
});
