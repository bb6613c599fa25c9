import {
  createHmac,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  randomUUID,
  sign,
  type KeyObject,
} from 'node:crypto';
import { EsAccessTokens, SqlSigningKeyStore } from '../../src/infrastructure/crypto/jwt';
import { unwrapKey } from '../../src/infrastructure/crypto/keys';
import { startTestApp, type TestApp } from '../support/app';
import { testBackends } from '../support/databases';
import {
  bearer,
  createAccount,
  loginAs,
  postJson,
  testClock,
  testToken,
  type TestClock,
  type TokenAnswer,
} from '../support/session-fixtures';

type Json = Record<string, unknown>;

const b64 = (value: Json | Buffer): string =>
  (Buffer.isBuffer(value) ? value : Buffer.from(JSON.stringify(value))).toString('base64url');

/** A JWT put together by hand, signed with `signer` (or unsigned). */
const craft = (header: Json, payload: Json, signer?: (input: string) => Buffer): string => {
  const input = `${b64(header)}.${b64(payload)}`;
  return `${input}.${signer ? signer(input).toString('base64url') : ''}`;
};

const es256 = (key: KeyObject) => (input: string) =>
  sign('sha256', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' });

const decode = (token: string): { header: Json; payload: Json } => {
  const [h, p] = token.split('.');
  return {
    header: JSON.parse(Buffer.from(h ?? '', 'base64url').toString()) as Json,
    payload: JSON.parse(Buffer.from(p ?? '', 'base64url').toString()) as Json,
  };
};

for (const backend of testBackends()) {
  describe(`bearer token forgery (${backend.name})`, () => {
    let t: TestApp;
    let clock: TestClock;
    let tokens: TokenAnswer;
    let genuine: { header: Json; payload: Json };
    /** The service's own signing key, to forge tokens that are wrong in exactly one respect. */
    let ourKey: KeyObject;

    beforeAll(async () => {
      clock = testClock();
      t = await startTestApp(backend, { clock });
      tokens = await loginAs(t, await createAccount(t.services));
      genuine = decode(tokens.access_token);
      const [row] = await new SqlSigningKeyStore(t.db.sql).list();
      if (!row) throw new Error('no signing key');
      const der = unwrapKey(t.services.keys.signingKeyWrap, row.privateKeyWrapped, `signing-key:${row.kid}`);
      if (!der) throw new Error('cannot unwrap the signing key');
      ourKey = createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
    });
    afterAll(() => t.close());

    const expectInvalidToken = async (token: string): Promise<void> => {
      const res = await testToken(t, token);
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toBe('Bearer error="invalid_token"');
      expect(((await res.json()) as { code: string }).code).toBe('invalid-token');
    };

    const withOurKey = (header: Json, payload: Json): string => craft(header, payload, es256(ourKey));

    it('accepts a token put together by hand with our key and the right members (the control)', async () => {
      const res = await testToken(t, withOurKey(genuine.header, { ...genuine.payload, jti: randomUUID() }));
      expect(res.status).toBe(200);
    });

    it.each(['none', 'None', 'NONE', 'nOnE'])('refuses alg %s', async (alg) => {
      await expectInvalidToken(craft({ ...genuine.header, alg }, genuine.payload));
      await expectInvalidToken(craft({ ...genuine.header, alg }, genuine.payload, es256(ourKey)));
    });

    it('refuses a tampered payload', async () => {
      const [h, , s] = tokens.access_token.split('.');
      const payload = b64({ ...genuine.payload, roles: ['admin'] });
      await expectInvalidToken(`${h}.${payload}.${s}`);
    });

    it('refuses HS256 signed with the public key (algorithm confusion)', async () => {
      const jwk = t.services.accessTokens.jwks().keys[0];
      const publicKey = createPublicKey({ key: { ...jwk } as never, format: 'jwk' });
      for (const secret of [
        publicKey.export({ type: 'spki', format: 'pem' }),
        publicKey.export({ type: 'spki', format: 'der' }),
        JSON.stringify(jwk),
      ]) {
        const hs = (input: string) => createHmac('sha256', secret).update(input).digest();
        await expectInvalidToken(craft({ ...genuine.header, alg: 'HS256' }, genuine.payload, hs));
      }
    });

    it('refuses keys named by the token itself: jwk, jku, x5u, or a kid of someone else', async () => {
      const attacker = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      const attackerJwk = attacker.publicKey.export({ format: 'jwk' });
      const signed = (header: Json) => craft(header, genuine.payload, es256(attacker.privateKey));
      await expectInvalidToken(signed({ ...genuine.header, jwk: attackerJwk }));
      await expectInvalidToken(signed({ ...genuine.header, kid: 'attacker', jwk: attackerJwk }));
      await expectInvalidToken(signed({ ...genuine.header, jku: 'http://127.0.0.1:1/jwks.json' }));
      await expectInvalidToken(signed({ ...genuine.header, x5u: 'http://127.0.0.1:1/cert.pem' }));
      await expectInvalidToken(signed({ ...genuine.header, kid: 'A'.repeat(43) }));
    });

    it('refuses our own signature on a token of another audience or issuer', async () => {
      for (const other of [
        { issuer: 'https://elsewhere.example', audience: t.config.jwt.audience },
        { issuer: t.config.jwt.issuer, audience: 'another-service' },
      ]) {
        const foreign = await EsAccessTokens.open({
          store: new SqlSigningKeyStore(t.db.sql),
          wrappingKey: t.services.keys.signingKeyWrap,
          clock,
          refreshIntervalMs: 0,
          ...other,
        });
        const { sub, sid, roles } = genuine.payload as { sub: string; sid: string; roles: string[] };
        await expectInvalidToken((await foreign.sign({ sub, sid, roles })).token);
        foreign.close();
      }
    });

    it('refuses a token that is not an access token, or lacks a required claim', async () => {
      await expectInvalidToken(withOurKey({ ...genuine.header, typ: 'JWT' }, genuine.payload));
      const { exp: _exp, ...noExp } = genuine.payload;
      await expectInvalidToken(withOurKey(genuine.header, noExp));
      const { sid: _sid, ...noSid } = genuine.payload;
      await expectInvalidToken(withOurKey(genuine.header, noSid));
      const iat = genuine.payload.iat as number;
      await expectInvalidToken(withOurKey(genuine.header, { ...genuine.payload, exp: iat + 24 * 3600 }));
      await expectInvalidToken(withOurKey(genuine.header, { ...genuine.payload, sub: randomUUID() }));
    });

    it('refuses a refresh token used as a bearer token', async () => {
      await expectInvalidToken(tokens.refresh_token);
    });

    it('refuses a missing, malformed or non-Bearer authorization', async () => {
      const attempts: Record<string, string>[] = [
        {},
        { authorization: 'Bearer' },
        { authorization: `Basic ${tokens.access_token}` },
      ];
      for (const headers of attempts) {
        const res = await fetch(`${t.url}/v1/auth/test-token`, { method: 'POST', headers });
        expect(res.status).toBe(401);
        expect(res.headers.get('www-authenticate')).toBe('Bearer error="invalid_token"');
      }
    });

    it('refuses the access token of a session that has ended, at once', async () => {
      const own = await loginAs(t, await createAccount(t.services));
      expect((await testToken(t, own.access_token)).status).toBe(200);
      expect((await postJson(t, '/v1/auth/logout', { refresh_token: own.refresh_token })).status).toBe(204);
      await expectInvalidToken(own.access_token);
    });

    it('refuses an expired token', async () => {
      const own = await loginAs(t, await createAccount(t.services));
      clock.advance((t.config.jwt.accessTokenTtlSeconds + 10) * 1000);
      try {
        await expectInvalidToken(own.access_token);
      } finally {
        clock.advance(-(t.config.jwt.accessTokenTtlSeconds + 10) * 1000);
      }
      // Back inside its lifetime, the same token works: it was the expiry that refused it.
      expect(
        (await fetch(`${t.url}/v1/auth/test-token`, { method: 'POST', headers: bearer(own.access_token) }))
          .status,
      ).toBe(200);
    });
  });
}
