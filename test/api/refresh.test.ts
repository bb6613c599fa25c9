import { sessionStreamId } from '../../src/domain/session';
import { startTestApp, type TestApp } from '../support/app';
import { testBackends } from '../support/databases';
import {
  createAccount,
  loginAs,
  postJson,
  refreshWith,
  runUserCommand,
  sessionIdOf,
  streamTypes,
  testClock,
  testToken,
  type TestClock,
  type TokenAnswer,
} from '../support/session-fixtures';

const GRACE_MS = 10_000;

for (const backend of testBackends()) {
  describe(`POST /v1/auth/refresh (${backend.name})`, () => {
    let t: TestApp;
    let clock: TestClock;

    beforeAll(async () => {
      clock = testClock();
      t = await startTestApp(backend, { clock, env: { SESSION_IDLE_TIMEOUT_SECONDS: '3600' } });
    });
    afterAll(() => t.close());

    const session = async (): Promise<TokenAnswer> => loginAs(t, await createAccount(t.services));

    const rotate = async (refreshToken: string): Promise<TokenAnswer> => {
      const res = await refreshWith(t, refreshToken);
      if (res.status !== 200) throw new Error(`refresh answered ${res.status}: ${await res.text()}`);
      expect(res.headers.get('cache-control')).toBe('no-store');
      return (await res.json()) as TokenAnswer;
    };

    const expectRefused = async (refreshToken: string): Promise<void> => {
      const res = await refreshWith(t, refreshToken);
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toMatch(/^Bearer/);
      expect(((await res.json()) as { code: string }).code).toBe('invalid-refresh-token');
    };

    it('rotates on every use: each answer carries a new refresh token and a working access token', async () => {
      const first = await session();
      const second = await rotate(first.refresh_token);
      clock.advance(GRACE_MS + 1);
      const third = await rotate(second.refresh_token);
      expect(new Set([first.refresh_token, second.refresh_token, third.refresh_token]).size).toBe(3);
      expect(sessionIdOf(third.access_token)).toBe(sessionIdOf(first.access_token));
      expect((await testToken(t, third.access_token)).status).toBe(200);
      expect(await streamTypes(t.services, sessionStreamId(sessionIdOf(first.access_token)))).toEqual([
        'SessionStarted',
        'RefreshTokenRotated',
        'RefreshTokenRotated',
      ]);
    });

    it('answers a retried parent inside the grace window with the SAME successor, every time', async () => {
      const first = await session();
      const successor = await rotate(first.refresh_token);
      clock.advance(GRACE_MS - 2_000);
      const retries = [await rotate(first.refresh_token), await rotate(first.refresh_token)];
      for (const retry of retries) expect(retry.refresh_token).toBe(successor.refresh_token);
      // The successor still rotates normally afterwards.
      const next = await rotate(successor.refresh_token);
      expect(next.refresh_token).not.toBe(successor.refresh_token);
    });

    it('revokes the whole session when a rotated token comes back after the grace window', async () => {
      const first = await session();
      const second = await rotate(first.refresh_token);
      clock.advance(GRACE_MS + 1_000);
      await expectRefused(first.refresh_token);
      // The family is gone: the current refresh token and the session's access tokens stop too.
      await expectRefused(second.refresh_token);
      expect((await testToken(t, second.access_token)).status).toBe(401);
      expect(await streamTypes(t.services, sessionStreamId(sessionIdOf(first.access_token)))).toEqual([
        'SessionStarted',
        'RefreshTokenRotated',
        'RefreshTokenReuseDetected',
        'SessionEnded',
      ]);
    });

    it('revokes the session when a grandparent comes back, even inside the grace window', async () => {
      const first = await session();
      const second = await rotate(first.refresh_token);
      const third = await rotate(second.refresh_token);
      await expectRefused(first.refresh_token);
      await expectRefused(third.refresh_token);
    });

    it('gives 10 concurrent refreshes of one token one successor between them', async () => {
      const first = await session();
      const answers = await Promise.all(
        Array.from({ length: 10 }, () => refreshWith(t, first.refresh_token)),
      );
      expect(answers.map((r) => r.status)).toEqual(Array(10).fill(200));
      const bodies = (await Promise.all(answers.map((r) => r.json()))) as TokenAnswer[];
      expect(new Set(bodies.map((b) => b.refresh_token)).size).toBe(1);
      const types = await streamTypes(t.services, sessionStreamId(sessionIdOf(first.access_token)));
      expect(types.filter((type) => type === 'RefreshTokenRotated')).toHaveLength(1);
      expect(types.filter((type) => type === 'RefreshTokenReuseTolerated')).toHaveLength(9);
      // The one successor is good for the next rotation.
      await rotate(bodies[0]!.refresh_token);
    });

    it('refuses tokens the service never issued, and malformed ones', async () => {
      const first = await session();
      const forged = `${first.refresh_token.slice(0, 60)}${first.refresh_token.slice(60).split('').reverse().join('')}`;
      await expectRefused(forged === first.refresh_token ? `${first.refresh_token.slice(0, 69)}A` : forged);
      await expectRefused('A'.repeat(70));
      await expectRefused('not-a-token');
      await expectRefused(first.access_token.slice(0, 500));
      const missing = await postJson(t, '/v1/auth/refresh', {});
      expect(missing.status).toBe(400);
      // The genuine token is untouched by the forgeries.
      await rotate(first.refresh_token);
    });

    it('refuses a session past its idle lifetime', async () => {
      const first = await session();
      clock.advance(3_600_000 + 1_000);
      await expectRefused(first.refresh_token);
    });

    it('refuses a session the user side has ended: logout-all, deactivation', async () => {
      const first = await session();
      const userId = (await t.services.accessTokens.verify(first.access_token)).sub;
      await runUserCommand(t.services, userId, (now) => ({ type: 'EndAllSessions', data: { now } }));
      await expectRefused(first.refresh_token);

      const other = await session();
      const otherUser = (await t.services.accessTokens.verify(other.access_token)).sub;
      await runUserCommand(t.services, otherUser, (now) => ({ type: 'DeactivateUser', data: { now } }));
      await expectRefused(other.refresh_token);
    });

    it('carries the current roles in the new access token', async () => {
      const account = await createAccount(t.services);
      const first = await loginAs(t, account);
      await runUserCommand(t.services, account.userId, (now) => ({
        type: 'GrantRole',
        data: { role: 'events:read', now },
      }));
      const next = await rotate(first.refresh_token);
      expect((await t.services.accessTokens.verify(next.access_token)).roles).toEqual(['events:read']);
    });
  });
}
