import { runEventsTail } from '../../src/cli/events-tail';
import { runHistory, runState } from '../../src/cli/history';
import { runProjectionsRebuild, runProjectionsStatus } from '../../src/cli/projections';
import { testBackends } from '../support/databases';
import { startTestApp, type TestApp } from '../support/app';
import {
  bearer,
  createAccount,
  postJson,
  runUserCommand,
  type TestAccount,
} from '../support/session-fixtures';

const SECRETS = /password_?hash|token_?hash|nonce|\$argon2|pii:v1:/i;

const capture = () => {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, io: { out: (l: string) => void out.push(l), err: (l: string) => void err.push(l) } };
};

for (const backend of testBackends()) {
  describe(`support command line on ${backend.name}`, () => {
    let t: TestApp;
    let admin: TestAccount;
    let user: TestAccount;

    beforeAll(async () => {
      t = await startTestApp(backend);
      admin = await createAccount(t.services, { roles: ['admin'] });
      user = await createAccount(t.services);
      for (let i = 0; i < 5; i++) {
        await postJson(t, '/v1/auth/login', { email: user.email, password: 'not the password at all' });
      }
    });
    afterAll(() => t.close());

    it('answers "why is this user locked?" from history, hiding every hash', async () => {
      const c = capture();
      await expect(runHistory(t.services, [user.email.toUpperCase()], c.io)).resolves.toBe(0);
      const text = c.out.join('\n');
      expect(c.out[0]).toMatch(/#0 {2}UserRegistered .*registered with email /);
      expect(text).toContain(user.email.toLowerCase());
      expect(text).toContain('wrong password (5 in a row)');
      expect(text).toMatch(/AccountLocked +by user .*LOCKED until \S+ \(lock 1 in this run\)/);
      expect(text).not.toMatch(SECRETS);

      const state = capture();
      await expect(runState(t.services, [user.userId], state.io)).resolves.toBe(0);
      expect(JSON.parse(state.out.join('\n'))).toMatchObject({ locked: true, failed_logins: 5 });
      const before = capture();
      await expect(
        runState(t.services, [user.userId, '--as-of', '2001-01-01T00:00:00Z'], before.io),
      ).resolves.toBe(1);
      await expect(runState(t.services, [user.userId, '--as-of'], capture().io)).resolves.toBe(2);
    });

    it('shows [erased] after erasure, and the address no longer finds the account', async () => {
      const res = await postJson(
        t,
        `/v1/admin/users/${user.userId}/erase`,
        { reason: 'asked' },
        bearer(await adminToken()),
      );
      expect(res.status).toBe(204);
      expect(await runHistory(t.services, [user.email], capture().io)).toBe(1);
      const c = capture();
      await expect(runHistory(t.services, [user.userId], c.io)).resolves.toBe(0);
      const text = c.out.join('\n');
      expect(text).toContain('registered with email [erased]');
      expect(text).toMatch(/UserErased +by admin .*reason: "asked"/);
      expect(text).not.toContain(user.email.toLowerCase());
      expect(text).not.toMatch(SECRETS);
    });

    it('rebuilds the projections and reports their status', async () => {
      const rebuilt = capture();
      await expect(runProjectionsRebuild(t.services, [], rebuilt.io)).resolves.toBe(0);
      expect(rebuilt.out).toEqual([
        expect.stringMatching(
          /^user-directory: rebuilt \d+ events in .* \(\d+ events\/s\) into users_v1_2; now active$/,
        ),
        expect.stringMatching(
          /^sessions: rebuilt \d+ events .* into sessions_v1_2, session_cutoffs_v1_2; now active$/,
        ),
      ]);
      expect(await runProjectionsRebuild(t.services, ['nope'], capture().io)).toBe(2);
      const status = capture();
      await expect(runProjectionsStatus(t.services, status.io)).resolves.toBe(0);
      expect(status.out[0]).toMatch(
        /^user-directory: version 1, tables users_v1_2, checkpoint [0-9a-f-]+, lag/,
      );
    });

    it('tails events from a position and live, redacting personal data unless asked', async () => {
      const tail = async (args: string[], lines: number, meanwhile?: () => Promise<unknown>) => {
        const out: string[] = [];
        const stop = new AbortController();
        const io = {
          err: () => undefined,
          out: (l: string) => {
            out.push(l);
            if (out.length === lines) stop.abort();
          },
        };
        const done = runEventsTail(t.services, args, io, stop.signal);
        // "From now on" starts once the subscription is open: keep writing until something arrives.
        while (meanwhile && !stop.signal.aborted) {
          await meanwhile();
          await new Promise((r) => setTimeout(r, 50));
        }
        await expect(done).resolves.toBe(0);
        return out;
      };
      const first = (await t.db.store.readAll({ maxCount: 1 })).events[0]?.position as string;
      const caughtUp = (await tail(['--from', first, '--json'], 3)).map(
        (l) => JSON.parse(l) as { position: string; data: Record<string, unknown> },
      );
      expect((caughtUp[0]?.position ?? '') > first).toBe(true);
      expect(caughtUp.find((e) => 'email' in e.data)?.data.email).toBe('[redacted]');
      expect(JSON.stringify(caughtUp)).not.toMatch(SECRETS);

      const live = await tail([], 1, () =>
        runUserCommand(t.services, admin.userId, (now) => ({ type: 'EndAllSessions', data: { now } })),
      );
      expect(live[0]).toMatch(
        new RegExp(`^[0-9a-f-]{33}  \\S+  user-${admin.userId}@\\d+  AllSessionsEnded `),
      );
      expect(
        await runEventsTail(t.services, ['--from', 'yesterday'], capture().io, new AbortController().signal),
      ).toBe(2);
    });

    const adminToken = async () => {
      const res = await postJson(t, '/v1/auth/login', { email: admin.email, password: admin.password });
      return ((await res.json()) as { access_token: string }).access_token;
    };
  });
}
