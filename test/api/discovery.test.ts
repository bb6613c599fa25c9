import { execFile } from 'node:child_process';
import path from 'node:path';
import { useTestApp, type TestApp } from '../support/app';
import { testBackends } from '../support/databases';
import { createAccount, loginAs, testClock, testToken } from '../support/session-fixtures';

type Verified = { ok: true; payload: Record<string, unknown>; kid: string } | { ok: false; code: string };

/**
 * A downstream service, as a separate Node process with the `jose` package (ESM-only, hence not inside
 * jest): it knows our JWKS URL, issuer and audience, and nothing else.
 */
const DOWNSTREAM = `
  import { createRemoteJWKSet, jwtVerify } from 'jose';
  let input = '';
  for await (const chunk of process.stdin) input += chunk;
  const { jwksUrl, tokens, issuer, audience } = JSON.parse(input);
  const jwks = createRemoteJWKSet(new URL(jwksUrl));
  const results = [];
  for (const token of tokens) {
    try {
      const { payload, protectedHeader } = await jwtVerify(token, jwks, {
        algorithms: ['ES256'], issuer, audience, typ: 'at+jwt', requiredClaims: ['exp', 'iat', 'sub', 'jti'],
      });
      results.push({ ok: true, payload, kid: protectedHeader.kid });
    } catch (e) {
      results.push({ ok: false, code: e.code ?? String(e) });
    }
  }
  process.stdout.write(JSON.stringify(results));`;

const verifyDownstream = (t: TestApp, jwksUrl: string, tokens: string[]): Promise<Verified[]> =>
  new Promise((resolve, reject) => {
    const child = execFile(
      process.execPath,
      ['--input-type=module', '-e', DOWNSTREAM],
      { cwd: path.resolve(__dirname, '../..') },
      (error, stdout) => (error ? reject(error) : resolve(JSON.parse(stdout) as Verified[])),
    );
    child.stdin!.end(
      JSON.stringify({ jwksUrl, tokens, issuer: t.config.jwt.issuer, audience: t.config.jwt.audience }),
    );
  });

for (const backend of testBackends()) {
  describe(`discovery and key rotation (${backend.name})`, () => {
    const clock = testClock();
    const t = useTestApp(backend, { clock });

    const jwks = async () => {
      const res = await fetch(`${t.url}/.well-known/jwks.json`);
      expect(res.status).toBe(200);
      return { res, body: (await res.json()) as { keys: Record<string, unknown>[] } };
    };

    it('publishes the public members of the signing keys only, cacheable for a while', async () => {
      const { res, body } = await jwks();
      expect(res.headers.get('content-type')).toMatch(/^application\/jwk-set\+json/);
      expect(res.headers.get('cache-control')).toBe('public, max-age=300');
      expect(body.keys).toHaveLength(1);
      for (const key of body.keys) {
        expect(Object.keys(key).sort()).toEqual(['alg', 'crv', 'kid', 'kty', 'use', 'x', 'y']);
        expect(key).toMatchObject({ kty: 'EC', crv: 'P-256', alg: 'ES256', use: 'sig' });
      }
    });

    it('describes only what exists: issuer, JWKS and the token endpoint, no OIDC provider claims', async () => {
      const res = await fetch(`${t.url}/.well-known/openid-configuration`);
      expect(res.status).toBe(200);
      const doc = (await res.json()) as Record<string, unknown>;
      expect(doc).toEqual({
        issuer: t.config.jwt.issuer,
        jwks_uri: `${t.config.publicUrl}/.well-known/jwks.json`,
        token_endpoint: `${t.config.publicUrl}/v1/auth/login`,
        grant_types_supported: ['password'],
        token_endpoint_auth_methods_supported: ['none'],
      });
      // Every URL it names is served here (PUBLIC_URL is the test's placeholder host).
      const local = (url: unknown) => `${t.url}${new URL(String(url)).pathname}`;
      expect((await fetch(local(doc.jwks_uri))).status).toBe(200);
      const token = await fetch(local(doc.token_endpoint), {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: 'grant_type=password&username=nobody%40example.com&password=whatever',
      });
      expect(token.status).toBe(401);
    });

    it('lets a third party verify our access tokens with jose from the JWKS URL alone', async () => {
      const account = await createAccount(t.services, { roles: ['events:read'] });
      const { access_token } = await loginAs(t, account);
      const [head, payload, signature] = access_token.split('.');
      const claims = JSON.parse(Buffer.from(payload!, 'base64url').toString()) as Record<string, unknown>;
      const tampered = `${head}.${Buffer.from(JSON.stringify({ ...claims, roles: ['admin'] })).toString('base64url')}.${signature}`;
      const [good, bad] = await verifyDownstream(t, `${t.url}/.well-known/jwks.json`, [
        access_token,
        tampered,
      ]);
      expect(good).toMatchObject({ ok: true, payload: { sub: account.userId, roles: ['events:read'] } });
      expect(bad).toMatchObject({ ok: false });
    });

    it('keeps verifying tokens of a rotated key until they expire, then retires it from the JWKS', async () => {
      const account = await createAccount(t.services);
      const before = await loginAs(t, account);
      const oldKid = (await jwks()).body.keys[0]!.kid;
      const newKid = await t.services.accessTokens.rotate();
      expect(newKid).not.toBe(oldKid);

      const after = await loginAs(t, account);
      const kidOf = (token: string) =>
        (JSON.parse(Buffer.from(token.split('.')[0]!, 'base64url').toString()) as { kid: string }).kid;
      expect(kidOf(before.access_token)).toBe(oldKid);
      expect(kidOf(after.access_token)).toBe(newKid);
      expect((await jwks()).body.keys.map((k) => k.kid).sort()).toEqual([oldKid, newKid].sort());
      expect((await testToken(t, before.access_token)).status).toBe(200);
      const downstream = await verifyDownstream(t, `${t.url}/.well-known/jwks.json`, [
        before.access_token,
        after.access_token,
      ]);
      expect(downstream.map((r) => r.ok && r.kid)).toEqual([oldKid, newKid]);

      // Past the longest access-token lifetime (and the clock tolerance), the old key is gone.
      clock.advance((900 + 10) * 1000);
      expect((await jwks()).body.keys.map((k) => k.kid)).toEqual([newKid]);
      expect((await testToken(t, before.access_token)).status).toBe(401);
    });
  });
}
