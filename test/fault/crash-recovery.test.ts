import pg from 'pg';
import { userIdOfToken } from '../support/account-flows';
import { testBackends } from '../support/databases';
import { Mailbox } from '../support/mailbox';
import {
  ServiceProcess,
  createPostgresDatabase,
  expectAnswer,
  freshDataDir,
  removeDataDir,
} from '../support/service-process';
import { checkPromises, checkReadModel } from './crash-checks';
import { newPassword, runAdmin, runUsers, type Workload } from './crash-workload';

/**
 * kill -9 under mixed load: the real service as a child process, SIGKILLed at random moments while users
 * register, verify, sign in, rotate refresh tokens, change passwords and get deactivated, then restarted on
 * the same store. Every acknowledged (2xx) effect must hold afterwards, and the read model must converge to
 * the fold of the events. On the embedded store each start takes over the lock the killed process left.
 */
const KILLS = 4;
const GRACE_SECONDS = 2;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The mail leases a killed instance left on a PostgreSQL store run out now instead of in two minutes. */
const expireMailLeases = (url: string) => async (): Promise<void> => {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(
      `update mail_outbox set lease_until = now() where lease_until > now() and sent_at is null`,
    );
  } finally {
    await client.end();
  }
};

for (const backend of testBackends()) {
  describe(`kill -9 under load (${backend.name})`, () => {
    let dataDir: string;
    let svc: ServiceProcess;
    let dropDatabase: (() => Promise<void>) | undefined;
    let expireLeases: (() => Promise<void>) | undefined;

    beforeAll(async () => {
      dataDir = await freshDataDir({ seed: backend.name === 'embedded' });
      let databaseUrl: string | undefined;
      if (backend.name === 'postgres') {
        const db = await createPostgresDatabase(process.env.DATABASE_URL as string);
        databaseUrl = db.url;
        dropDatabase = db.drop;
      }
      expireLeases = databaseUrl ? expireMailLeases(databaseUrl) : undefined;
      svc = new ServiceProcess({
        dataDir,
        env: {
          BOOTSTRAP_ADMIN_EMAIL: 'admin@example.com',
          REFRESH_REUSE_GRACE_SECONDS: String(GRACE_SECONDS),
          ...(databaseUrl ? { DATABASE_URL: databaseUrl } : {}),
        },
      });
      await svc.start();
    }, 90_000);

    afterAll(async () => {
      await svc?.dispose();
      await dropDatabase?.();
      if (dataDir) removeDataDir(dataDir);
    });

    const signInAdmin = async (mailbox: Mailbox) => {
      const password = newPassword();
      const email = 'admin@example.com';
      await expectAnswer(svc.call('POST', '/v1/auth/register', { email, password }), 202);
      const token = (await mailbox.waitFor(email, 'verification', 15_000))?.at(-1)?.token;
      await expectAnswer(svc.call('POST', '/v1/auth/verify-email', { token }), 200);
      const login = await expectAnswer(svc.call('POST', '/v1/auth/login', { email, password }), 200);
      return {
        userId: userIdOfToken(token as string),
        access: (login.body as { access_token: string }).access_token,
      };
    };

    it('keeps every acknowledged effect across SIGKILLs, and the read model converges to the events', async () => {
      const mailbox = new Mailbox(dataDir);
      const w: Workload = {
        svc,
        mailbox,
        admin: await signInAdmin(mailbox),
        accounts: [],
        violations: [],
        stats: {},
        stopping: false,
        graceMs: GRACE_SECONDS * 1000,
        expireLeases,
      };
      const load = Promise.all([runUsers(w, 5), runAdmin(w)]);
      for (let kill = 0; kill < KILLS; kill += 1) {
        await sleep(1500 + Math.random() * 2500);
        const exit = await svc.kill('SIGKILL');
        expect(exit.signal).toBe('SIGKILL');
        await svc.start();
      }
      await sleep(2000);
      w.stopping = true;
      await load;

      await checkPromises(w);
      const compared = await checkReadModel(w);

      const summary = { stats: w.stats, accounts: w.accounts.length, compared };
      expect({ violations: w.violations, crashes: svc.crashes }).toEqual({ violations: [], crashes: [] });
      // The load did what it is for: every kind of command was acknowledged, and the kills cut calls short.
      const ops = ['register', 'verify-email', 'login', 'refresh', 'change-password', 'deactivate'];
      expect(ops.filter((op) => !w.stats[op]?.acked)).toEqual([]);
      expect(Object.values(w.stats).reduce((n, s) => n + s.lost, 0)).toBeGreaterThan(0);
      expect(compared).toBeGreaterThan(10);
      process.stdout.write(`kill -9 (${backend.name}): ${JSON.stringify(summary)}\n`);
    }, 240_000);
  });
}
