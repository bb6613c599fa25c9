/**
 * Debian's Chromium for the browser tests, driven by playwright-core. Without it a browser test is
 * skipped with a notice, except with CI=true, where it fails (.ci/run installs Chromium).
 */
import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';

/** Headless as root, and nothing that reaches for the network this machine does not have. */
export const LAUNCH_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

const installed = existsSync(CHROMIUM);
const required = process.env.CI === 'true';

/** `describe`, or `describe.skip` with a notice naming `what` when Chromium is missing outside CI. */
export const describeInChromium = (what: string, title: string, body: () => void): void => {
  if (!installed && !required) {
    process.stderr.write(`${what} skipped: ${CHROMIUM} is missing (apt-get install chromium)\n`);
  }
  (installed || required ? describe : describe.skip)(title, body);
};

/** Fails at once, naming the browser, when CI=true and Chromium is missing. */
export const requireChromium = (): void => {
  if (!installed) throw new Error(`CI=true and ${CHROMIUM} is missing: .ci/run installs it`);
};

export const launchChromium = (): Promise<Browser> =>
  chromium.launch({ executablePath: CHROMIUM, args: LAUNCH_ARGS });
