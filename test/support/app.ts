/**
 * The whole service, in process, on a fresh test database: what API and end-to-end tests drive.
 *
 *   const t = await startTestApp(backend);          // backend from testBackends()
 *   await fetch(`${t.url}/v1/auth/register`, ...);  // or supertest(t.app)
 *   t.mail.last('ada@example.com')                  // the messages the mail consumer sent
 *   await t.close();
 *
 * Rate limits are off unless a test turns them on; argon2 runs at the real (floor) parameters.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import type { Express } from 'express';
import type { Mailer, MailMessage } from '../../src/application/mail/ports';
import type { Clock } from '../../src/application/ports';
import { buildApp } from '../../src/api';
import { apiDeps } from '../../src/infrastructure/container';
import { loadConfig, type Config } from '../../src/infrastructure/config';
import { createLogger } from '../../src/infrastructure/logger';
import { createRuntime, type Runtime } from '../../src/infrastructure/runtime';
import { createServices, type Services } from '../../src/infrastructure/services';
import { subscriptionHandlers } from '../../src/infrastructure/subscriptions';
import type { OpenOptions, TestBackend, TestDatabase } from './databases';

export class MemoryMailer implements Mailer {
  readonly messages: MailMessage[] = [];
  /** When set, every send fails with this error (a mail server that is down). */
  failWith: Error | null = null;

  async send(message: MailMessage): Promise<void> {
    if (this.failWith) throw this.failWith;
    this.messages.push(message);
  }

  to(address: string): MailMessage[] {
    return this.messages.filter((m) => m.to === address);
  }

  last(address: string, kind?: string): MailMessage | undefined {
    return this.to(address)
      .filter((m) => kind === undefined || m.kind === kind)
      .at(-1);
  }

  /** The token in the newest link of that kind sent to that address. */
  lastToken(address: string, kind: string): string | undefined {
    const m = this.last(address, kind);
    const match = m?.text.match(/[?&]token=([A-Za-z0-9_-]+)/);
    return match?.[1];
  }

  /** Resolves when a message matching `predicate` has been sent (the mail consumer runs in the background). */
  async waitFor(predicate: (m: MailMessage) => boolean, timeoutMs = 5000): Promise<MailMessage> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.messages.find(predicate);
      if (found) return found;
      if (Date.now() > deadline) throw new Error('expected mail was not sent in time');
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}

export type TestApp = {
  url: string;
  app: Express;
  services: Services;
  runtime: Runtime;
  db: TestDatabase;
  mail: MemoryMailer;
  config: Config;
  close: () => Promise<void>;
};

export type TestAppOptions = {
  /** Environment-style overrides, parsed like the real configuration. */
  env?: Record<string, string>;
  clock?: Clock;
  database?: OpenOptions;
  /** Reuse an open database (e.g. to start a second instance on the same store). */
  db?: TestDatabase;
  /** false: do not start projections and consumers. */
  runSubscriptions?: boolean;
};

export const startTestApp = async (backend: TestBackend, options: TestAppOptions = {}): Promise<TestApp> => {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'identity-test-'));
  const config = loadConfig({
    DATA_DIR: dataDir,
    LOG_LEVEL: 'silent',
    RATE_LIMITS_ENABLED: 'false',
    PUBLIC_URL: 'http://identity.test',
    MASTER_KEY: Buffer.alloc(32, 7).toString('base64'),
    ...options.env,
  });
  const logger = createLogger(process.env.TEST_LOG_LEVEL ?? 'silent');
  const db = options.db ?? (await backend.open(options.database));
  const mail = new MemoryMailer();
  const services = await createServices({
    config,
    logger,
    sql: db.sql,
    store: db.store,
    mailer: mail,
    clock: options.clock,
  });
  const runtime = createRuntime(services, subscriptionHandlers(services));
  if (options.runSubscriptions !== false) runtime.start();
  const app = buildApp(apiDeps(services, runtime));
  const server = http.createServer(app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    app,
    services,
    runtime,
    db,
    mail,
    config,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await runtime.stop();
      for (const c of [...services.closers].reverse()) await c.close();
      if (!options.db) await db.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
};

/**
 * The app of one describe block: started before its first test, closed after its last. The answer stands
 * for the started app (a proxy): use it in tests and hooks, not while the block is being collected.
 *
 *   for (const backend of testBackends()) {
 *     describe(`... (${backend.name})`, () => {
 *       const clock = testClock();
 *       const t = useTestApp(backend, { clock });
 *       it('...', async () => { await postJson(t, ...); });
 *     });
 *   }
 */
export const useTestApp = (backend: TestBackend, options: TestAppOptions = {}): TestApp => {
  let started: TestApp | undefined;
  beforeAll(async () => {
    started = await startTestApp(backend, options);
  });
  afterAll(() => started?.close());
  return new Proxy({} as TestApp, {
    get: (_target, key) => {
      if (!started) throw new Error(`the test app is not started yet (reading ${String(key)})`);
      return Reflect.get(started, key);
    },
  });
};
