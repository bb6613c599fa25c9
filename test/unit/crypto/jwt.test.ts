import { execFile } from 'node:child_process';
import {
  createHash,
  createHmac,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  randomBytes,
  randomUUID,
  sign,
  type KeyObject,
} from 'node:crypto';
import path from 'node:path';
import { InvalidAccessTokenError, type AccessTokenClaims } from '../../../src/application/ports';
import { EsAccessTokens, InMemorySigningKeyStore } from '../../../src/infrastructure/crypto/jwt';
import { unwrapKey } from '../../../src/infrastructure/crypto/keys';

const ISSUER = 'https://id.example.test';
const AUDIENCE = 'identity';
const T0 = new Date('2030-01-01T00:00:00Z');

const b64 = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');

/** A JWS built by hand, so every header and claim is under the test's control. */
const forge = (header: Record<string, unknown>, payload: Record<string, unknown>, key: KeyObject): string => {
  const input = `${b64(header)}.${b64(payload)}`;
  const signature = sign('sha256', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' });
  return `${input}.${signature.toString('base64url')}`;
};

const thumbprint = (key: KeyObject): string => {
  const { crv, kty, x, y } = key.export({ format: 'jwk' });
  return createHash('sha256').update(JSON.stringify({ crv, kty, x, y })).digest('base64url');
};

const setup = async (overrides: { issuer?: string; audience?: string; ttlSeconds?: number } = {}) => {
  const store = new InMemorySigningKeyStore();
  const wrappingKey = randomBytes(32);
  const clock = {
    current: new Date(T0),
    now() {
      return new Date(this.current);
    },
  };
  const tokens = await EsAccessTokens.open({
    store,
    wrappingKey,
    clock,
    issuer: overrides.issuer ?? ISSUER,
    audience: overrides.audience ?? AUDIENCE,
    ttlSeconds: overrides.ttlSeconds ?? 900,
    refreshIntervalMs: 0,
  });
  /** Our current private key, unwrapped as only a holder of the master key could. */
  const ourKey = () => {
    const row = store.rows.find((r) => r.retiredAt === null)!;
    const der = unwrapKey(wrappingKey, row.privateKeyWrapped, `signing-key:${row.kid}`)!;
    return { kid: row.kid, key: createPrivateKey({ key: der, format: 'der', type: 'pkcs8' }) };
  };
  const now = () => Math.floor(clock.current.getTime() / 1000);
  const claims = (extra: Record<string, unknown> = {}) => ({
    iss: ISSUER,
    aud: AUDIENCE,
    sub: randomUUID(),
    sid: randomUUID(),
    jti: randomUUID(),
    roles: [],
    iat: now(),
    exp: now() + 600,
    ...extra,
  });
  const advance = (seconds: number) => {
    clock.current = new Date(clock.current.getTime() + seconds * 1000);
  };
  return { store, wrappingKey, clock, tokens, ourKey, claims, advance };
};

const rejection = async (promise: Promise<unknown>): Promise<InvalidAccessTokenError> => {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(InvalidAccessTokenError);
  return error as InvalidAccessTokenError;
};

describe('access tokens', () => {
  let ctx: Awaited<ReturnType<typeof setup>>;
  beforeEach(async () => {
    ctx = await setup();
  });

  it('signs an ES256 at+jwt with our kid and the contract claims, and verifies it', async () => {
    const user = randomUUID();
    const session = randomUUID();
    const { token, expiresIn, jti } = await ctx.tokens.sign({ sub: user, sid: session, roles: ['admin'] });
    const [header, payload] = token
      .split('.')
      .slice(0, 2)
      .map((part) => JSON.parse(Buffer.from(part, 'base64url').toString()));
    expect(header).toEqual({ alg: 'ES256', typ: 'at+jwt', kid: ctx.ourKey().kid });
    const iat = Math.floor(T0.getTime() / 1000);
    expect(payload).toEqual({
      iss: ISSUER,
      aud: AUDIENCE,
      sub: user,
      iat,
      exp: iat + 900,
      jti,
      sid: session,
      roles: ['admin'],
    });
    expect(expiresIn).toBe(900);
    await expect(ctx.tokens.verify(token)).resolves.toEqual<AccessTokenClaims>({
      iss: ISSUER,
      aud: AUDIENCE,
      sub: user,
      sid: session,
      jti,
      roles: ['admin'],
      iat,
      exp: iat + 900,
    });
  });

  it('uses the configured lifetime, never more than 15 minutes', async () => {
    const short = await setup({ ttlSeconds: 300 });
    const { token, expiresIn } = await short.tokens.sign({ sub: randomUUID(), sid: randomUUID(), roles: [] });
    expect(expiresIn).toBe(300);
    expect((await short.tokens.verify(token)).exp - (await short.tokens.verify(token)).iat).toBe(300);
    await expect(setup({ ttlSeconds: 901 })).rejects.toThrow(RangeError);
  });

  it('publishes public members only in the JWKS', async () => {
    const { keys } = ctx.tokens.jwks();
    expect(keys).toHaveLength(1);
    expect(Object.keys(keys[0]!).sort()).toEqual(['alg', 'crv', 'kid', 'kty', 'use', 'x', 'y']);
    expect(keys[0]).toMatchObject({
      kty: 'EC',
      crv: 'P-256',
      use: 'sig',
      alg: 'ES256',
      kid: ctx.ourKey().kid,
    });
    expect(JSON.stringify(ctx.tokens.jwks())).not.toMatch(/"d"/);
  });

  it('keeps private keys wrapped at rest', () => {
    const row = ctx.store.rows[0]!;
    const pkcs8 = ctx.ourKey().key.export({ format: 'der', type: 'pkcs8' });
    expect(row.privateKeyWrapped.includes(pkcs8.subarray(-32))).toBe(false);
    expect(Object.keys(row.publicJwk).sort()).toEqual(['crv', 'kty', 'x', 'y']);
  });

  describe('refuses forgeries', () => {
    it.each(['none', 'None', 'NONE', 'nOnE'])('alg %j', async (alg) => {
      const unsigned = `${b64({ alg, typ: 'at+jwt', kid: ctx.ourKey().kid })}.${b64(ctx.claims())}.`;
      await rejection(ctx.tokens.verify(unsigned));
      await rejection(ctx.tokens.verify(`${unsigned}${Buffer.from('x').toString('base64url')}`));
    });

    it('a payload changed after signing', async () => {
      const { token } = await ctx.tokens.sign({ sub: randomUUID(), sid: randomUUID(), roles: [] });
      const [header, payload, signature] = token.split('.') as [string, string, string];
      const claims = JSON.parse(Buffer.from(payload, 'base64url').toString());
      const elevated = `${header}.${b64({ ...claims, roles: ['admin'] })}.${signature}`;
      expect((await rejection(ctx.tokens.verify(elevated))).reason).toBe('rejected');
    });

    it('HS256 signed with our public key as the HMAC secret', async () => {
      const jwk = ctx.tokens.jwks().keys[0]!;
      const publicKey = createPublicKey({ key: jwk, format: 'jwk' });
      const secrets = [
        publicKey.export({ format: 'pem', type: 'spki' }),
        publicKey.export({ format: 'der', type: 'spki' }),
        JSON.stringify(jwk),
      ];
      for (const secret of secrets) {
        const input = `${b64({ alg: 'HS256', typ: 'at+jwt', kid: jwk.kid })}.${b64(ctx.claims())}`;
        const mac = createHmac('sha256', secret).update(input).digest('base64url');
        expect((await rejection(ctx.tokens.verify(`${input}.${mac}`))).reason).toBe('algorithm');
      }
    });

    it('a key of its own, embedded as a jwk header', async () => {
      const attacker = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      const jwk = attacker.publicKey.export({ format: 'jwk' });
      for (const kid of [thumbprint(attacker.publicKey), ctx.ourKey().kid, undefined]) {
        const token = forge({ alg: 'ES256', typ: 'at+jwt', kid, jwk }, ctx.claims(), attacker.privateKey);
        await rejection(ctx.tokens.verify(token));
      }
    });

    it('a key of its own, announced with jku or x5u', async () => {
      const attacker = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      const kid = thumbprint(attacker.publicKey);
      for (const extra of [
        { jku: 'https://evil.example/jwks.json' },
        { x5u: 'https://evil.example/cert.pem' },
      ]) {
        const token = forge(
          { alg: 'ES256', typ: 'at+jwt', kid, ...extra },
          ctx.claims(),
          attacker.privateKey,
        );
        expect((await rejection(ctx.tokens.verify(token))).reason).toBe('unknown-key');
      }
    });

    it('a foreign kid, or our kid on a token signed with another key', async () => {
      const attacker = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      const foreign = forge(
        { alg: 'ES256', typ: 'at+jwt', kid: 'some-other-key' },
        ctx.claims(),
        attacker.privateKey,
      );
      expect((await rejection(ctx.tokens.verify(foreign))).reason).toBe('unknown-key');
      const ours = forge(
        { alg: 'ES256', typ: 'at+jwt', kid: ctx.ourKey().kid },
        ctx.claims(),
        attacker.privateKey,
      );
      expect((await rejection(ctx.tokens.verify(ours))).reason).toBe('rejected');
      const noKid = forge({ alg: 'ES256', typ: 'at+jwt' }, ctx.claims(), ctx.ourKey().key);
      expect((await rejection(ctx.tokens.verify(noKid))).reason).toBe('unknown-key');
    });

    it('a row slipped into the key table without the master key', async () => {
      const attacker = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      const { crv, kty, x, y } = attacker.publicKey.export({ format: 'jwk' });
      const kid = thumbprint(attacker.publicKey);
      await ctx.store.add({
        kid,
        privateKeyWrapped: randomBytes(80),
        publicJwk: { kty: kty as 'EC', crv: crv as 'P-256', x: x!, y: y! },
        createdAt: new Date(T0.getTime() + 1000),
        retiredAt: null,
      });
      await ctx.tokens.reload();
      expect(ctx.tokens.jwks().keys.map((k) => k.kid)).not.toContain(kid);
      const token = forge({ alg: 'ES256', typ: 'at+jwt', kid }, ctx.claims(), attacker.privateKey);
      await rejection(ctx.tokens.verify(token));
      // Signing still uses our key, not the newer planted row.
      const signed = await ctx.tokens.sign({ sub: randomUUID(), sid: randomUUID(), roles: [] });
      await expect(ctx.tokens.verify(signed.token)).resolves.toBeDefined();
    });

    it('another audience or another issuer, even signed with our key', async () => {
      const { key, kid } = ctx.ourKey();
      const header = { alg: 'ES256', typ: 'at+jwt', kid };
      await rejection(ctx.tokens.verify(forge(header, ctx.claims({ aud: 'billing' }), key)));
      await rejection(ctx.tokens.verify(forge(header, ctx.claims({ aud: ['billing'] }), key)));
      await rejection(ctx.tokens.verify(forge(header, ctx.claims({ iss: 'https://evil.example' }), key)));
      await rejection(ctx.tokens.verify(forge(header, ctx.claims({ iss: undefined }), key)));
      await rejection(ctx.tokens.verify(forge(header, ctx.claims({ aud: undefined }), key)));
    });

    it('a token of ours minted for another audience by a sibling configuration', async () => {
      const sibling = await EsAccessTokens.open({
        store: ctx.store,
        wrappingKey: ctx.wrappingKey,
        clock: ctx.clock,
        issuer: ISSUER,
        audience: 'billing',
        refreshIntervalMs: 0,
      });
      const { token } = await sibling.sign({ sub: randomUUID(), sid: randomUUID(), roles: [] });
      await expect(sibling.verify(token)).resolves.toBeDefined();
      await rejection(ctx.tokens.verify(token));
    });

    it.each([['JWT'], ['jwt'], ['id_token'], [undefined]])('typ %j', async (typ) => {
      const { key, kid } = ctx.ourKey();
      const token = forge({ alg: 'ES256', typ, kid }, ctx.claims(), key);
      expect((await rejection(ctx.tokens.verify(token))).reason).toBe('type');
    });

    it('accepts the media-type spelling of the type, in any case (RFC 9068 §4)', async () => {
      const { key, kid } = ctx.ourKey();
      for (const typ of ['application/at+jwt', 'AT+JWT']) {
        await expect(
          ctx.tokens.verify(forge({ alg: 'ES256', typ, kid }, ctx.claims(), key)),
        ).resolves.toBeDefined();
      }
    });

    it('a critical header extension', async () => {
      const { key, kid } = ctx.ourKey();
      const token = forge({ alg: 'ES256', typ: 'at+jwt', kid, crit: ['exp'], exp: 1 }, ctx.claims(), key);
      expect((await rejection(ctx.tokens.verify(token))).reason).toBe('critical-header');
    });

    it('an expired token', async () => {
      const { token } = await ctx.tokens.sign({ sub: randomUUID(), sid: randomUUID(), roles: [] });
      ctx.advance(899);
      await expect(ctx.tokens.verify(token)).resolves.toBeDefined();
      ctx.advance(10);
      expect((await rejection(ctx.tokens.verify(token))).reason).toBe('expired');
    });

    it('a token verified before: the same claims again, the clock checked again, refused once its key is gone', async () => {
      const { token } = await ctx.tokens.sign({ sub: randomUUID(), sid: randomUUID(), roles: ['admin'] });
      const first = await ctx.tokens.verify(token);
      expect(await ctx.tokens.verify(token)).toEqual(first);
      // One byte of the signature changed is another text: verified afresh, and refused. The character
      // changed is inside the signature: the last one carries padding bits a decoder may ignore.
      const at = token.length - 10;
      const flipped = `${token.slice(0, at)}${token[at] === 'A' ? 'B' : 'A'}${token.slice(at + 1)}`;
      await rejection(ctx.tokens.verify(flipped));
      ctx.advance(300);
      expect(await ctx.tokens.verify(token)).toEqual(first);
      ctx.store.rows.splice(0, ctx.store.rows.length);
      await ctx.tokens.reload().catch(() => undefined);
      expect((await rejection(ctx.tokens.verify(token))).reason).toBe('unknown-key');
    });

    it.each(['exp', 'iat', 'sub', 'sid', 'jti', 'roles'])('a token without %s', async (claim) => {
      const { key, kid } = ctx.ourKey();
      const token = forge({ alg: 'ES256', typ: 'at+jwt', kid }, ctx.claims({ [claim]: undefined }), key);
      await rejection(ctx.tokens.verify(token));
    });

    it('a token issued in the future or valid longer than we ever issue', async () => {
      const { key, kid } = ctx.ourKey();
      const header = { alg: 'ES256', typ: 'at+jwt', kid };
      const now = Math.floor(T0.getTime() / 1000);
      await rejection(ctx.tokens.verify(forge(header, ctx.claims({ iat: now + 600, exp: now + 900 }), key)));
      await rejection(ctx.tokens.verify(forge(header, ctx.claims({ exp: now + 86_400 }), key)));
      await rejection(ctx.tokens.verify(forge(header, ctx.claims({ roles: 'admin' }), key)));
    });

    it.each([
      ['empty', ''],
      ['two parts', 'a.b'],
      ['four parts', 'a.b.c.d'],
      ['a header that is not JSON', `${Buffer.from('nope').toString('base64url')}.e30.x`],
      ['a header that is an array', `${b64(['ES256'])}.e30.x`],
      ['not base64url', 'a+b.c.d'],
      ['huge', 'a'.repeat(10_000)],
    ])('%s', async (_, token) => {
      expect((await rejection(ctx.tokens.verify(token))).reason).toBe('malformed');
    });

    it('all with one error type that carries no token content', async () => {
      const { token } = await ctx.tokens.sign({ sub: randomUUID(), sid: randomUUID(), roles: [] });
      const tampered = `${token.slice(0, -4)}AAAA`;
      const error = await rejection(ctx.tokens.verify(tampered));
      expect(error.code).toBe('invalid-token');
      expect(error.message).toBe('invalid access token');
      expect(JSON.stringify(error)).not.toContain(token.slice(0, 20));
    });
  });

  describe('rotation', () => {
    it('signs with the new key, keeps verifying the old one until its tokens have expired', async () => {
      const before = await ctx.tokens.sign({ sub: randomUUID(), sid: randomUUID(), roles: [] });
      const oldKid = ctx.ourKey().kid;
      ctx.advance(60);
      const newKid = await ctx.tokens.rotate();
      expect(newKid).not.toBe(oldKid);
      const after = await ctx.tokens.sign({ sub: randomUUID(), sid: randomUUID(), roles: [] });
      expect(JSON.parse(Buffer.from(after.token.split('.')[0]!, 'base64url').toString()).kid).toBe(newKid);
      expect(
        ctx.tokens
          .jwks()
          .keys.map((k) => k.kid)
          .sort(),
      ).toEqual([oldKid, newKid].sort());
      await expect(ctx.tokens.verify(before.token)).resolves.toBeDefined();

      // Past the longest lifetime (plus tolerance) since retirement, the old key is gone everywhere.
      ctx.advance(906);
      expect(ctx.tokens.jwks().keys.map((k) => k.kid)).toEqual([newKid]);
      const lateForgery = forge(
        { alg: 'ES256', typ: 'at+jwt', kid: oldKid },
        ctx.claims(),
        createPrivateKey({
          key: unwrapKey(
            ctx.wrappingKey,
            ctx.store.rows.find((r) => r.kid === oldKid)!.privateKeyWrapped,
            `signing-key:${oldKid}`,
          )!,
          format: 'der',
          type: 'pkcs8',
        }),
      );
      expect((await rejection(ctx.tokens.verify(lateForgery))).reason).toBe('unknown-key');
    });

    it("picks up another process's rotation when it meets the new kid", async () => {
      const other = await EsAccessTokens.open({
        store: ctx.store,
        wrappingKey: ctx.wrappingKey,
        clock: ctx.clock,
        issuer: ISSUER,
        audience: AUDIENCE,
        refreshIntervalMs: 0,
      });
      await other.rotate();
      const { token } = await other.sign({ sub: randomUUID(), sid: randomUUID(), roles: [] });
      const realNow = Date.now();
      const clock = jest.spyOn(Date, 'now').mockReturnValue(realNow + 31_000);
      try {
        await expect(ctx.tokens.verify(token)).resolves.toBeDefined();
      } finally {
        clock.mockRestore();
      }
    });
  });

  it('refuses to start on keys it cannot unwrap (another master key)', async () => {
    await expect(
      EsAccessTokens.open({
        store: ctx.store,
        wrappingKey: randomBytes(32),
        clock: ctx.clock,
        issuer: ISSUER,
        audience: AUDIENCE,
        refreshIntervalMs: 0,
      }),
    ).rejects.toThrow(/master key/);
  });
});

describe('third-party verification', () => {
  it('jose accepts our token with nothing but our JWKS', async () => {
    const tokens = await EsAccessTokens.open({
      store: new InMemorySigningKeyStore(),
      wrappingKey: randomBytes(32),
      clock: { now: () => new Date() },
      issuer: ISSUER,
      audience: AUDIENCE,
      refreshIntervalMs: 0,
    });
    const sub = randomUUID();
    const { token } = await tokens.sign({ sub, sid: randomUUID(), roles: ['events:read'] });
    // jose is ESM-only; it runs in its own Node process, as a downstream service would.
    const script = `
      import { createLocalJWKSet, jwtVerify } from 'jose';
      let input = '';
      for await (const chunk of process.stdin) input += chunk;
      const { jwks, token, issuer, audience } = JSON.parse(input);
      try {
        const { payload, protectedHeader } = await jwtVerify(token, createLocalJWKSet(jwks), {
          algorithms: ['ES256'], issuer, audience, typ: 'at+jwt', requiredClaims: ['exp', 'iat', 'sub', 'jti'],
        });
        process.stdout.write(JSON.stringify({ ok: true, payload, protectedHeader }));
      } catch (e) {
        process.stdout.write(JSON.stringify({ ok: false, code: e.code }));
      }`;
    const run = (input: unknown) =>
      new Promise<{ ok: boolean; payload?: Record<string, unknown>; code?: string }>((resolve, reject) => {
        const child = execFile(
          process.execPath,
          ['--input-type=module', '-e', script],
          { cwd: path.resolve(__dirname, '../../..') },
          (error, stdout) => (error ? reject(error) : resolve(JSON.parse(stdout))),
        );
        child.stdin!.end(JSON.stringify(input));
      });
    const good = await run({ jwks: tokens.jwks(), token, issuer: ISSUER, audience: AUDIENCE });
    expect(good).toMatchObject({ ok: true, payload: { sub, roles: ['events:read'] } });
    const wrongAudience = await run({ jwks: tokens.jwks(), token, issuer: ISSUER, audience: 'billing' });
    expect(wrongAudience.ok).toBe(false);
  });
});
