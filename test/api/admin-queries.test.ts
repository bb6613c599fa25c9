import type { EventJson } from '../../src/application/events/present';
import { testBackends } from '../support/databases';
import { startTestApp, type TestApp } from '../support/app';
import {
  bearer,
  createAccount,
  loginAs,
  postJson,
  runUserCommand,
  type TestAccount,
} from '../support/session-fixtures';

const SECRETS = /password_?hash|token_?hash|refresh_?token|nonce|\$argon2|pii:v1:/i;

for (const backend of testBackends()) {
  describe(`admin queries on ${backend.name}`, () => {
    let t: TestApp;
    let admin: TestAccount;
    let token: string;
    let accounts: TestAccount[];

    const get = (path: string, auth: string | null = token) =>
      fetch(`${t.url}${path}`, { headers: auth ? bearer(auth) : {} });
    const head = async () =>
      (await t.db.store.readAll({ direction: 'backwards', maxCount: 1 })).events[0]?.position as string;

    beforeAll(async () => {
      t = await startTestApp(backend);
      admin = await createAccount(t.services, { roles: ['admin'] });
      token = (await loginAs(t, admin)).access_token;
      accounts = [];
      for (let i = 0; i < 4; i++) {
        accounts.push(
          await createAccount(t.services, {
            verified: i !== 3,
            email: `Member${i}.${Date.now()}@Example.com`,
          }),
        );
      }
      const res = await postJson(
        t,
        `/v1/admin/users/${accounts[2]?.userId}/deactivate`,
        { reason: 'spam' },
        bearer(token),
      );
      expect(res.status).toBe(204);
    });
    afterAll(() => t.close());

    it('lists the read model page by page, in creation order, with no-store and no secrets', async () => {
      const seen: string[] = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const res = await get(
          `/v1/admin/users?limit=2&min_position=${await head()}${cursor ? `&cursor=${cursor}` : ''}`,
        );
        expect(res.status).toBe(200);
        expect(res.headers.get('cache-control')).toBe('no-store');
        expect(res.headers.get('x-read-model-stale')).toBeNull();
        const body = (await res.json()) as { users: { id: string }[]; next_cursor: string | null };
        expect(body.users.length).toBeLessThanOrEqual(2);
        expect(JSON.stringify(body)).not.toMatch(SECRETS);
        seen.push(...body.users.map((u) => u.id));
        cursor = body.next_cursor;
        pages += 1;
      } while (cursor !== null && pages < 10);
      expect(seen).toEqual([admin, ...accounts].map((a) => a.userId));
    });

    it('filters by canonical email and by status', async () => {
      const byEmail = await get(
        `/v1/admin/users?email=${encodeURIComponent(` ${accounts[1]?.email.toUpperCase()}`)}`,
      );
      const found = (await byEmail.json()) as { users: Record<string, unknown>[] };
      expect(found.users).toEqual([
        expect.objectContaining({
          id: accounts[1]?.userId,
          email: accounts[1]?.email.toLowerCase(),
          status: 'active',
          email_verified: true,
          roles: [],
        }),
      ]);
      const deactivated = (await (await get('/v1/admin/users?status=deactivated')).json()) as {
        users: { id: string }[];
      };
      expect(deactivated.users.map((u) => u.id)).toEqual([accounts[2]?.userId]);
      const pending = (await (await get('/v1/admin/users?status=pending_verification')).json()) as {
        users: { id: string }[];
      };
      expect(pending.users.map((u) => u.id)).toEqual([accounts[3]?.userId]);
      const none = (await (await get('/v1/admin/users?email=not-an-address')).json()) as { users: unknown[] };
      expect(none).toEqual({ users: [], next_cursor: null });
    });

    it.each([
      ['limit=0', 'limit'],
      ['limit=201', 'limit'],
      ['limit=ten', 'limit'],
      ['cursor=not-a-cursor', 'cursor'],
      ['status=locked', 'status'],
      ['min_position=12', 'min_position'],
      ['page=2', '(body)'],
    ])('answers 400 validation-failed to %s', async (query, path) => {
      const res = await get(`/v1/admin/users?${query}`);
      expect(res.status).toBe(400);
      expect(res.headers.get('content-type')).toContain('application/problem+json');
      const body = (await res.json()) as { code: string; errors: { path: string }[] };
      expect(body.code).toBe('validation-failed');
      expect(body.errors.map((e) => e.path)).toContain(path);
    });

    it('reports the projections in /health/ready', async () => {
      const res = await fetch(`${t.url}/health/ready`);
      const body = (await res.json()) as { checks: Record<string, { status: string }> };
      expect(body.checks.projections).toEqual({ status: 'up' });
    });

    it('is for admins only', async () => {
      const member = (await loginAs(t, accounts[0] as TestAccount)).access_token;
      expect((await get('/v1/admin/users', member)).status).toBe(403);
      expect((await get(`/v1/admin/users/${admin.userId}/events`, member)).status).toBe(403);
      const anonymous = await get('/v1/admin/users', null);
      expect(anonymous.status).toBe(401);
      expect(anonymous.headers.get('www-authenticate')).toContain('Bearer');
    });

    it('waits for min_position, and says so when the read model is still behind', async () => {
      const target = accounts[0] as TestAccount;
      await runUserCommand(t.services, target.userId, (now) => ({
        type: 'GrantRole',
        data: { role: 'pii:read', now },
      }));
      const res = await get(
        `/v1/admin/users?email=${encodeURIComponent(target.email)}&min_position=${await head()}`,
      );
      const body = (await res.json()) as { users: { roles: string[] }[] };
      expect(body.users[0]?.roles).toEqual(['pii:read']);
      const beyond = await get(`/v1/admin/users?limit=1&min_position=${'f'.repeat(16)}-${'f'.repeat(16)}`);
      expect(beyond.status).toBe(200);
      expect(beyond.headers.get('x-read-model-stale')).toBe('true');
    });

    it('serves one user from the write side, and time-travels by time and by position', async () => {
      const target = accounts[1] as TestAccount;
      for (let i = 0; i < 5; i++) {
        const res = await postJson(t, '/v1/auth/login', {
          email: target.email,
          password: 'wrong password here',
        });
        expect(res.status).toBe(401);
      }
      const now = (await (await get(`/v1/admin/users/${target.userId}`)).json()) as Record<string, unknown>;
      expect(now).toMatchObject({ id: target.userId, status: 'active', locked: true, failed_logins: 5 });
      expect(JSON.stringify(now)).not.toMatch(SECRETS);

      const history = (await (await get(`/v1/admin/users/${target.userId}/events?limit=200`)).json()) as {
        events: EventJson[];
      };
      const firstFailure = history.events.find((e) => e.type === 'LoginFailed') as EventJson;
      const lock = history.events.find((e) => e.type === 'AccountLocked') as EventJson;
      const byTime = (await (
        await get(`/v1/admin/users/${target.userId}?as_of=${encodeURIComponent(firstFailure.occurred_at)}`)
      ).json()) as Record<string, unknown>;
      expect(byTime).toMatchObject({ locked: false, failed_logins: 1, position: firstFailure.position });
      const byPosition = (await (
        await get(`/v1/admin/users/${target.userId}?as_of=${lock.position}`)
      ).json()) as Record<string, unknown>;
      expect(byPosition).toMatchObject({
        locked: true,
        locked_until: lock.data.until,
        revision: lock.revision,
      });

      expect((await get(`/v1/admin/users/${target.userId}?as_of=2001-01-01T00:00:00Z`)).status).toBe(404);
      expect((await get(`/v1/admin/users/${target.userId}?as_of=yesterday`)).status).toBe(400);
      expect((await get(`/v1/admin/users/00000000-0000-4000-8000-000000000000`)).status).toBe(404);
      expect((await get(`/v1/admin/users/not-a-uuid`)).status).toBe(404);
    });

    it('shows the history page by page with actor, reason and correlation id, never a secret, and [erased] after erasure', async () => {
      const target = accounts[2] as TestAccount;
      const first = (await (await get(`/v1/admin/users/${target.userId}/events?limit=1`)).json()) as {
        events: EventJson[];
        next_cursor: string;
      };
      expect(first.events).toHaveLength(1);
      expect(first.events[0]).toMatchObject({
        stream: `user-${target.userId}`,
        revision: 0,
        type: 'UserRegistered',
        schema_version: 1,
        data: { user_id: target.userId, email: target.email.toLowerCase() },
      });
      const rest = (await (
        await get(`/v1/admin/users/${target.userId}/events?cursor=${first.next_cursor}`)
      ).json()) as {
        events: EventJson[];
        next_cursor: string | null;
      };
      expect(rest.next_cursor).toBeNull();
      const deactivated = rest.events.find((e) => e.type === 'UserDeactivated');
      expect(deactivated?.metadata).toMatchObject({
        actor: { type: 'admin', id: admin.userId },
        reason: 'spam',
      });
      expect(typeof deactivated?.metadata.correlation_id).toBe('string');
      expect(JSON.stringify([first, rest])).not.toMatch(SECRETS);

      const erase = await postJson(
        t,
        `/v1/admin/users/${target.userId}/erase`,
        { reason: 'asked to' },
        bearer(token),
      );
      expect(erase.status).toBe(204);
      const after = (await (await get(`/v1/admin/users/${target.userId}/events`)).json()) as {
        events: EventJson[];
      };
      expect(after.events[0]?.data.email).toBe('[erased]');
      expect(JSON.stringify(after)).not.toContain(target.email.toLowerCase());
      expect(after.events.at(-1)?.type).toBe('UserErased');
      const past = (await (
        await get(`/v1/admin/users/${target.userId}?as_of=${first.events[0]?.position}`)
      ).json()) as Record<string, unknown>;
      expect(past).toMatchObject({ status: 'pending_verification', email: '[erased]', revision: 0 });

      expect((await get(`/v1/admin/users/${target.userId}/events?cursor=zzz`)).status).toBe(400);
      expect((await get(`/v1/admin/users/00000000-0000-4000-8000-000000000000/events`)).status).toBe(404);
    });
  });
}
