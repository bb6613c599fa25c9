import { randomUUID } from 'node:crypto';
import { runRoleCommand } from '../../src/cli/roles';
import { useTestApp, startTestApp, type TestApp } from '../support/app';
import { expectProblem, signedIn } from '../support/account-flows';
import { testBackends } from '../support/databases';
import { postJson, uniqueEmail } from '../support/session-fixtures';

type Endpoint = { method: string; path: string; auth?: 'user' | 'admin'; valid: Record<string, unknown> };

/** What must never reach a client: framework, library or runtime wording, stack frames, SQL. */
const LEAKS =
  /express|body-parser|zod|SyntaxError|Unexpected token|at [\w.]+ \(|node_modules|select |insert /i;

for (const backend of testBackends()) {
  describe(`bad input on the account endpoints (${backend.name})`, () => {
    let t: TestApp;
    let user: Record<string, string>;
    let admin: Record<string, string>;
    let endpoints: Endpoint[];

    beforeAll(async () => {
      t = await startTestApp(backend);
      user = (await signedIn(t)).auth;
      const a = await signedIn(t);
      await runRoleCommand(t.services, 'grant', [a.userId, 'admin', '--reason', 'tests'], {
        out: () => undefined,
        err: () => undefined,
      });
      admin = a.auth;
      const target = randomUUID();
      endpoints = [
        {
          method: 'POST',
          path: '/v1/auth/register',
          valid: { email: uniqueEmail(), password: 'x'.repeat(20) },
        },
        { method: 'POST', path: '/v1/auth/verify-email', valid: { token: 'a'.repeat(64) } },
        { method: 'POST', path: '/v1/auth/resend-verification', valid: { email: uniqueEmail() } },
        { method: 'POST', path: '/v1/auth/forgot-password', valid: { email: uniqueEmail() } },
        {
          method: 'POST',
          path: '/v1/auth/reset-password',
          valid: { token: 'a'.repeat(64), new_password: 'y' },
        },
        {
          method: 'POST',
          path: '/v1/auth/change-password',
          auth: 'user',
          valid: { current_password: 'a', new_password: 'b' },
        },
        { method: 'PATCH', path: '/v1/users/me', auth: 'user', valid: { username: 'Someone' } },
        ...['deactivate', 'reactivate', 'unlock', 'erase'].map((action): Endpoint => ({
          method: 'POST',
          path: `/v1/admin/users/${target}/${action}`,
          auth: 'admin',
          valid: { reason: 'testing' },
        })),
        {
          method: 'POST',
          path: `/v1/admin/users/${target}/roles`,
          auth: 'admin',
          valid: { role: 'pii:read', reason: 'testing' },
        },
        {
          method: 'POST',
          path: `/v1/admin/users/${target}/roles/pii:read/revoke`,
          auth: 'admin',
          valid: { reason: 'testing' },
        },
      ];
    });
    afterAll(() => t.close());

    const send = (e: Endpoint, body: string | Buffer, contentType = 'application/json') =>
      fetch(`${t.url}${e.path}`, {
        method: e.method,
        headers: {
          'content-type': contentType,
          ...(e.auth === 'user' ? user : e.auth === 'admin' ? admin : {}),
        },
        body,
      });

    const expectClean = async (res: Response, status: number, code: string, label: string) => {
      const text = await res.text();
      expect({ label, status: res.status }).toEqual({ label, status });
      expect(res.headers.get('content-type')).toContain('application/problem+json');
      const body = JSON.parse(text) as { code: string };
      expect({ label, code: body.code }).toEqual({ label, code });
      expect(text).not.toMatch(LEAKS);
    };

    it('answers malformed JSON with 400 malformed-body', async () => {
      for (const e of endpoints) {
        for (const raw of ['{"email":', '{bad json}', '"just a string"', 'nul', '{"a":1}}']) {
          await expectClean(await send(e, raw), 400, 'malformed-body', `${e.path} ${raw}`);
        }
      }
    });

    it('answers wrong shapes, wrong types, arrays for strings and unknown members with 400 validation-failed', async () => {
      for (const e of endpoints) {
        const keys = Object.keys(e.valid);
        const variants: unknown[] = [
          [],
          [e.valid],
          { ...e.valid, extra: 1 },
          { ...e.valid, constructor: 'x' },
          ...keys.flatMap((k) => [
            { ...e.valid, [k]: 12345 },
            { ...e.valid, [k]: ['a', 'b'] },
            { ...e.valid, [k]: { nested: 'object' } },
            { ...e.valid, [k]: true },
          ]),
        ];
        if (e.path !== '/v1/users/me') variants.push({});
        for (const variant of variants) {
          const res = await send(e, JSON.stringify(variant));
          await expectClean(res, 400, 'validation-failed', `${e.path} ${JSON.stringify(variant)}`);
        }
      }
    });

    it('refuses a __proto__ member instead of merging it', async () => {
      for (const e of endpoints) {
        const raw = `{"__proto__":{"roles":["admin"]},${JSON.stringify(e.valid).slice(1)}`;
        await expectClean(await send(e, raw), 400, 'validation-failed', `${e.path} __proto__`);
      }
    });

    it('answers a 17 KiB body with 413 before parsing it', async () => {
      for (const e of endpoints) {
        const big = JSON.stringify({ ...e.valid, padding: 'p'.repeat(17 * 1024) });
        await expectClean(await send(e, big), 413, 'payload-too-large', e.path);
      }
    });

    it('answers another media type with 415', async () => {
      for (const e of endpoints) {
        const json = JSON.stringify(e.valid);
        await expectClean(await send(e, json, 'text/plain'), 415, 'unsupported-media-type', `${e.path} text`);
        await expectClean(
          await send(
            e,
            new URLSearchParams(e.valid as Record<string, string>).toString(),
            'application/x-www-form-urlencoded',
          ),
          415,
          'unsupported-media-type',
          `${e.path} form`,
        );
        await expectClean(
          await send(e, Buffer.from(json, 'latin1'), 'application/json; charset=latin1'),
          415,
          'unsupported-media-type',
          `${e.path} latin1`,
        );
      }
    });

    it('never echoes a password or a token in a validation error', async () => {
      const secret = 'Sup3r-Secret-Value-1234';
      const res = await postJson(t, '/v1/auth/register', {
        email: 'not an address',
        password: secret,
        extra: secret,
      });
      const text = await res.text();
      expect(res.status).toBe(400);
      expect(text).not.toContain(secret);
      const reset = await postJson(t, '/v1/auth/reset-password', { token: secret, new_password: [secret] });
      expect(await reset.text()).not.toContain(secret);
    });

    it('treats CR/LF in an address as no address: 400 at registration, the uniform 202 elsewhere', async () => {
      const injected = `victim@example.com\r\nBcc: attacker@example.com`;
      await expectProblem(
        await postJson(t, '/v1/auth/register', { email: injected, password: 'x'.repeat(20) }),
        400,
        'validation-failed',
      );
      for (const path of ['/v1/auth/resend-verification', '/v1/auth/forgot-password']) {
        expect((await postJson(t, path, { email: injected })).status).toBe(202);
      }
      expect(t.mail.messages.filter((m) => m.to.includes('attacker'))).toEqual([]);
    });

    it('answers a wrong method with 405 and Allow', async () => {
      const res = await fetch(`${t.url}/v1/auth/register`);
      await expectClean(res, 405, 'method-not-allowed', 'GET register');
      expect(res.headers.get('allow')).toBe('POST');
      const del = await fetch(`${t.url}/v1/users/me`, { method: 'PUT' });
      expect(del.status).toBe(405);
      expect(del.headers.get('allow')).toContain('PATCH');
    });
  });

  describe(`per-IP rate limits on the account endpoints (${backend.name})`, () => {
    const t = useTestApp(backend, {
      env: {
        RATE_LIMITS_ENABLED: 'true',
        RATE_LIMIT_REGISTER_PER_MINUTE: '2',
        RATE_LIMIT_EMAIL_PER_MINUTE: '3',
      },
    });

    it('answers 429 rate-limited with Retry-After once an endpoint budget is spent', async () => {
      const cases: [string, () => unknown, number][] = [
        ['/v1/auth/register', () => ({ email: uniqueEmail(), password: 'x' }), 2],
        ['/v1/auth/verify-email', () => ({ token: 'x' }), 3],
        ['/v1/auth/resend-verification', () => ({ email: uniqueEmail() }), 3],
        ['/v1/auth/forgot-password', () => ({ email: uniqueEmail() }), 3],
        ['/v1/auth/reset-password', () => ({ token: 'x', new_password: 'y' }), 3],
      ];
      for (const [path, body, budget] of cases) {
        for (let i = 0; i < budget; i += 1) expect((await postJson(t, path, body())).status).not.toBe(429);
        const limited = await postJson(t, path, body());
        await expectProblem(limited, 429, 'rate-limited');
        expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
      }
    });
  });
}
