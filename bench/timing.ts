/**
 * Timing of the answers that must not tell an existing account from an unknown one (CONTRACT.md
 * "Accounts", docs/design.md "Uniform timing"): for each row, alternating single requests (one in flight,
 * existing then unknown), their medians, the accuracy of a one-threshold classifier on ONE request, and a
 * Mann-Whitney z.
 *
 * The accuracy is cross-validated: the threshold (and its direction) is chosen on one half of the pairs
 * and scored on the other, then the halves swap. Scoring the threshold on the samples it was chosen from
 * would read about 0.54 even for two identical distributions at 300 samples each (the Kolmogorov-Smirnov
 * statistic's bias), so that figure could not tell a leak from luck.
 *
 *   npx tsx bench/timing.ts [--samples=N]      (builds nothing: run `npm run build` first)
 */
import { readdir, readFile } from 'node:fs/promises';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { Clients } from './http-load';
import { scratchDatabase, sleep, startService } from './processes';
import { newEmail, PASSWORD } from './scenarios';

export type TimingRow = {
  name: string;
  samples: number;
  existing_median_ms: number;
  unknown_median_ms: number;
  accuracy: number;
  mann_whitney_z: number;
};

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
};

type Classifier = { threshold: number; existingAbove: boolean };

const score = (c: Classifier, existing: readonly number[], unknown: readonly number[]): number => {
  const right =
    existing.filter((x) => x > c.threshold === c.existingAbove).length +
    unknown.filter((x) => x > c.threshold !== c.existingAbove).length;
  return right / (existing.length + unknown.length);
};

/** The threshold and direction that classify these samples best. */
const fit = (existing: readonly number[], unknown: readonly number[]): Classifier => {
  let best: Classifier = { threshold: -Infinity, existingAbove: true };
  let bestScore = -1;
  for (const threshold of [...existing, ...unknown]) {
    for (const existingAbove of [true, false]) {
      const s = score({ threshold, existingAbove }, existing, unknown);
      if (s > bestScore) [best, bestScore] = [{ threshold, existingAbove }, s];
    }
  }
  return best;
};

/** Two-fold cross-validated accuracy over pairs split by parity. */
export const crossValidatedAccuracy = (existing: readonly number[], unknown: readonly number[]): number => {
  const half = (xs: readonly number[], parity: number) => xs.filter((_, i) => i % 2 === parity);
  const folds = [0, 1].map((p) =>
    score(fit(half(existing, p), half(unknown, p)), half(existing, 1 - p), half(unknown, 1 - p)),
  );
  return (folds[0]! + folds[1]!) / 2;
};

/** Mann-Whitney U as a z score (normal approximation, mid-ranks for ties, tie-corrected variance). */
export const mannWhitneyZ = (a: readonly number[], b: readonly number[]): number => {
  const all = [...a.map((v) => ({ v, g: 0 })), ...b.map((v) => ({ v, g: 1 }))].sort((x, y) => x.v - y.v);
  const ranks = new Array<number>(all.length);
  let tieTerm = 0;
  for (let i = 0; i < all.length;) {
    let j = i;
    while (j + 1 < all.length && all[j + 1]!.v === all[i]!.v) j++;
    const rank = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++) ranks[k] = rank;
    const t = j - i + 1;
    tieTerm += t ** 3 - t;
    i = j + 1;
  }
  const n1 = a.length;
  const n2 = b.length;
  const r1 = all.reduce((sum, x, i) => (x.g === 0 ? sum + ranks[i]! : sum), 0);
  const u = r1 - (n1 * (n1 + 1)) / 2;
  const n = n1 + n2;
  const variance = ((n1 * n2) / 12) * (n + 1 - tieTerm / (n * (n - 1)));
  return variance > 0 ? (u - (n1 * n2) / 2) / Math.sqrt(variance) : 0;
};

type Body = Record<string, unknown>;

const timedPost = async (clients: Clients, pathname: string, body: Body, status: number): Promise<number> => {
  const started = performance.now();
  await clients.expect({ method: 'POST', path: pathname, body }, status);
  return performance.now() - started;
};

