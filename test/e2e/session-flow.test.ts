import { registerVerified } from '../support/account-flows';
import { useTestApp } from '../support/app';
import { testBackends } from '../support/databases';
import { bearer, postJson, uniqueEmail, type TokenAnswer } from '../support/session-fixtures';

/** A person's way through the service, over HTTP only: register, verify, log in, refresh, log out. */
for (const backend of testBackends()) {
  describe(`register → verify → login → refresh → logout (${backend.name})`, () => {
    const t = useTestApp(backend);

    it('works end to end, and every ended token stays ended', async () => {
      const email = uniqueEmail('flow');
      const password = 'a long and unusual passphrase';
      expect((await postJson(t, '/v1/auth/register', { email, password })).status).toBe(202);

      const early = await postJson(t, '/v1/auth/login', { email, password });
      expect(early.status).toBe(403);
      expect(((await early.json()) as { code: string }).code).toBe('email-not-verified');

      await t.mail.waitFor((m) => m.to === email && m.kind === 'verification');
      const token = t.mail.lastToken(email, 'verification');
      expect((await postJson(t, '/v1/auth/verify-email', { token })).status).toBe(200);

      const login = await postJson(t, '/v1/auth/login', { email, password }, { 'user-agent': 'E2E/1' });
      expect(login.status).toBe(200);
      const first = (await login.json()) as TokenAnswer;

      const me = await fetch(`${t.url}/v1/users/me`, { headers: bearer(first.access_token) });
      expect(me.status).toBe(200);
      const profile = (await me.json()) as { email: string; email_verified: boolean; status: string };
      expect(profile).toMatchObject({ email, email_verified: true, status: 'active' });
      const checked = await fetch(`${t.url}/v1/auth/test-token`, {
        method: 'POST',
        headers: bearer(first.access_token),
      });
      expect(await checked.json()).toEqual(profile);

      const refreshed = await postJson(t, '/v1/auth/refresh', { refresh_token: first.refresh_token });
      expect(refreshed.status).toBe(200);
      const second = (await refreshed.json()) as TokenAnswer;
      expect(second.refresh_token).not.toBe(first.refresh_token);

      const listed = await fetch(`${t.url}/v1/users/me/sessions`, { headers: bearer(second.access_token) });
      const { sessions } = (await listed.json()) as { sessions: { user_agent: string; current: boolean }[] };
      expect(sessions).toEqual([expect.objectContaining({ user_agent: 'E2E/1', current: true })]);

      expect((await postJson(t, '/v1/auth/logout', { refresh_token: second.refresh_token })).status).toBe(
        204,
      );
      for (const access of [first.access_token, second.access_token]) {
        expect((await fetch(`${t.url}/v1/users/me`, { headers: bearer(access) })).status).toBe(401);
      }
      for (const refresh of [first.refresh_token, second.refresh_token]) {
        expect((await postJson(t, '/v1/auth/refresh', { refresh_token: refresh })).status).toBe(401);
      }
    });

    it('honours Idempotency-Key without keeping a token answer', async () => {
      const { email, password } = await registerVerified(t);

      const key = { 'idempotency-key': `login-${email}` };
      const first = await postJson(t, '/v1/auth/login', { email, password }, key);
      expect(first.status).toBe(200);
      const tokens = (await first.json()) as TokenAnswer;
      // The answer carried credentials and was not stored: a replay cannot hand it out again.
      const replay = await postJson(t, '/v1/auth/login', { email, password }, key);
      expect(replay.status).toBe(409);
      expect(await replay.text()).not.toContain(tokens.refresh_token);
      const other = await postJson(t, '/v1/auth/login', { email, password: 'something else' }, key);
      expect(other.status).toBe(422);
      expect(((await other.json()) as { code: string }).code).toBe('idempotency-key-reused');
      const stored = await t.db.sql.query<{ body: string | null }>(
        'select response_body as body from idempotency_keys',
      );
      for (const row of stored.rows) {
        expect(row.body ?? '').not.toContain(tokens.refresh_token);
        expect(row.body ?? '').not.toContain(tokens.access_token);
      }

      const logoutKey = { 'idempotency-key': `logout-${email}` };
      const out = await postJson(t, '/v1/auth/logout', { refresh_token: tokens.refresh_token }, logoutKey);
      expect(out.status).toBe(204);
      const again = await postJson(t, '/v1/auth/logout', { refresh_token: tokens.refresh_token }, logoutKey);
      expect(again.status).toBe(204);
      expect(again.headers.get('idempotent-replayed')).toBe('true');
    });
  });
}
