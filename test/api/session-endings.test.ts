import { sessionStreamId } from '../../src/domain/session';
import { startTestApp, type TestApp } from '../support/app';
import { testBackends } from '../support/databases';
import {
  bearer,
  createAccount,
  loginAs,
  postJson,
  refreshWith,
  sessionIdOf,
  streamTypes,
  testToken,
  type TestAccount,
  type TokenAnswer,
} from '../support/session-fixtures';

/**
 * Every way a session ends (CONTRACT.md "Accounts", "Administration"), each through its own endpoint:
 * afterwards neither the session's access token nor its refresh token works, while the sessions that
 * should survive keep working.
 */
for (const backend of testBackends()) {
  describe(`how sessions end (${backend.name})`, () => {
    let t: TestApp;
    let admin: TokenAnswer;

    beforeAll(async () => {
      t = await startTestApp(backend);
      admin = await loginAs(t, await createAccount(t.services, { roles: ['admin'] }));
    });
    afterAll(() => t.close());

    const works = async (session: TokenAnswer): Promise<boolean> =>
      (await testToken(t, session.access_token)).status === 200;

    const expectDead = async (session: TokenAnswer): Promise<void> => {
      expect((await testToken(t, session.access_token)).status).toBe(401);
      const res = await refreshWith(t, session.refresh_token);
      expect(res.status).toBe(401);
      expect(((await res.json()) as { code: string }).code).toBe('invalid-refresh-token');
    };

    const twoSessions = async (): Promise<[TestAccount, TokenAnswer, TokenAnswer]> => {
      const account = await createAccount(t.services);
      return [account, await loginAs(t, account), await loginAs(t, account)];
    };

    const adminCommand = (userId: string, action: string) =>
      postJson(t, `/v1/admin/users/${userId}/${action}`, { reason: 'test' }, bearer(admin.access_token));

    it('logout ends that session only, and says so again when repeated', async () => {
      const [, a, b] = await twoSessions();
      expect((await postJson(t, '/v1/auth/logout', { refresh_token: a.refresh_token })).status).toBe(204);
      await expectDead(a);
      expect(await works(b)).toBe(true);
      expect((await postJson(t, '/v1/auth/logout', { refresh_token: a.refresh_token })).status).toBe(204);
      expect(await streamTypes(t.services, sessionStreamId(sessionIdOf(a.access_token)))).toEqual([
        'SessionStarted',
        'SessionEnded',
      ]);
    });

    it('logout refuses a token the service never issued', async () => {
      const res = await postJson(t, '/v1/auth/logout', { refresh_token: 'A'.repeat(70) });
      expect(res.status).toBe(401);
      expect(((await res.json()) as { code: string }).code).toBe('invalid-refresh-token');
    });

    it('logout-all ends every session of the user with one user event, the caller’s included', async () => {
      const [account, a, b] = await twoSessions();
      const other = await loginAs(t, await createAccount(t.services));
      const res = await fetch(`${t.url}/v1/auth/logout-all`, {
        method: 'POST',
        headers: bearer(a.access_token),
      });
      expect(res.status).toBe(204);
      await expectDead(a);
      await expectDead(b);
      expect(await works(other)).toBe(true);
      // A new login after it is a live session.
      expect(await works(await loginAs(t, account))).toBe(true);
      expect(await streamTypes(t.services, sessionStreamId(sessionIdOf(b.access_token)))).toEqual([
        'SessionStarted',
      ]);
    });

    it('a password change keeps the caller’s session and ends the others', async () => {
      const [account, a, b] = await twoSessions();
      const newPassword = 'a brand new passphrase 2';
      const res = await postJson(
        t,
        '/v1/auth/change-password',
        { current_password: account.password, new_password: newPassword },
        bearer(a.access_token),
      );
      expect(res.status).toBe(204);
      expect(await works(a)).toBe(true);
      expect((await refreshWith(t, a.refresh_token)).status).toBe(200);
      await expectDead(b);
      const old = await postJson(t, '/v1/auth/login', { email: account.email, password: account.password });
      expect(old.status).toBe(401);
      expect(await works(await loginAs(t, { email: account.email, password: newPassword }))).toBe(true);
    });

    it('a password reset ends every session', async () => {
      const [account, a, b] = await twoSessions();
      expect((await postJson(t, '/v1/auth/forgot-password', { email: account.email })).status).toBe(202);
      await t.mail.waitFor((m) => m.to === account.email && m.kind === 'reset');
      const token = t.mail.lastToken(account.email, 'reset');
      const newPassword = 'reset to something else 3';
      const res = await postJson(t, '/v1/auth/reset-password', { token, new_password: newPassword });
      expect(res.status).toBe(204);
      await expectDead(a);
      await expectDead(b);
      expect(await works(await loginAs(t, { email: account.email, password: newPassword }))).toBe(true);
    });

    it('deactivation ends every session; reactivation does not bring them back', async () => {
      const [account, a, b] = await twoSessions();
      expect((await adminCommand(account.userId, 'deactivate')).status).toBe(204);
      await expectDead(a);
      await expectDead(b);
      const refused = await postJson(t, '/v1/auth/login', {
        email: account.email,
        password: account.password,
      });
      expect(refused.status).toBe(401);
      expect((await adminCommand(account.userId, 'reactivate')).status).toBe(204);
      await expectDead(a);
      expect(await works(await loginAs(t, account))).toBe(true);
    });

    it('erasure ends every session and the account can no longer log in', async () => {
      const [account, a, b] = await twoSessions();
      expect((await adminCommand(account.userId, 'erase')).status).toBe(204);
      await expectDead(a);
      await expectDead(b);
      const refused = await postJson(t, '/v1/auth/login', {
        email: account.email,
        password: account.password,
      });
      expect(refused.status).toBe(401);
    });
  });
}
