import { createPrivateKey, createPublicKey, generateKeyPair, randomUUID, type KeyObject } from 'node:crypto';
import { promisify } from 'node:util';
import jwt from 'jsonwebtoken';
import {
  InvalidAccessTokenError,
  type AccessTokenClaims,
  type AccessTokens,
  type Clock,
  type PublicJwk,
} from '../../application/ports';
import {
  ACCESS_TOKEN_TYPES,
  checkTimes,
  CLOCK_TOLERANCE_SECONDS,
  KID,
  MAX_ACCESS_TOKEN_TTL_SECONDS,
  publicMembers,
  readHeader,
  requireClaims,
  thumbprint,
  wrapContext,
} from './jwt-claims';
import { unwrapKey, wrapKey } from './keys';
import type { SigningKeyStore, StoredSigningKey } from './signing-key-store';

export { InvalidAccessTokenError } from '../../application/ports';
export { InMemorySigningKeyStore, SqlSigningKeyStore, type SigningKeyStore } from './signing-key-store';

export { MAX_ACCESS_TOKEN_TTL_SECONDS } from './jwt-claims';
const UNKNOWN_KID_RELOAD_SECONDS = 30;
/** Verified tokens remembered (about 1 KiB each); the oldest is forgotten first. */
const VERIFIED_CACHE_SIZE = 10_000;

export type AccessTokenOptions = {
  store: SigningKeyStore;
  wrappingKey: Buffer;
  clock: Clock;
  issuer: string;
  audience: string;
  ttlSeconds?: number;
  /** How often to pick up keys rotated by another process; 0 turns the timer off. */
  refreshIntervalMs?: number;
};

type LoadedKey = {
  kid: string;
  privateKey: KeyObject;
  publicKey: KeyObject;
  jwk: PublicJwk;
  createdAt: Date;
  retiredAt: Date | null;
};

/**
 * Access tokens: ES256 JWTs in the RFC 9068 profile (`typ: at+jwt`), verified by downstream services with
 * our JWKS. Private keys live in `signing_keys`, wrapped under the `signing-key-wrap` key, and are parsed
 * into KeyObjects once (a PEM string per call is ~10x slower). The newest unretired key signs; a retired key
 * keeps verifying until every token it could have signed has expired.
 */
export class EsAccessTokens implements AccessTokens {
  private keys = new Map<string, LoadedKey>();
  /**
   * Tokens whose signature has been verified, by their exact text, with the kid that verified them. The
   * ES256 check is the dearest step of every authenticated request (FACTS.md: ~7,000/s per core) and a
   * client presents the same token for up to 15 minutes; a signature over the same bytes under the same key
   * proves nothing new. Only the signature is remembered: the time-dependent claims (exp, nbf, iat) are
   * checked again on every use, the key must still be one we verify with, and a key leaving the table
   * clears the lot.
   */
  private verified = new Map<string, { kid: string; payload: unknown }>();
  private lastLoad = 0;
  private timer: NodeJS.Timeout | undefined;
  private readonly ttlSeconds: number;

  private constructor(private readonly options: AccessTokenOptions) {
    this.ttlSeconds = options.ttlSeconds ?? MAX_ACCESS_TOKEN_TTL_SECONDS;
    if (
      !Number.isInteger(this.ttlSeconds) ||
      this.ttlSeconds < 1 ||
      this.ttlSeconds > MAX_ACCESS_TOKEN_TTL_SECONDS
    ) {
      throw new RangeError(`the access token lifetime must be 1-${MAX_ACCESS_TOKEN_TTL_SECONDS} seconds`);
    }
  }

  /** Loads the keys, creating the first one on a fresh database. */
  static async open(options: AccessTokenOptions): Promise<EsAccessTokens> {
    const tokens = new EsAccessTokens(options);
    await tokens.reload();
    if (!tokens.signingKey()) {
      await options.store.add(await tokens.newKey());
      await tokens.reload();
    }
    const interval = options.refreshIntervalMs ?? 60_000;
    if (interval > 0) {
      tokens.timer = setInterval(() => void tokens.reload().catch(() => undefined), interval);
      tokens.timer.unref();
    }
    return tokens;
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
  }

  /** Adds a new signing key and retires the others; tokens they signed stay valid until they expire. */
  async rotate(): Promise<string> {
    const key = await this.newKey();
    await this.options.store.rotate(key, this.options.clock.now());
    await this.reload();
    return key.kid;
  }

  async sign(claims: {
    sub: string;
    sid: string;
    roles: readonly string[];
  }): Promise<{ token: string; expiresIn: number; jti: string }> {
    const key = this.signingKey();
    if (!key) throw new Error('no signing key');
    const iat = Math.floor(this.options.clock.now().getTime() / 1000);
    const jti = randomUUID();
    const payload = {
      iss: this.options.issuer,
      aud: this.options.audience,
      sub: claims.sub,
      iat,
      exp: iat + this.ttlSeconds,
      jti,
      sid: claims.sid,
      roles: [...claims.roles],
    };
    const token = jwt.sign(payload, key.privateKey, {
      algorithm: 'ES256',
      header: { alg: 'ES256', typ: 'at+jwt', kid: key.kid },
    });
    return { token, expiresIn: this.ttlSeconds, jti };
  }

