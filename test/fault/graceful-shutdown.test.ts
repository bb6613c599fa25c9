import { Mailbox } from '../support/mailbox';
import {
  ServiceProcess,
  bearer,
  freshDataDir,
  expectAnswer,
  removeDataDir,
  type Answer,
} from '../support/service-process';

/**
 * SIGTERM while requests are in flight (src/main.ts): the process stops accepting, lets the requests it
 * has finish with their normal answers, closes its stores, and exits 0. The logins in flight are slow on
 * purpose (argon2 at a raised time cost, about a second each), so the signal surely lands while they run; what
 * they answered is then found intact by the next start.
 */
const PASSWORD = 'plum-violet-harbour-9417';
const USERS = 4;

type Tokens = { access_token: string; refresh_token: string };

describe('SIGTERM with requests in flight', () => {
  let svc: ServiceProcess;
  let dataDir: string;

  beforeAll(async () => {
    dataDir = await freshDataDir();
    svc = new ServiceProcess({ dataDir, env: { ARGON2_TIME_COST: '40' } });
    await svc.start();
  }, 60_000);

  afterAll(async () => {
    await svc?.dispose();
    if (dataDir) removeDataDir(dataDir);
  });

  it('finishes the requests in flight with their normal answers, then exits 0', async () => {
    const mailbox = new Mailbox(dataDir);
    const emails = Array.from({ length: USERS }, (_, i) => `slow.${i}@example.com`);
    await Promise.all(
      emails.map(async (email) => {
        await expectAnswer(svc.call('POST', '/v1/auth/register', { email, password: PASSWORD }), 202);
        const token = (await mailbox.waitFor(email, 'verification', 15_000))?.at(-1)?.token;
        await expectAnswer(svc.call('POST', '/v1/auth/verify-email', { token }), 200);
      }),
    );

    const answeredAt: number[] = [];
    const logins = emails.map(async (email) => {
      const a = await svc.call('POST', '/v1/auth/login', { email, password: PASSWORD });
      answeredAt.push(Date.now());
      return a;
    });
    await new Promise((r) => setTimeout(r, 400));
    const signalled = Date.now();
    const exit = await svc.terminate();
    const answers = await Promise.all(logins);

    expect(exit).toEqual({ code: 0, signal: null });
    expect(answers.map((a) => (a.kind === 'answer' ? a.status : a.error))).toEqual(emails.map(() => 200));
    // They really were in flight when the signal came.
    expect(Math.min(...answeredAt)).toBeGreaterThanOrEqual(signalled);

    // What they answered was made durable before the exit: each session lives on in the next process.
    await svc.start();
    for (const a of answers as Answer[]) {
      const tokens = a.body as Tokens;
      await expectAnswer(svc.call('POST', '/v1/auth/test-token', {}, bearer(tokens.access_token)), 200);
      await expectAnswer(svc.call('POST', '/v1/auth/refresh', { refresh_token: tokens.refresh_token }), 200);
    }
    expect(svc.crashes).toEqual([]);
  }, 120_000);
});
