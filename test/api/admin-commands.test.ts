import { randomUUID } from 'node:crypto';
import { loadStream } from '../../src/application/write/handle';
import { ensureBootstrapAdmin } from '../../src/application/user/bootstrap-admin';
import { userDecider, userStreamId } from '../../src/domain/user';
import { runRoleCommand } from '../../src/cli/roles';
import { startTestApp, type TestApp } from '../support/app';
import {
  expectProblem,
  register,
  registerVerified,
  signedIn,
  STRONG_PASSWORD,
} from '../support/account-flows';
import { testBackends } from '../support/databases';
import { bearer, loginAs, postJson, testToken, userState } from '../support/session-fixtures';

const quiet = () => {
  const lines: string[] = [];
  return { lines, io: { out: (l: string) => lines.push(l), err: (l: string) => lines.push(l) } };
};

for (const backend of testBackends()) {
  describe(`admin commands (${backend.name})`, () => {
    let t: TestApp;
    let admin: Awaited<ReturnType<typeof signedIn>>;

    beforeAll(async () => {
      t = await startTestApp(backend);
      admin = await signedIn(t);
      const { io } = quiet();
      expect(
        await runRoleCommand(t.services, 'grant', [admin.email, 'admin', '--reason', 'first admin'], io),
      ).toBe(0);
    });
    afterAll(() => t.close());

    const adminPost = (path: string, body: unknown, auth = admin.auth) => postJson(t, path, body, auth);
    const login = (r: { email: string; password: string }) =>
      postJson(t, '/v1/auth/login', { email: r.email, password: r.password });

    it('records the CLI grant with its reason, by the operator', async () => {
      const events = await t.services.store.readStream(userStreamId(admin.userId));
      const grant = events.find((e) => e.type === 'RoleGranted');
      expect(grant?.data).toEqual({ role: 'admin' });
      expect(grant?.metadata).toMatchObject({ reason: 'first admin', actor: { type: 'system', id: 'cli' } });
    });

    it('needs a bearer token (401) and the admin role (403)', async () => {
      const target = await registerVerified(t);
      const plain = await signedIn(t);
      const path = `/v1/admin/users/${target.userId}/deactivate`;
      await expectProblem(await postJson(t, path, { reason: 'x' }), 401, 'invalid-token');
      const forbidden = await postJson(t, path, { reason: 'x' }, plain.auth);
      await expectProblem(forbidden, 403, 'forbidden');
      expect(forbidden.headers.get('cache-control')).toBe('no-store');
      expect((await userState(t.services, target.userId)).state.status).toBe('active');
    });

    it('answers 404 for an id that is not a UUID or names no account', async () => {
      for (const id of ['nope', '123', `${randomUUID()}x`, randomUUID()]) {
        for (const action of ['deactivate', 'reactivate', 'unlock', 'erase']) {
          await expectProblem(
            await adminPost(`/v1/admin/users/${id}/${action}`, { reason: 'checking' }),
            404,
            'not-found',
          );
        }
        await expectProblem(
          await adminPost(`/v1/admin/users/${id}/roles`, { role: 'pii:read', reason: 'checking' }),
          404,
          'not-found',
        );
      }
    });

    it('needs a reason: missing, blank or unknown members are 400, another media type 415', async () => {
      const target = await registerVerified(t);
      const path = `/v1/admin/users/${target.userId}/deactivate`;
      for (const body of [
        {},
        { reason: '' },
        { reason: '   ' },
        { reason: 42 },
        { reason: 'ok', force: true },
      ]) {
        await expectProblem(await adminPost(path, body), 400, 'validation-failed');
      }
      const text = await fetch(`${t.url}${path}`, {
        method: 'POST',
        headers: { ...admin.auth, 'content-type': 'text/plain' },
        body: 'reason',
      });
      await expectProblem(text, 415, 'unsupported-media-type');
      expect((await userState(t.services, target.userId)).state.status).toBe('active');
    });

    it('deactivates: 204, every session ends at once, login fails; the reason and admin are on the event', async () => {
      const target = await signedIn(t);
      const res = await adminPost(
        `/v1/admin/users/${target.userId}/deactivate`,
        { reason: 'fraud report #12' },
        { ...admin.auth, 'x-request-id': 'req-deactivate-1' },
      );
      expect(res.status).toBe(204);
      expect(res.headers.get('cache-control')).toBe('no-store');
      expect((await testToken(t, target.tokens.access_token)).status).toBe(401);
      await expectProblem(await login(target), 401, 'invalid-credentials');
      const events = await t.services.store.readStream(userStreamId(target.userId));
      expect(events.at(-1)).toMatchObject({
        type: 'UserDeactivated',
        metadata: {
          reason: 'fraud report #12',
          actor: { type: 'admin', id: admin.userId },
          correlation_id: 'req-deactivate-1',
        },
      });
      // Repeating it changes nothing and still succeeds.
      expect(
        (await adminPost(`/v1/admin/users/${target.userId}/deactivate`, { reason: 'again' })).status,
      ).toBe(204);
      expect((await t.services.store.readStream(userStreamId(target.userId))).length).toBe(events.length);

      expect(
        (await adminPost(`/v1/admin/users/${target.userId}/reactivate`, { reason: 'cleared' })).status,
      ).toBe(204);
      // Old sessions stay dead; a new login works.
      expect((await testToken(t, target.tokens.access_token)).status).toBe(401);
      expect((await login(target)).status).toBe(200);
    });

    it('unlocks a locked account', async () => {
      const target = await registerVerified(t);
      for (let i = 0; i < 5; i += 1) await login({ email: target.email, password: 'not-the-password' });
      await expectProblem(await login(target), 401, 'invalid-credentials');
      expect(
        (await adminPost(`/v1/admin/users/${target.userId}/unlock`, { reason: 'called support' })).status,
      ).toBe(204);
      expect((await login(target)).status).toBe(200);
      const { types } = await userState(t.services, target.userId);
      expect(types).toContain('AccountUnlocked');
    });

    it('grants and revokes roles; a revoked admin role stops working at once', async () => {
      const target = await signedIn(t);
      const roles = `/v1/admin/users/${target.userId}/roles`;
      expect((await adminPost(roles, { role: 'admin', reason: 'on call' })).status).toBe(204);
      expect((await adminPost(roles, { role: 'events:read', reason: 'feed consumer' })).status).toBe(204);
      const other = await registerVerified(t);
      // The target's existing token now passes the admin check: roles come from the write side.
      expect(
        (await postJson(t, `/v1/admin/users/${other.userId}/unlock`, { reason: 'test' }, target.auth)).status,
      ).toBe(204);
      await expectProblem(await adminPost(roles, { role: 'root', reason: 'x' }), 400, 'validation-failed');
      await expectProblem(await adminPost(roles, { role: 'admin' }), 400, 'validation-failed');
      expect((await adminPost(`${roles}/admin/revoke`, { reason: 'rotation ended' })).status).toBe(204);
      expect((await adminPost(`${roles}/events%3Aread/revoke`, { reason: 'done' })).status).toBe(204);
      await expectProblem(await adminPost(`${roles}/root/revoke`, { reason: 'x' }), 404, 'not-found');
      await expectProblem(
        await postJson(t, `/v1/admin/users/${other.userId}/unlock`, { reason: 'test' }, target.auth),
        403,
        'forbidden',
      );
      const events = await t.services.store.readStream(userStreamId(target.userId));
      expect(events.filter((e) => e.type.startsWith('Role')).map((e) => [e.type, e.metadata.reason])).toEqual(
        [
          ['RoleGranted', 'on call'],
          ['RoleGranted', 'feed consumer'],
          ['RoleRevoked', 'rotation ended'],
          ['RoleRevoked', 'done'],
        ],
      );
      expect(
        (
          (await (await fetch(`${t.url}/v1/users/me`, { headers: target.auth })).json()) as {
            roles: string[];
          }
        ).roles,
      ).toEqual([]);
    });

    it('erases: sessions end, the history still folds but no sealed value opens, the address is free again', async () => {
      const target = await signedIn(t, { username: 'Soon Gone' });
      const since = t.mail.messages.length;
      const res = await adminPost(`/v1/admin/users/${target.userId}/erase`, {
        reason: 'GDPR art. 17 request',
      });
      expect(res.status).toBe(204);
      expect((await testToken(t, target.tokens.access_token)).status).toBe(401);
      await expectProblem(await login(target), 401, 'invalid-credentials');

      const events = await t.services.store.readStream(userStreamId(target.userId));
      expect(events.at(-1)?.type).toBe('UserErased');
      const folded = await loadStream(t.services.store, userDecider, userStreamId(target.userId));
      expect(folded.state.status).toBe('erased');
      const sealed = events[0]?.data as { email: string; username: string; passwordHash: string };
      for (const value of [sealed.email, sealed.username, sealed.passwordHash]) {
        expect(await t.services.vault.open(target.userId, value)).toBeNull();
      }
      expect(JSON.stringify(events)).not.toContain(target.email);

      // Repeating the erasure succeeds; other commands on the erased account are 404.
      expect((await adminPost(`/v1/admin/users/${target.userId}/erase`, { reason: 'again' })).status).toBe(
        204,
      );
      await expectProblem(
        await adminPost(`/v1/admin/users/${target.userId}/deactivate`, { reason: 'x' }),
        404,
        'not-found',
      );

      // The address can make a new, separate account.
      const again = await register(t, { email: target.email, password: STRONG_PASSWORD });
      expect(again.userId).not.toBe(target.userId);
      expect(t.mail.messages.slice(since).every((m) => m.to === target.email)).toBe(true);
    });

    it('grants BOOTSTRAP_ADMIN_EMAIL admin at start-up when its account already exists', async () => {
      const boss = await registerVerified(t);
      const deps = {
        ...t.services,
        config: { ...t.services.config, bootstrapAdminEmail: boss.email.toUpperCase() },
      };
      expect(await ensureBootstrapAdmin(deps)).toEqual({ status: 'granted', userId: boss.userId });
      expect(await ensureBootstrapAdmin(deps)).toEqual({ status: 'already-admin', userId: boss.userId });
      expect(await ensureBootstrapAdmin(t.services)).toEqual({ status: 'not-configured' });
      const nobody = {
        ...t.services,
        config: { ...t.services.config, bootstrapAdminEmail: 'nobody@example.com' },
      };
      expect(await ensureBootstrapAdmin(nobody)).toEqual({ status: 'no-account' });
      const tokens = await loginAs(t, boss);
      const other = await registerVerified(t);
      expect(
        (
          await postJson(
            t,
            `/v1/admin/users/${other.userId}/unlock`,
            { reason: 'x' },
            bearer(tokens.access_token),
          )
        ).status,
      ).toBe(204);
    });

    it('grants and revokes from the CLI by email or id, and refuses bad arguments', async () => {
      const target = await registerVerified(t);
      const { lines, io } = quiet();
      expect(
        await runRoleCommand(t.services, 'grant', [target.email, 'pii:read', '--reason=audit'], io),
      ).toBe(0);
      expect(
        await runRoleCommand(t.services, 'grant', [target.email, 'pii:read', '--reason=audit'], io),
      ).toBe(0);
      expect(
        await runRoleCommand(t.services, 'revoke', [target.userId, 'pii:read', '--reason', 'done'], io),
      ).toBe(0);
      expect(await runRoleCommand(t.services, 'grant', [target.email, 'pii:read'], io)).toBe(2);
      expect(await runRoleCommand(t.services, 'grant', [target.email, 'root', '--reason', 'x'], io)).toBe(2);
      expect(
        await runRoleCommand(t.services, 'grant', ['ghost@example.com', 'admin', '--reason', 'x'], io),
      ).toBe(1);
      expect(await runRoleCommand(t.services, 'grant', [randomUUID(), 'admin', '--reason', 'x'], io)).toBe(1);
      expect(lines.join('\n')).not.toContain(target.email);
      const { types } = await userState(t.services, target.userId);
      expect(types.filter((type) => type.startsWith('Role'))).toEqual(['RoleGranted', 'RoleRevoked']);
    });
  });
}