  async verify(token: string): Promise<AccessTokenClaims> {
    const header = readHeader(token);
    // Pinned before anything else (RFC 8725 §3.1): "none" in any casing, HS256 and every other algorithm
    // end here. Key-carrying headers (jwk, jku, x5u, x5c) are never read: only our own keys count.
    if (header.alg !== 'ES256') throw new InvalidAccessTokenError('algorithm');
    // RFC 9068 §4: the type is checked, so an ID token or another JWT of ours is not an access token.
    if (typeof header.typ !== 'string' || !ACCESS_TOKEN_TYPES.has(header.typ.toLowerCase())) {
      throw new InvalidAccessTokenError('type');
    }
    // RFC 7515 §4.1.11: we understand no critical extension, so a token that names one is refused.
    if (header.crit !== undefined) throw new InvalidAccessTokenError('critical-header');
    if (typeof header.kid !== 'string') throw new InvalidAccessTokenError('unknown-key');
    const key = await this.verificationKey(header.kid);
    if (!key) throw new InvalidAccessTokenError('unknown-key');

    const now = Math.floor(this.options.clock.now().getTime() / 1000);
    const known = this.verified.get(token);
    if (known && known.kid === key.kid) return checkTimes(known.payload, now, this.options.audience);

    let payload: unknown;
    try {
      payload = jwt.verify(token, key.publicKey, {
        algorithms: ['ES256'],
        issuer: this.options.issuer,
        audience: this.options.audience,
        clockTimestamp: now,
        clockTolerance: CLOCK_TOLERANCE_SECONDS,
      });
    } catch (e) {
      throw new InvalidAccessTokenError(e instanceof jwt.TokenExpiredError ? 'expired' : 'rejected');
    }
    // jsonwebtoken checks exp only when present: every claim we rely on is required here.
    const claims = requireClaims(payload, now, this.options.audience);
    if (this.verified.size >= VERIFIED_CACHE_SIZE) {
      this.verified.delete(this.verified.keys().next().value as string);
    }
    this.verified.set(token, { kid: key.kid, payload });
    return claims;
  }

  jwks(): { keys: PublicJwk[] } {
    return {
      keys: [...this.keys.values()].filter((key) => this.verifies(key)).map((key) => ({ ...key.jwk })),
    };
  }

  /** Re-reads the key table: keys rotated by another process, keys past their verification window. */
  async reload(): Promise<void> {
    const rows = await this.options.store.list();
    const loaded = new Map<string, LoadedKey>();
    for (const row of rows) {
      const key = this.keys.get(row.kid) ?? this.unwrap(row);
      if (key) loaded.set(row.kid, { ...key, retiredAt: row.retiredAt });
    }
    if (rows.length > 0 && loaded.size === 0) {
      throw new Error('no signing key can be unwrapped: is this the master key the keys were made with?');
    }
    if ([...this.keys.keys()].some((kid) => !loaded.has(kid))) this.verified.clear();
    this.keys = loaded;
    this.lastLoad = Date.now();
  }

  private signingKey(): LoadedKey | undefined {
    let newest: LoadedKey | undefined;
    for (const key of this.keys.values()) {
      if (key.retiredAt === null && (!newest || key.createdAt > newest.createdAt)) newest = key;
    }
    return newest;
  }

  private verifies(key: LoadedKey): boolean {
    if (key.retiredAt === null) return true;
    const until = key.retiredAt.getTime() + (MAX_ACCESS_TOKEN_TTL_SECONDS + CLOCK_TOLERANCE_SECONDS) * 1000;
    return this.options.clock.now().getTime() < until;
  }

  private async verificationKey(kid: string): Promise<LoadedKey | undefined> {
    let key = this.keys.get(kid);
    // A kid we have not seen may come from a rotation in another process; re-reading is throttled so
    // made-up kids cannot turn into a query per request.
    if (!key && KID.test(kid) && Date.now() - this.lastLoad > UNKNOWN_KID_RELOAD_SECONDS * 1000) {
      this.lastLoad = Date.now();
      await this.reload().catch(() => undefined);
      key = this.keys.get(kid);
    }
    return key && this.verifies(key) ? key : undefined;
  }

  private async newKey(): Promise<StoredSigningKey> {
    const { privateKey, publicKey } = await generateEcKeyPair('ec', { namedCurve: 'P-256' });
    const jwk = publicMembers(publicKey);
    const kid = thumbprint(jwk);
    const der = privateKey.export({ format: 'der', type: 'pkcs8' });
    return {
      kid,
      privateKeyWrapped: wrapKey(this.options.wrappingKey, der, wrapContext(kid)),
      publicJwk: jwk,
      createdAt: this.options.clock.now(),
      retiredAt: null,
    };
  }

  /**
   * The public key is derived from the unwrapped private key and its thumbprint must equal the kid, so a
   * row written by anyone without the master key (say, with a public key of their own) verifies nothing.
   */
  private unwrap(row: StoredSigningKey): LoadedKey | undefined {
    const der = unwrapKey(this.options.wrappingKey, row.privateKeyWrapped, wrapContext(row.kid));
    if (!der) return undefined;
    const privateKey = createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
    const publicKey = createPublicKey(privateKey);
    const jwk = publicMembers(publicKey);
    if (thumbprint(jwk) !== row.kid) return undefined;
    return {
      kid: row.kid,
      privateKey,
      publicKey,
      jwk: { ...jwk, kid: row.kid, use: 'sig', alg: 'ES256' },
      createdAt: row.createdAt,
      retiredAt: row.retiredAt,
    };
  }
}

const generateEcKeyPair = promisify(generateKeyPair);