/**
 * `samples` pairs of one existing and one unknown request. Which of the two goes first is drawn per pair
 * (seeded): an append leaves work behind it in the service (read models, mail), which slows whatever
 * request comes next, so a fixed order would charge that to the unknown case.
 */
const compare = async (
  clients: Clients,
  name: string,
  samples: number,
  pathname: string,
  status: number,
  existing: (i: number) => Body,
  unknown: (i: number) => Body,
): Promise<TimingRow> => {
  const a: number[] = [];
  const b: number[] = [];
  let seed = 0x9e3779b9;
  const coin = (): boolean => {
    // xorshift32: the same order every run.
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    return (seed & 1) === 1;
  };
  for (let i = 0; i < samples; i++) {
    if (coin()) {
      a.push(await timedPost(clients, pathname, existing(i), status));
      b.push(await timedPost(clients, pathname, unknown(i), status));
    } else {
      b.push(await timedPost(clients, pathname, unknown(i), status));
      a.push(await timedPost(clients, pathname, existing(i), status));
    }
  }
  return {
    name,
    samples,
    existing_median_ms: +median(a).toFixed(2),
    unknown_median_ms: +median(b).toFixed(2),
    accuracy: +crossValidatedAccuracy(a, b).toFixed(3),
    mann_whitney_z: +mannWhitneyZ(a, b).toFixed(2),
  };
};

/** Every verification link written to the mail folder, by address. */
const verificationTokens = async (dataDir: string): Promise<Map<string, string>> => {
  const dir = path.join(dataDir, 'mail');
  const tokens = new Map<string, string>();
  for (const file of (await readdir(dir).catch(() => [])).filter((f) => f.endsWith('.txt'))) {
    const text = await readFile(path.join(dir, file), 'utf8');
    const to = /^To: (.+)$/m.exec(text)?.[1];
    const token = /verify-email\?token=([A-Za-z0-9_-]+)/.exec(text)?.[1];
    if (to && token) tokens.set(to, token);
  }
  return tokens;
};

const registerAll = async (clients: Clients, emails: string[]): Promise<void> => {
  for (let i = 0; i < emails.length; i += 4) {
    await Promise.all(
      emails
        .slice(i, i + 4)
        .map((email, w) =>
          clients.expect(
            { method: 'POST', path: '/v1/auth/register', body: { email, password: PASSWORD } },
            202,
            w,
          ),
        ),
    );
  }
};

/** Registers and verifies through the mailed links, as a person would. */
const verifiedAccounts = async (clients: Clients, dataDir: string, n: number): Promise<string[]> => {
  const emails = Array.from({ length: n }, () => newEmail('timing-verified'));
  await registerAll(clients, emails);
  const deadline = Date.now() + 60_000;
  let tokens = await verificationTokens(dataDir);
  while (emails.some((e) => !tokens.has(e))) {
    if (Date.now() > deadline) throw new Error('verification mails did not arrive within 60 s');
    await sleep(200);
    tokens = await verificationTokens(dataDir);
  }
  for (const email of emails) {
    await clients.expect(
      { method: 'POST', path: '/v1/auth/verify-email', body: { token: tokens.get(email) } },
      200,
    );
  }
  return emails;
};

/**
 * The five rows, on a service of its own with the default settings (verification required) but no rate
 * limits. Accounts are made first, then the service is left to settle, so that the measured pairs do not
 * race the read models' catching up.
 */
