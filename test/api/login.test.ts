import { hash as argon2Hash, argon2id } from 'argon2';
import { sessionStreamId } from '../../src/domain/session';
import { userStreamId } from '../../src/domain/user';
import { useTestApp } from '../support/app';
import { testBackends } from '../support/databases';
import {
  createAccount,
  loginAs,
  PASSWORD,
  postJson,
  sessionIdOf,
  streamTypes,
  testClock,
  testToken,
  uniqueEmail,
  userState,
} from '../support/session-fixtures';

for (const backend of testBackends()) {
  describe(`POST /v1/auth/login (${backend.name})`, () => {
    const clock = testClock();
    const t = useTestApp(backend, { clock });
    afterEach(() => jest.restoreAllMocks());

    it('answers a token response that must not be cached, and starts a session in its own stream', async () => {
      const account = await createAccount(t.services);
      const before = await userState(t.services, account.userId);
      const res = await postJson(t, '/v1/auth/login', { email: account.email, password: account.password });
      expect(res.status).toBe(200);
      expect(res.headers.get('cache-control')).toBe('no-store');
      expect(res.headers.get('pragma')).toBe('no-cache');
      const body = (await res.json()) as Record<string, unknown>;
      expect(Object.keys(body).sort()).toEqual(['access_token', 'expires_in', 'refresh_token', 'token_type']);
      expect(body.token_type).toBe('Bearer');
      expect(body.expires_in).toBe(t.config.jwt.accessTokenTtlSeconds);
      expect(body.refresh_token).toMatch(/^[A-Za-z0-9_-]{70}$/);

      const claims = await t.services.accessTokens.verify(body.access_token as string);
      expect(claims.sub).toBe(account.userId);
      expect(claims.roles).toEqual([]);
      expect(await streamTypes(t.services, sessionStreamId(claims.sid))).toEqual(['SessionStarted']);
      // The user stream records the attempt and its outcome (docs/design.md, "Lockout").
      const after = await userState(t.services, account.userId);
      expect(after.types.slice(before.types.length)).toEqual(['LoginAttemptStarted', 'LoginSucceeded']);
      expect((await testToken(t, body.access_token as string)).status).toBe(200);
    });

    it('records no secret in the session stream: hashes and sealed values only', async () => {
      const account = await createAccount(t.services);
      const tokens = await loginAs(t, account, { 'user-agent': 'TestAgent/1.0' });
      const [started] = await t.services.store.readStream(sessionStreamId(sessionIdOf(tokens.access_token)));
      const text = JSON.stringify(started);
      expect(text).not.toContain(tokens.refresh_token);
      expect(text).not.toContain(tokens.access_token);
      expect(text).not.toContain('TestAgent');
      expect(text).not.toContain('127.0.0.1');
      const data = started?.data as { userAgent: string; ip: string; startedAtUserRevision: number };
      expect(data.userAgent).toMatch(/^pii:v1:/);
      expect(await t.services.vault.open(account.userId, data.userAgent)).toBe('TestAgent/1.0');
      expect(data.startedAtUserRevision).toBe((await userState(t.services, account.userId)).revision);
    });

    it('takes the OAuth form `username=&password=` as well', async () => {
      const account = await createAccount(t.services);
      const form = (fields: Record<string, string>) =>
        fetch(`${t.url}/v1/auth/login`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams(fields).toString(),
        });
      expect((await form({ username: account.email, password: account.password })).status).toBe(200);
      expect(
        (await form({ grant_type: 'password', username: account.email, password: account.password })).status,
      ).toBe(200);
      const extra = await form({ username: account.email, password: account.password, scope: 'admin' });
      expect(extra.status).toBe(400);
      expect(((await extra.json()) as { code: string }).code).toBe('validation-failed');
      // Two addresses in one field are never one login (GitLab CVE-2023-7028's shape).
      const twice = `username=${encodeURIComponent(account.email)}&username=x%40example.com&password=${encodeURIComponent(account.password)}`;
      const res = await fetch(`${t.url}/v1/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: twice,
      });
      expect(res.status).toBe(400);
    });

    it('canonicalises the address: case and surrounding spaces do not matter', async () => {
      const account = await createAccount(t.services, { email: uniqueEmail('Mixed.Case') });
      const res = await postJson(t, '/v1/auth/login', {
        email: `  ${account.email.toUpperCase()} `,
        password: account.password,
      });
      expect(res.status).toBe(200);
    });

    it('answers a wrong password with 401 invalid-credentials and records the failure', async () => {
      const account = await createAccount(t.services);
      const res = await postJson(t, '/v1/auth/login', { email: account.email, password: 'wrong password!' });
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toMatch(/^Bearer/);
      expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      const body = (await res.json()) as { code: string };
      expect(body.code).toBe('invalid-credentials');
      expect(JSON.stringify(body)).not.toContain('wrong password!');
      expect((await userState(t.services, account.userId)).types.at(-1)).toBe('LoginFailed');
    });

    it('runs argon2 on a dummy hash for an unknown or malformed address, and answers the same', async () => {
      const dummy = jest.spyOn(t.services.hasher, 'verifyDummy');
      const verify = jest.spyOn(t.services.hasher, 'verify');
      const known = await createAccount(t.services);
      const wrong = await postJson(t, '/v1/auth/login', { email: known.email, password: 'not the password' });
      expect(verify).toHaveBeenCalledTimes(1);
      expect(dummy).not.toHaveBeenCalled();

      const unknown = await postJson(t, '/v1/auth/login', {
        email: uniqueEmail('nobody'),
        password: PASSWORD,
      });
      const malformed = await postJson(t, '/v1/auth/login', { email: 'not an address', password: PASSWORD });
      expect(dummy).toHaveBeenCalledTimes(2);
      expect(dummy).toHaveBeenCalledWith(PASSWORD);
      expect(verify).toHaveBeenCalledTimes(1);
      const bodies = await Promise.all(
        [wrong, unknown, malformed].map(async (r) => [r.status, await r.json()]),
      );
      const strip = ([status, body]: unknown[]) => [status, { ...(body as object), instance: undefined }];
      expect(strip(bodies[1]!)).toEqual(strip(bodies[0]!));
      expect(strip(bodies[2]!)).toEqual(strip(bodies[0]!));
    });

    it('refuses an unverified address with 403 email-not-verified, only once the password is proven', async () => {
      const account = await createAccount(t.services, { verified: false });
      const wrong = await postJson(t, '/v1/auth/login', {
        email: account.email,
        password: 'not the password',
      });
      expect(wrong.status).toBe(401);
      const right = await postJson(t, '/v1/auth/login', { email: account.email, password: account.password });
      expect(right.status).toBe(403);
      expect(((await right.json()) as { code: string }).code).toBe('email-not-verified');
      expect(right.headers.get('cache-control')).not.toBe('no-store');
    });

    it('locks after 5 failures: the right password is refused unchecked until the lock expires', async () => {
      const account = await createAccount(t.services);
      for (let i = 0; i < 5; i++) {
        const res = await postJson(t, '/v1/auth/login', { email: account.email, password: `wrong ${i}` });
        expect(res.status).toBe(401);
      }
      const locked = await userState(t.services, account.userId);
      expect(locked.types.slice(-2)).toEqual(['LoginFailed', 'AccountLocked']);

      const verify = jest.spyOn(t.services.hasher, 'verify');
      const refused = await postJson(t, '/v1/auth/login', {
        email: account.email,
        password: account.password,
      });
      expect(refused.status).toBe(401);
      expect(((await refused.json()) as { code: string }).code).toBe('invalid-credentials');
      expect(verify).not.toHaveBeenCalled();
      // Nothing is appended while locked.
      expect((await userState(t.services, account.userId)).revision).toBe(locked.revision);

      clock.advance(61_000);
      const after = await postJson(t, '/v1/auth/login', { email: account.email, password: account.password });
      expect(after.status).toBe(200);
      expect((await userState(t.services, account.userId)).types.at(-1)).toBe('LoginSucceeded');
    });

    it('counts concurrent failures atomically: 5 at once lock the account', async () => {
      const account = await createAccount(t.services);
      const answers = await Promise.all(
        Array.from({ length: 5 }, (_, i) =>
          postJson(t, '/v1/auth/login', { email: account.email, password: `wrong ${i}` }),
        ),
      );
      expect(answers.map((r) => r.status)).toEqual([401, 401, 401, 401, 401]);
      const { types, state } = await userState(t.services, account.userId);
      expect(types.filter((type) => type === 'LoginFailed')).toHaveLength(5);
      expect(types).toContain('AccountLocked');
      expect(state.status === 'active' && state.lockout.consecutiveFailures).toBe(5);
    });

    it('refuses a deactivated account without running argon2', async () => {
      const account = await createAccount(t.services);
      await t.services.store.appendToStream(userStreamId(account.userId), [
        { type: 'UserDeactivated', data: { at: new Date().toISOString() } },
      ]);
      const verify = jest.spyOn(t.services.hasher, 'verify');
      const res = await postJson(t, '/v1/auth/login', { email: account.email, password: account.password });
      expect(res.status).toBe(401);
      expect(((await res.json()) as { code: string }).code).toBe('invalid-credentials');
      expect(verify).not.toHaveBeenCalled();
    });

    it('rehashes a password hashed with weaker parameters once it is proven', async () => {
      const weak = await argon2Hash(PASSWORD, {
        type: argon2id,
        memoryCost: 4096,
        timeCost: 1,
        parallelism: 1,
      });
      const account = await createAccount(t.services, { passwordHash: weak });
      await loginAs(t, account);
      const { state, types } = await userState(t.services, account.userId);
      expect(types.at(-1)).toBe('PasswordRehashed');
      if (state.status !== 'active') throw new Error('expected an active account');
      const stored = await t.services.vault.open(account.userId, state.passwordHash);
      expect(stored).toMatch(/^\$argon2id\$v=19\$m=19456,/);
      expect(t.services.hasher.needsRehash(stored ?? '')).toBe(false);
      // The new hash works, and is not upgraded again.
      await loginAs(t, account);
      const again = (await userState(t.services, account.userId)).types;
      expect(again.slice(types.length)).toEqual(['LoginAttemptStarted', 'LoginSucceeded']);
    });

    it('counts every outcome in /metrics', async () => {
      const count = async (outcome: string): Promise<number> => {
        const text = await (await fetch(`${t.url}/metrics`)).text();
        const line = new RegExp(`^identity_logins_total\\{outcome="${outcome}"\\} (\\d+)$`, 'm').exec(text);
        return Number(line?.[1] ?? 0);
      };
      const [success, invalid] = [await count('success'), await count('invalid_credentials')];
      const account = await createAccount(t.services);
      await loginAs(t, account);
      await postJson(t, '/v1/auth/login', { email: account.email, password: 'not the password' });
      expect(await count('success')).toBe(success + 1);
      expect(await count('invalid_credentials')).toBe(invalid + 1);
    });

    it('validates the body strictly and never echoes the password', async () => {
      const secret = 'a secret that must not come back';
      const extra = await postJson(t, '/v1/auth/login', {
        email: 'a@example.com',
        password: secret,
        admin: true,
      });
      expect(extra.status).toBe(400);
      const text = await extra.text();
      expect(text).toContain('validation-failed');
      expect(text).not.toContain(secret);
      const long = await postJson(t, '/v1/auth/login', { email: 'a@example.com', password: 'x'.repeat(257) });
      expect(long.status).toBe(400);
      const plain = await fetch(`${t.url}/v1/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'text/plain' },
        body: 'email=a',
      });
      expect(plain.status).toBe(415);
      expect(((await plain.json()) as { code: string }).code).toBe('unsupported-media-type');
      const broken = await fetch(`${t.url}/v1/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{"email": ',
      });
      expect(broken.status).toBe(400);
      expect(((await broken.json()) as { code: string }).code).toBe('malformed-body');
      const big = await postJson(t, '/v1/auth/login', {
        email: 'a@example.com',
        password: 'x'.repeat(17_000),
      });
      expect(big.status).toBe(413);
    });
  });
}
