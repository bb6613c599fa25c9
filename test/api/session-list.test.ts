import { setTimeout as sleep } from 'node:timers/promises';
import { sessionsProjection } from '../../src/projections/sessions/projection';
import { useTestApp } from '../support/app';
import { testBackends } from '../support/databases';
import {
  bearer,
  createAccount,
  loginAs,
  postJson,
  sessionIdOf,
  testToken,
  type TokenAnswer,
} from '../support/session-fixtures';

type Listed = {
  id: string;
  created_at: string;
  last_used_at: string;
  user_agent: string | null;
  current: boolean;
};

for (const backend of testBackends()) {
  describe(`GET and DELETE /v1/users/me/sessions (${backend.name})`, () => {
    const t = useTestApp(backend);
    afterEach(() => jest.restoreAllMocks());

    const list = async (session: TokenAnswer): Promise<Listed[]> => {
      const res = await fetch(`${t.url}/v1/users/me/sessions`, { headers: bearer(session.access_token) });
      expect(res.status).toBe(200);
      expect(res.headers.get('cache-control')).toBe('no-store');
      return ((await res.json()) as { sessions: Listed[] }).sessions;
    };

    const remove = (session: TokenAnswer, id: string) =>
      fetch(`${t.url}/v1/users/me/sessions/${id}`, {
        method: 'DELETE',
        headers: bearer(session.access_token),
      });

    it('lists the caller’s live sessions at once, newest first, marking the current one', async () => {
      const account = await createAccount(t.services);
      await loginAs(t, await createAccount(t.services));
      const phone = await loginAs(t, account, { 'user-agent': 'Phone/1' });
      // A read model that lags well behind: the list must still show the login that just happened.
      const apply = sessionsProjection.apply.bind(sessionsProjection);
      jest.spyOn(sessionsProjection, 'apply').mockImplementation(async (...args) => {
        await sleep(300);
        return apply(...args);
      });
      const laptop = await loginAs(t, account, { 'user-agent': 'Laptop/2' });

      const sessions = await list(phone);
      expect(sessions.map((s) => [s.id, s.user_agent, s.current])).toEqual([
        [sessionIdOf(laptop.access_token), 'Laptop/2', false],
        [sessionIdOf(phone.access_token), 'Phone/1', true],
      ]);
      expect(Object.keys(sessions[0]!).sort()).toEqual([
        'created_at',
        'current',
        'id',
        'last_used_at',
        'user_agent',
      ]);
      expect(Date.parse(sessions[0]!.created_at)).not.toBeNaN();
    });

    it('shows when a session was last used, and drops ended ones', async () => {
      const account = await createAccount(t.services);
      const a = await loginAs(t, account);
      const b = await loginAs(t, account);
      const rotated = await postJson(t, '/v1/auth/refresh', { refresh_token: b.refresh_token });
      expect(rotated.status).toBe(200);
      const listed = await list(a);
      const entry = listed.find((s) => s.id === sessionIdOf(b.access_token));
      expect(entry && Date.parse(entry.last_used_at)).toBeGreaterThan(Date.parse(entry?.created_at ?? ''));

      expect((await postJson(t, '/v1/auth/logout', { refresh_token: b.refresh_token })).status).toBe(204);
      expect((await list(a)).map((s) => s.id)).toEqual([sessionIdOf(a.access_token)]);
    });

    it('after logout-all a new session lists only itself', async () => {
      const account = await createAccount(t.services);
      const a = await loginAs(t, account);
      await loginAs(t, account);
      expect(
        (await fetch(`${t.url}/v1/auth/logout-all`, { method: 'POST', headers: bearer(a.access_token) }))
          .status,
      ).toBe(204);
      const fresh = await loginAs(t, account);
      expect((await list(fresh)).map((s) => s.id)).toEqual([sessionIdOf(fresh.access_token)]);
    });

    it('ends one of the caller’s own sessions; its tokens stop at once', async () => {
      const account = await createAccount(t.services);
      const a = await loginAs(t, account);
      const b = await loginAs(t, account);
      expect((await remove(a, sessionIdOf(b.access_token))).status).toBe(204);
      expect((await testToken(t, b.access_token)).status).toBe(401);
      expect((await postJson(t, '/v1/auth/refresh', { refresh_token: b.refresh_token })).status).toBe(401);
      expect(await testToken(t, a.access_token).then((r) => r.status)).toBe(200);
      // Ending it again is still done.
      expect((await remove(a, sessionIdOf(b.access_token))).status).toBe(204);
      // Ending the current session signs the caller out.
      expect((await remove(a, sessionIdOf(a.access_token).toUpperCase())).status).toBe(204);
      expect((await testToken(t, a.access_token)).status).toBe(401);
    });

    it('answers 404 for another user’s session, and leaves it alone', async () => {
      const mine = await loginAs(t, await createAccount(t.services));
      const theirs = await loginAs(t, await createAccount(t.services));
      for (const id of [
        sessionIdOf(theirs.access_token),
        '00000000-0000-4000-8000-000000000000',
        'not-an-id',
      ]) {
        const res = await remove(mine, id);
        expect(res.status).toBe(404);
        expect(((await res.json()) as { code: string }).code).toBe('not-found');
      }
      expect((await testToken(t, theirs.access_token)).status).toBe(200);
    });

    it('requires a bearer token', async () => {
      const res = await fetch(`${t.url}/v1/users/me/sessions`);
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toBe('Bearer error="invalid_token"');
    });
  });
}
