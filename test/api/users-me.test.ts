import { useTestApp } from '../support/app';
import { expectProblem, nextMail, sendJson, signedIn } from '../support/account-flows';
import { testBackends } from '../support/databases';
import { bearer, loginAs, postJson, testToken, userState } from '../support/session-fixtures';

const NEW_PASSWORD = 'meadow-copper-kettle-2031';

for (const backend of testBackends()) {
  describe(`/v1/users/me and change-password (${backend.name})`, () => {
    const t = useTestApp(backend);

    const me = (auth: Record<string, string>) => fetch(`${t.url}/v1/users/me`, { headers: auth });
    const patchMe = (auth: Record<string, string>, body: unknown) =>
      sendJson(t, 'PATCH', '/v1/users/me', body, auth);
    const changePassword = (auth: Record<string, string>, current: string, next = NEW_PASSWORD) =>
      postJson(t, '/v1/auth/change-password', { current_password: current, new_password: next }, auth);

    it('answers the profile from the write side at once, never cached', async () => {
      const r = await signedIn(t, { username: 'Ada' });
      const res = await me(r.auth);
      expect(res.status).toBe(200);
      expect(res.headers.get('cache-control')).toBe('no-store');
      const profile = (await res.json()) as Record<string, unknown>;
      expect(profile).toEqual({
        id: r.userId,
        email: r.email,
        username: 'Ada',
        email_verified: true,
        status: 'active',
        roles: [],
        created_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/),
        updated_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/),
      });
    });

    it('answers 401 invalid-token with WWW-Authenticate without a valid bearer token', async () => {
      for (const headers of [{}, bearer('not.a.jwt'), { authorization: 'Basic Zm9vOmJhcg==' }]) {
        const res = await fetch(`${t.url}/v1/users/me`, { headers });
        await expectProblem(res, 401, 'invalid-token');
        expect(res.headers.get('www-authenticate')).toMatch(/^Bearer/);
        expect(res.headers.get('cache-control')).toBe('no-store');
      }
    });

    it('updates the username: 200 with the new profile; null removes it; the same name records nothing', async () => {
      const r = await signedIn(t);
      const set = await patchMe(r.auth, { username: 'Grace' });
      expect(set.status).toBe(200);
      expect(set.headers.get('cache-control')).toBe('no-store');
      expect(((await set.json()) as { username: string }).username).toBe('Grace');
      expect(((await (await me(r.auth)).json()) as { username: string }).username).toBe('Grace');
      const before = (await userState(t.services, r.userId)).types.length;
      expect((await patchMe(r.auth, { username: 'Grace' })).status).toBe(200);
      expect((await patchMe(r.auth, {})).status).toBe(200);
      expect((await userState(t.services, r.userId)).types.length).toBe(before);
      const cleared = await patchMe(r.auth, { username: null });
      expect(((await cleared.json()) as { username: string | null }).username).toBeNull();
      expect((await userState(t.services, r.userId)).types.slice(before)).toEqual(['UserProfileUpdated']);
    });

    it('refuses a bad profile update with 400, another media type with 415, no token with 401', async () => {
      const r = await signedIn(t);
      for (const body of [
        { username: '' },
        { username: '   ' },
        { username: 'a\r\nb' },
        { username: 'x'.repeat(65) },
        { username: ['a'] },
        { email: 'new@example.com' },
      ]) {
        await expectProblem(await patchMe(r.auth, body), 400, 'validation-failed');
      }
      const text = await fetch(`${t.url}/v1/users/me`, {
        method: 'PATCH',
        headers: { ...r.auth, 'content-type': 'text/plain' },
        body: 'username=x',
      });
      await expectProblem(text, 415, 'unsupported-media-type');
      await expectProblem(await patchMe({}, { username: 'x' }), 401, 'invalid-token');
    });

    it('changes the password: 204, the caller stays signed in, every other session ends, a notice goes out', async () => {
      const r = await signedIn(t);
      const other = await loginAs(t, r);
      const since = t.mail.messages.length;
      expect((await changePassword(r.auth, r.password)).status).toBe(204);
      expect((await testToken(t, r.tokens.access_token)).status).toBe(200);
      expect((await testToken(t, other.access_token)).status).toBe(401);
      expect((await postJson(t, '/v1/auth/refresh', { refresh_token: other.refresh_token })).status).toBe(
        401,
      );
      expect((await postJson(t, '/v1/auth/refresh', { refresh_token: r.tokens.refresh_token })).status).toBe(
        200,
      );
      expect((await postJson(t, '/v1/auth/login', { email: r.email, password: r.password })).status).toBe(
        401,
      );
      expect((await postJson(t, '/v1/auth/login', { email: r.email, password: NEW_PASSWORD })).status).toBe(
        200,
      );
      const notice = await nextMail(t, r.email, 'password-changed', since);
      expect(notice.text).not.toContain(NEW_PASSWORD);
    });

    it('answers a wrong current password with 403 invalid-credentials, counted toward the lockout', async () => {
      const r = await signedIn(t);
      for (let i = 0; i < 5; i += 1) {
        const res = await changePassword(r.auth, `wrong-current-${i}`);
        await expectProblem(res, 403, 'invalid-credentials');
        expect(res.headers.get('www-authenticate')).toBeNull();
      }
      const { types } = await userState(t.services, r.userId);
      expect(types.filter((type) => type === 'LoginFailed')).toHaveLength(5);
      expect(types.at(-1)).toBe('AccountLocked');
      // Locked: even the right password is refused, and login is locked too.
      await expectProblem(await changePassword(r.auth, r.password), 403, 'invalid-credentials');
      expect((await postJson(t, '/v1/auth/login', { email: r.email, password: r.password })).status).toBe(
        401,
      );
      expect((await userState(t.services, r.userId)).types).not.toContain('PasswordChanged');
    });

    it('refuses a weak new password with 422 before checking the current one, recording nothing', async () => {
      const r = await signedIn(t);
      const before = (await userState(t.services, r.userId)).types.length;
      const res = await changePassword(r.auth, 'wrong-current', 'short');
      const body = await expectProblem(res, 422, 'weak-password');
      expect(body.errors?.map((e) => e.path)).toEqual(['new_password']);
      await expectProblem(await changePassword(r.auth, r.password, r.email), 422, 'weak-password');
      expect((await userState(t.services, r.userId)).types.length).toBe(before);
    });

    it('needs a bearer token and a strict JSON body', async () => {
      const r = await signedIn(t);
      await expectProblem(await changePassword({}, r.password), 401, 'invalid-token');
      const extra = await postJson(
        t,
        '/v1/auth/change-password',
        { current_password: r.password, new_password: NEW_PASSWORD, keep_sessions: true },
        r.auth,
      );
      const body = await expectProblem(extra, 400, 'validation-failed');
      expect(JSON.stringify(body)).not.toContain(r.password);
      const form = await fetch(`${t.url}/v1/auth/change-password`, {
        method: 'POST',
        headers: { ...r.auth, 'content-type': 'application/x-www-form-urlencoded' },
        body: `current_password=${encodeURIComponent(r.password)}&new_password=x`,
      });
      await expectProblem(form, 415, 'unsupported-media-type');
    });
  });
}
