import { userStreamId } from '../../src/domain/user';
import { useTestApp } from '../support/app';
import {
  expectProblem,
  nextMail,
  register,
  registerVerified,
  signedIn,
  tokenIn,
} from '../support/account-flows';
import { testBackends } from '../support/databases';
import { postJson, testClock, testToken, uniqueEmail, userState } from '../support/session-fixtures';

const NEW_PASSWORD = 'lantern-orchard-quietly-58';

for (const backend of testBackends()) {
  describe(`forgot-password and reset-password (${backend.name})`, () => {
    const clock = testClock();
    const t = useTestApp(backend, { clock });

    /** A fresh reset link for the account, past the throttle of any earlier request. */
    const resetTokenFor = async (email: string): Promise<string> => {
      clock.advance(61_000);
      const since = t.mail.messages.length;
      const res = await postJson(t, '/v1/auth/forgot-password', { email });
      expect(res.status).toBe(202);
      return tokenIn(await nextMail(t, email, 'reset', since));
    };

    const reset = (token: string, password = NEW_PASSWORD) =>
      postJson(t, '/v1/auth/reset-password', { token, new_password: password });

    const login = (email: string, password: string) => postJson(t, '/v1/auth/login', { email, password });

    it('answers forgot-password with the same 202 for known, unknown and malformed addresses', async () => {
      const known = await registerVerified(t);
      clock.advance(61_000);
      const since = t.mail.messages.length;
      const answers = [];
      for (const email of [known.email, uniqueEmail('ghost'), 'no at sign', 'x@y\nBcc: z@example.com']) {
        const res = await postJson(t, '/v1/auth/forgot-password', { email });
        answers.push({ status: res.status, body: await res.text() });
      }
      expect(answers[0]?.status).toBe(202);
      expect(new Set(answers.map((a) => JSON.stringify(a))).size).toBe(1);
      const mail = await nextMail(t, known.email, 'reset', since);
      expect(mail.text).toContain('http://identity.test/reset-password?token=');
    });

    it('sends the link only to the stored address, and refuses a list of addresses', async () => {
      const r = await registerVerified(t);
      clock.advance(61_000);
      const since = t.mail.messages.length;
      await expectProblem(
        await postJson(t, '/v1/auth/forgot-password', { email: [r.email, 'attacker@example.com'] }),
        400,
        'validation-failed',
      );
      expect((await postJson(t, '/v1/auth/forgot-password', { email: r.email.toUpperCase() })).status).toBe(
        202,
      );
      await nextMail(t, r.email, 'reset', since);
      expect(t.mail.messages.slice(since).map((m) => m.to)).toEqual([r.email]);
    });

    it('resets: 204, old password dead, every session ended, lockout cleared, a notice mailed', async () => {
      const r = await signedIn(t);
      const token = await resetTokenFor(r.email);
      for (let i = 0; i < 5; i += 1) expect((await login(r.email, 'wrong-password-guess')).status).toBe(401);
      const locked = await userState(t.services, r.userId);
      expect(locked.types.at(-1)).toBe('AccountLocked');
      const since = t.mail.messages.length;
      const res = await reset(token);
      expect(res.status).toBe(204);
      const after = await userState(t.services, r.userId);
      expect(after.types.slice(locked.types.length)).toEqual(['PasswordResetCompleted', 'AccountUnlocked']);
      expect(after.state.status === 'active' && after.state.lockout.consecutiveFailures).toBe(0);
      expect((await testToken(t, r.tokens.access_token)).status).toBe(401);
      expect((await postJson(t, '/v1/auth/refresh', { refresh_token: r.tokens.refresh_token })).status).toBe(
        401,
      );
      // Usable at once, although the lock would still run for most of a minute.
      expect((await login(r.email, NEW_PASSWORD)).status).toBe(200);
      expect((await login(r.email, r.password)).status).toBe(401);
      const notice = await nextMail(t, r.email, 'password-reset', since);
      expect(notice.text).not.toContain('token=');
    });

    it('refuses a weak new password with 422 and keeps the token usable', async () => {
      const r = await registerVerified(t);
      const token = await resetTokenFor(r.email);
      const weak = await reset(token, r.email);
      const body = await expectProblem(weak, 422, 'weak-password');
      expect(body.errors?.[0]?.path).toBe('new_password');
      expect(JSON.stringify(body)).not.toContain(r.email);
      await expectProblem(await reset(token, 'q'.repeat(300)), 422, 'weak-password');
      expect((await reset(token)).status).toBe(204);
    });

    it('takes a token once, and lets exactly one of 10 concurrent uses win', async () => {
      const r = await registerVerified(t);
      const token = await resetTokenFor(r.email);
      const statuses = await Promise.all(
        Array.from({ length: 10 }, (_, i) => reset(token, `${NEW_PASSWORD}-${i}`).then((res) => res.status)),
      );
      expect(statuses.filter((s) => s === 204)).toHaveLength(1);
      expect(statuses.filter((s) => s === 400)).toHaveLength(9);
      const types = (await userState(t.services, r.userId)).types;
      expect(types.filter((type) => type === 'PasswordResetCompleted')).toHaveLength(1);
      await expectProblem(await reset(token), 400, 'invalid-or-expired-token');
    });

    it('lets a newer request supersede the older token', async () => {
      const r = await registerVerified(t);
      const older = await resetTokenFor(r.email);
      const newer = await resetTokenFor(r.email);
      expect(newer).not.toBe(older);
      await expectProblem(await reset(older), 400, 'invalid-or-expired-token');
      expect((await reset(newer)).status).toBe(204);
    });

    it('lets the token expire after 30 minutes', async () => {
      const r = await registerVerified(t);
      const token = await resetTokenFor(r.email);
      clock.advance(30 * 60_000 + 1000);
      await expectProblem(await reset(token), 400, 'invalid-or-expired-token');
    });

    it('throttles reset mail to one a minute per account, with the same 202', async () => {
      const r = await registerVerified(t);
      await resetTokenFor(r.email);
      const since = t.mail.messages.length;
      expect((await postJson(t, '/v1/auth/forgot-password', { email: r.email })).status).toBe(202);
      const [last] = (await t.services.store.readAll({ direction: 'backwards', maxCount: 1 })).events;
      await t.runtime.runner('mail-outbox')?.waitFor(last?.position ?? '', 5000);
      await t.runtime.outbox.drainOnce();
      expect(t.mail.messages.slice(since)).toEqual([]);
    });

    it('refuses unknown and malformed tokens and a verification token with 400', async () => {
      const r = await register(t);
      for (const token of ['', 'garbage', r.token, Buffer.alloc(48, 3).toString('base64url')]) {
        const res = await reset(token);
        expect(res.status).toBe(400);
        expect(['invalid-or-expired-token', 'validation-failed']).toContain(
          ((await res.json()) as { code: string }).code,
        );
      }
      expect((await userState(t.services, r.userId)).types).not.toContain('PasswordResetCompleted');
    });

    it('writes neither the token nor the password into any event', async () => {
      const r = await registerVerified(t);
      const token = await resetTokenFor(r.email);
      expect((await reset(token)).status).toBe(204);
      const text = JSON.stringify(await t.services.store.readStream(userStreamId(r.userId)));
      expect(text).not.toContain(token);
      expect(text).not.toContain(NEW_PASSWORD);
    });
  });
}
