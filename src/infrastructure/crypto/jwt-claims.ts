import { createHash, type KeyObject } from 'node:crypto';
import { InvalidAccessTokenError, type AccessTokenClaims } from '../../application/ports';

/**
 * The pieces of an ES256 access token that need no key: header and claim checks (RFC 9068), the public
 * JWK members and their RFC 7638 thumbprint (the kid). jwt.ts signs and verifies with them.
 */

/** The contract's ceiling for an access token's life (15 min); retired keys verify this long after retiring. */
export const MAX_ACCESS_TOKEN_TTL_SECONDS = 900;
export const CLOCK_TOLERANCE_SECONDS = 5;

export const ACCESS_TOKEN_TYPES = new Set(['at+jwt', 'application/at+jwt']);
// RFC 7638 thumbprints: base64url of a SHA-256, 43 characters.
export const KID = /^[A-Za-z0-9_-]{43}$/;

export type EcPublicMembers = { kty: 'EC'; crv: 'P-256'; x: string; y: string };

export const publicMembers = (publicKey: KeyObject): EcPublicMembers => {
  const jwk = publicKey.export({ format: 'jwk' });
  if (jwk.kty !== 'EC' || jwk.crv !== 'P-256' || typeof jwk.x !== 'string' || typeof jwk.y !== 'string') {
    throw new Error('expected a P-256 key');
  }
  return { kty: 'EC', crv: 'P-256', x: jwk.x, y: jwk.y };
};

/** RFC 7638: SHA-256 over the required members in lexicographic order, no whitespace. */
export const thumbprint = (jwk: EcPublicMembers): string =>
  createHash('sha256')
    .update(JSON.stringify({ crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y }))
    .digest('base64url');

export const wrapContext = (kid: string): string => `signing-key:${kid}`;

export const readHeader = (token: string): Record<string, unknown> => {
  if (typeof token !== 'string' || token.length > 8192) throw new InvalidAccessTokenError('malformed');
  const parts = token.split('.');
  if (parts.length !== 3 || !parts.every((part) => /^[A-Za-z0-9_-]*$/.test(part))) {
    throw new InvalidAccessTokenError('malformed');
  }
  try {
    const header: unknown = JSON.parse(Buffer.from(parts[0] as string, 'base64url').toString('utf8'));
    if (header !== null && typeof header === 'object' && !Array.isArray(header))
      return header as Record<string, unknown>;
  } catch {
    // fall through: not JSON
  }
  throw new InvalidAccessTokenError('malformed');
};

export const isNonEmptyString = (value: unknown): value is string =>
  typeof value === 'string' && value.length > 0;

/** A token verified before, used again: what jsonwebtoken checks against the clock, then the claims. */
export const checkTimes = (payload: unknown, now: number, audience: string): AccessTokenClaims => {
  const { exp, nbf } = (payload ?? {}) as { exp?: unknown; nbf?: unknown };
  if (typeof exp === 'number' && now >= exp + CLOCK_TOLERANCE_SECONDS) {
    throw new InvalidAccessTokenError('expired');
  }
  if (typeof nbf === 'number' && nbf > now + CLOCK_TOLERANCE_SECONDS)
    throw new InvalidAccessTokenError('rejected');
  return requireClaims(payload, now, audience);
};

export const requireClaims = (payload: unknown, now: number, audience: string): AccessTokenClaims => {
  if (payload === null || typeof payload !== 'object') throw new InvalidAccessTokenError('claims');
  const c = payload as Record<string, unknown>;
  const { iss, sub, sid, jti, roles, iat, exp } = c;
  if (typeof exp !== 'number' || typeof iat !== 'number') throw new InvalidAccessTokenError('claims');
  if (!isNonEmptyString(iss) || !isNonEmptyString(sub) || !isNonEmptyString(sid) || !isNonEmptyString(jti)) {
    throw new InvalidAccessTokenError('claims');
  }
  if (!Array.isArray(roles) || !roles.every((role) => typeof role === 'string'))
    throw new InvalidAccessTokenError('claims');
  // Issued in the future, or valid for longer than we ever issue: not one of our tokens.
  if (iat > now + CLOCK_TOLERANCE_SECONDS || exp - iat > MAX_ACCESS_TOKEN_TTL_SECONDS) {
    throw new InvalidAccessTokenError('claims');
  }
  // jsonwebtoken has matched `aud` (a string, or an array holding ours) against our audience.
  return { iss, aud: audience, sub, sid, jti, roles: [...roles] as string[], iat, exp };
};