export const timingComparison = async (options: {
  backend: 'embedded' | 'postgres';
  samples: number;
  log: (line: string) => void;
}): Promise<TimingRow[]> => {
  const { samples, log } = options;
  const cleanups: (() => Promise<void> | void)[] = [];
  try {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'identity-bench-timing-'));
    cleanups.push(() => rmSync(dataDir, { recursive: true, force: true }));
    let databaseUrl: string | undefined;
    if (options.backend === 'postgres') {
      const db = await scratchDatabase(process.env.DATABASE_URL as string);
      cleanups.push(db.drop);
      databaseUrl = db.url;
    }
    const service = await startService({
      dataDir,
      databaseUrl,
      threadpool: 4,
      env: { REQUIRE_VERIFIED_EMAIL: 'true', LOG_LEVEL: 'error' },
    });
    cleanups.push(service.stop);
    const clients = new Clients([service.origin], 4);
    cleanups.push(() => clients.close());

    log(`timing: making ${samples} pending and ${Math.ceil(samples / 4) + 2} verified accounts`);
    const pending = Array.from({ length: samples }, () => newEmail('timing-pending'));
    await registerAll(clients, pending);
    // Login: four wrong passwords per account stay below the lock.
    const verified = await verifiedAccounts(clients, dataDir, Math.ceil(samples / 4) + 2);
    const [throttled, taken] = verified.slice(-2) as [string, string];
    await clients.expect(
      { method: 'POST', path: '/v1/auth/forgot-password', body: { email: throttled } },
      202,
    );
    // The registrations' mails and read-model updates run behind their answers: let them finish.
    await sleep(3_000);

    const unknown = () => ({ email: newEmail('timing-unknown') });
    const rows: TimingRow[] = [];
    const row = async (r: Promise<TimingRow>) => {
      const done = await r;
      log(`timing: ${done.name}: accuracy ${done.accuracy}, z ${done.mann_whitney_z}`);
      rows.push(done);
    };
    await row(
      compare(
        clients,
        'forgot-password (pending account)',
        samples,
        '/v1/auth/forgot-password',
        202,
        (i) => ({ email: pending[i] }),
        unknown,
      ),
    );
    await row(
      compare(
        clients,
        'forgot-password (verified, throttled)',
        samples,
        '/v1/auth/forgot-password',
        202,
        () => ({ email: throttled }),
        unknown,
      ),
    );
    await row(
      compare(
        clients,
        'resend-verification (verified)',
        samples,
        '/v1/auth/resend-verification',
        202,
        () => ({ email: taken }),
        unknown,
      ),
    );
    await row(
      compare(
        clients,
        'register (verified vs new)',
        samples,
        '/v1/auth/register',
        202,
        () => ({ email: taken, password: PASSWORD }),
        () => ({ email: newEmail('timing-new'), password: PASSWORD }),
      ),
    );
    await row(
      compare(
        clients,
        'login, wrong password',
        samples,
        '/v1/auth/login',
        401,
        (i) => ({ email: verified[Math.floor(i / 4)], password: 'a wrong password, long enough' }),
        () => ({ ...unknown(), password: 'a wrong password, long enough' }),
      ),
    );
    return rows;
  } finally {
    for (const cleanup of cleanups.reverse()) await Promise.resolve(cleanup()).catch(() => undefined);
  }
};

export const timingTable = (rows: readonly TimingRow[], target = 0.55): string =>
  [
    '| endpoint | samples | existing p50 | unknown p50 | accuracy (cross-validated) | Mann-Whitney z | target ≤ ' +
      `${target} |`,
    '|---|---|---|---|---|---|---|',
    ...rows.map(
      (r) =>
        `| ${r.name} | ${r.samples} | ${r.existing_median_ms.toFixed(1)} ms | ${r.unknown_median_ms.toFixed(1)} ms | ` +
        `${r.accuracy.toFixed(3)} | ${r.mann_whitney_z.toFixed(2)} | ${r.accuracy <= target ? 'met' : '**missed**'} |`,
    ),
  ].join('\n');

if (require.main === module) {
  const samples = Number(
    process.argv.find((a) => a.startsWith('--samples='))?.slice('--samples='.length) ?? 300,
  );
  timingComparison({
    backend: process.env.DATABASE_URL ? 'postgres' : 'embedded',
    samples,
    log: (line) => void process.stderr.write(`bench: ${line}\n`),
  }).then(
    (rows) => {
      process.stdout.write(`${timingTable(rows)}\n`);
      process.exit(0);
    },
    (e: unknown) => {
      process.stderr.write(`timing failed: ${(e as Error).stack ?? String(e)}\n`);
      process.exit(1);
    },
  );
}
