import net from 'node:net';
import { SMTPServer } from 'smtp-server';
import { findPart, parseMime } from '../unit/mail/mime';
import {
  ServiceProcess,
  freePort,
  freshDataDir,
  expectAnswer,
  removeDataDir,
  type Outcome,
} from '../support/service-process';

/**
 * The mail server is down: commands that send mail still answer at once (mail goes through the outbox,
 * never inside a request), and once the server is back every message goes out, each exactly once.
 * The service is the real process with SMTP_URL pointing at an SMTP server in this test, which is stopped
 * (connections refused), then hangs (a listener that accepts and never greets), then is started again on
 * the same port.
 */
const PASSWORD = 'plum-violet-harbour-9417';
const PHASE_MS = 2_000;
/**
 * Well below what a request waiting on SMTP would take against the hung server (nodemailer's connection
 * and greeting timeouts are 10 s each), and loose enough for argon2 on a busy CI machine.
 */
const PROMPT_MS = 5_000;

type Received = { to: string; kind: string; token: string | null };

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('the mail server is down', () => {
  const received: Received[] = [];
  let port: number;
  let smtp: SMTPServer | null = null;
  let svc: ServiceProcess;
  let dataDir: string;

  const startSmtp = async (): Promise<void> => {
    const server = new SMTPServer({
      authOptional: true,
      disabledCommands: ['STARTTLS'],
      logger: false,
      onData(stream, session, callback) {
        const chunks: Buffer[] = [];
        stream.on('data', (c: Buffer) => chunks.push(c));
        stream.on('end', () => {
          const mime = parseMime(Buffer.concat(chunks).toString('utf8'));
          const text = findPart(mime, 'text/plain')?.body ?? mime.body;
          for (const rcpt of session.envelope.rcptTo) {
            received.push({
              to: rcpt.address.toLowerCase(),
              kind: mime.headers['x-identity-mail-kind'] ?? '',
              token: /[?&]token=([A-Za-z0-9_-]+)/.exec(text)?.[1] ?? null,
            });
          }
          callback();
        });
      },
    });
    await new Promise<void>((resolve, reject) => {
      server.server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve());
    });
    smtp = server;
  };

  const stopSmtp = async (): Promise<void> => {
    const server = smtp;
    smtp = null;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  };

  /** Holds the port: accepts connections and never answers. Resolves with a function that drops it. */
  const hangSmtp = async (): Promise<() => Promise<void>> => {
    const sockets = new Set<net.Socket>();
    const server = net.createServer((socket) => {
      sockets.add(socket);
      socket.on('error', () => undefined);
    });
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', () => resolve()));
    return async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    };
  };

  beforeAll(async () => {
    port = await freePort();
    await startSmtp();
    dataDir = await freshDataDir();
    svc = new ServiceProcess({ dataDir, env: { SMTP_URL: `smtp://127.0.0.1:${port}` } });
    await svc.start();
  }, 60_000);

  afterAll(async () => {
    await svc?.dispose();
    await stopSmtp();
    if (dataDir) removeDataDir(dataDir);
  });

  const mails = (to: string, kind?: string) =>
    received.filter((m) => m.to === to && (!kind || m.kind === kind));

  const waitForMail = async (to: string, kind: string, timeoutMs: number): Promise<Received> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = mails(to, kind).at(-1);
      if (found) return found;
      if (Date.now() > deadline) throw new Error(`no ${kind} mail to ${to}`);
      await sleep(100);
    }
  };

  /** The answer and how long it took. */
  const timed = async (call: () => Promise<Outcome>, status: number): Promise<number> => {
    const started = Date.now();
    await expectAnswer(call(), status);
    return Date.now() - started;
  };

  it('answers at once while it is down, and sends every message exactly once when it is back', async () => {
    // A verified account, by the mail that went out while the server was up.
    const vera = 'vera@example.com';
    await expectAnswer(svc.call('POST', '/v1/auth/register', { email: vera, password: PASSWORD }), 202);
    const link = await waitForMail(vera, 'verification', 15_000);
    await expectAnswer(svc.call('POST', '/v1/auth/verify-email', { token: link.token }), 200);

    const newcomers = Array.from({ length: 5 }, (_, i) => `newcomer.${i}@example.com`);
    const register = (email: string) =>
      timed(() => svc.call('POST', '/v1/auth/register', { email, password: PASSWORD }), 202);
    const forgot = (email: string) =>
      timed(() => svc.call('POST', '/v1/auth/forgot-password', { email }), 202);

    await stopSmtp();
    const whileRefused = await Promise.all([...newcomers.slice(0, 3).map(register), forgot(vera)]);
    await sleep(PHASE_MS);
    const dropHungServer = await hangSmtp();
    const whileHung = await Promise.all([...newcomers.slice(3).map(register), forgot('nobody@example.com')]);
    await sleep(PHASE_MS);
    await dropHungServer();
    expect(Math.max(...whileRefused, ...whileHung)).toBeLessThan(PROMPT_MS);
    expect(received.filter((m) => m.to !== vera)).toEqual([]);

    await startSmtp();
    const reset = await waitForMail(vera, 'reset', 30_000);
    const links = await Promise.all(newcomers.map((email) => waitForMail(email, 'verification', 30_000)));
    // Long enough for a second copy of anything to show up: a retry round is due within a second or two.
    await sleep(3_000);

    for (const email of newcomers) expect({ email, count: mails(email).length }).toEqual({ email, count: 1 });
    expect({ verification: mails(vera, 'verification').length, reset: mails(vera, 'reset').length }).toEqual({
      verification: 1,
      reset: 1,
    });
    expect(mails('nobody@example.com')).toEqual([]);

    // The links that waited out the outage work.
    await expectAnswer(svc.call('POST', '/v1/auth/verify-email', { token: links[0]?.token }), 200);
    await expectAnswer(svc.call('POST', '/v1/auth/login', { email: newcomers[0], password: PASSWORD }), 200);
    const next = 'quince-amber-lantern-2208';
    await expectAnswer(
      svc.call('POST', '/v1/auth/reset-password', { token: reset.token, new_password: next }),
      204,
    );
    await expectAnswer(svc.call('POST', '/v1/auth/login', { email: vera, password: next }), 200);
    expect(svc.crashes).toEqual([]);
  }, 90_000);
});
