import { userStreamId } from '../../src/domain/user';
import { useTestApp, type TestApp } from '../support/app';
import { expectProblem, nextMail, register, registerVerified, tokenIn } from '../support/account-flows';
import { testBackends } from '../support/databases';
import { postJson, runUserCommand, testClock, uniqueEmail } from '../support/session-fixtures';

/** Lets the mail consumer and the outbox finish, so "no mail" means none was asked for. */
const settle = async (t: TestApp) => {
  const [last] = (await t.services.store.readAll({ direction: 'backwards', maxCount: 1 })).events;
  if (last) expect(await t.runtime.runner('mail-outbox')?.waitFor(last.position, 5000)).toBe(true);
  await t.runtime.outbox.drainOnce();
};

for (const backend of testBackends()) {
  describe(`verify-email and resend-verification (${backend.name})`, () => {
    const clock = testClock();
    const t = useTestApp(backend, { clock });

    const login = (r: { email: string; password: string }) =>
      postJson(t, '/v1/auth/login', { email: r.email, password: r.password });

    it('verifies with the mailed token: 200 {email_verified:true}, and login works at once', async () => {
      const r = await register(t);
      await expectProblem(await login(r), 403, 'email-not-verified');
      const res = await postJson(t, '/v1/auth/verify-email', { token: r.token });
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ email_verified: true });
      expect((await login(r)).status).toBe(200);
    });

    it('takes a token once: the second use of the same token is 400 invalid-or-expired-token', async () => {
      const r = await register(t);
      expect((await postJson(t, '/v1/auth/verify-email', { token: r.token })).status).toBe(200);
      await expectProblem(
        await postJson(t, '/v1/auth/verify-email', { token: r.token }),
        400,
        'invalid-or-expired-token',
      );
    });

    it('lets exactly one of several concurrent uses of one token succeed', async () => {
      const r = await register(t);
      const statuses = await Promise.all(
        Array.from({ length: 6 }, () =>
          postJson(t, '/v1/auth/verify-email', { token: r.token }).then((res) => res.status),
        ),
      );
      expect(statuses.filter((s) => s === 200)).toHaveLength(1);
      expect(statuses.filter((s) => s === 400)).toHaveLength(5);
      const types = (await t.services.store.readStream(userStreamId(r.userId))).map((e) => e.type);
      expect(types.filter((type) => type === 'EmailVerified')).toHaveLength(1);
    });

    it('replays the first answer for a retry with the same Idempotency-Key', async () => {
      const r = await register(t);
      const key = { 'idempotency-key': `verify-${r.userId}` };
      expect((await postJson(t, '/v1/auth/verify-email', { token: r.token }, key)).status).toBe(200);
      const retry = await postJson(t, '/v1/auth/verify-email', { token: r.token }, key);
      expect(retry.status).toBe(200);
      expect(retry.headers.get('idempotent-replayed')).toBe('true');
    });

    it('refuses unknown, malformed, foreign and expired tokens alike with 400 invalid-or-expired-token', async () => {
      const r = await register(t);
      const unknownUser = Buffer.concat([Buffer.alloc(16, 1), Buffer.alloc(32, 2)]).toString('base64url');
      const forged = Buffer.concat([Buffer.from(r.token, 'base64url').subarray(0, 16), Buffer.alloc(32, 9)]);
      const resetToken = t.services.oneTimeTokens.issue(
        'reset-password',
        r.userId,
        '00000000-0000-4000-8000-000000000000',
      ).token;
      for (const token of ['nope', unknownUser, forged.toString('base64url'), resetToken, `${r.token}x`]) {
        await expectProblem(
          await postJson(t, '/v1/auth/verify-email', { token }),
          400,
          'invalid-or-expired-token',
        );
      }
      clock.advance(24 * 3600_000 + 1000);
      try {
        await expectProblem(
          await postJson(t, '/v1/auth/verify-email', { token: r.token }),
          400,
          'invalid-or-expired-token',
        );
        // A resend after expiry mails a NEW link, which works.
        const since = t.mail.messages.length;
        expect((await postJson(t, '/v1/auth/resend-verification', { email: r.email })).status).toBe(202);
        const fresh = tokenIn(await nextMail(t, r.email, 'verification', since));
        expect(fresh).not.toBe(r.token);
        expect((await postJson(t, '/v1/auth/verify-email', { token: fresh })).status).toBe(200);
      } finally {
        clock.advance(-(24 * 3600_000 + 1000));
      }
    });

    it('answers resend with the same 202 for pending, verified, unknown, malformed and deactivated addresses', async () => {
      const pending = await register(t);
      const verified = await registerVerified(t);
      const deactivated = await register(t);
      await runUserCommand(t.services, deactivated.userId, (now) => ({
        type: 'DeactivateUser',
        data: { now },
      }));
      clock.advance(61_000);
      const since = t.mail.messages.length;
      const answers = [];
      for (const email of [
        pending.email,
        verified.email,
        deactivated.email,
        uniqueEmail('nobody'),
        'not-an-address',
        'a@b.example\r\nBcc: evil@example.com',
        '',
      ]) {
        const res = await postJson(t, '/v1/auth/resend-verification', { email });
        answers.push({ status: res.status, body: await res.text() });
      }
      expect(new Set(answers.map((a) => JSON.stringify(a))).size).toBe(1);
      expect(answers[0]?.status).toBe(202);
      // Only the pending account gets a mail: the same link as before.
      expect(tokenIn(await nextMail(t, pending.email, 'verification', since))).toBe(pending.token);
      await settle(t);
      expect(t.mail.messages.slice(since).map((m) => m.to)).toEqual([pending.email]);
    });

    it('mails the address stored on the account, never the string in the request', async () => {
      const r = await register(t, { email: uniqueEmail('stored') });
      clock.advance(61_000);
      const since = t.mail.messages.length;
      const typed = `  ${r.email.toUpperCase()} `;
      expect((await postJson(t, '/v1/auth/resend-verification', { email: typed })).status).toBe(202);
      await nextMail(t, r.email, 'verification', since);
      await settle(t);
      expect(t.mail.messages.slice(since).map((m) => m.to)).toEqual([r.email]);
    });

    it('sends at most one verification mail a minute, whatever asks for it', async () => {
      const r = await register(t);
      const since = t.mail.messages.length;
      for (let i = 0; i < 3; i += 1) {
        expect((await postJson(t, '/v1/auth/resend-verification', { email: r.email })).status).toBe(202);
      }
      await settle(t);
      expect(t.mail.messages.slice(since)).toEqual([]);
    });

    it('refuses a list of addresses with 400 and sends nothing (GitLab CVE-2023-7028)', async () => {
      const r = await register(t);
      clock.advance(61_000);
      const since = t.mail.messages.length;
      for (const email of [[r.email, 'attacker@example.com'], { email: r.email }, 42, null]) {
        const res = await postJson(t, '/v1/auth/resend-verification', { email });
        const body = await expectProblem(res, 400, 'validation-failed');
        expect(body.errors?.[0]?.path).toBe('email');
        expect(JSON.stringify(body)).not.toContain('attacker');
      }
      await settle(t);
      expect(t.mail.messages.slice(since)).toEqual([]);
    });
  });
}
