import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { OneTimeTokenKind, OneTimeTokens } from '../../application/ports';

/**
 * Email-verification and password-reset tokens (docs/design.md, "One-time tokens … derived, not stored"):
 *
 *   token = base64url( user_id (16 bytes) || HMAC-SHA256(one-time-tokens key, kind || user_id || token_id) )
 *
 * 48 bytes, 64 characters, 256 bits of MAC (the contract asks for at least 256 bits). The kinds are
 * prefix-free strings, so the MAC input is unambiguous, and a verification token is never a reset token.
 * Events hold `token_id` (not a secret) and SHA-256(token); the raw token is only ever rebuilt to be mailed.
 */
export class HmacOneTimeTokens implements OneTimeTokens {
  constructor(private readonly key: Buffer) {
    if (key.length < 32) throw new RangeError('the one-time token key must be at least 32 bytes');
  }

  issue(kind: OneTimeTokenKind, userId: string, tokenId: string): { token: string; tokenHash: string } {
    if (!KINDS.has(kind)) throw new TypeError('unknown one-time token kind');
    const user = uuidBytes(userId);
    const mac = createHmac('sha256', this.key)
      .update(kind, 'utf8')
      .update(user)
      .update(uuidBytes(tokenId))
      .digest();
    const token = Buffer.concat([user, mac]).toString('base64url');
    return { token, tokenHash: this.hash(token) };
  }

  parse(token: string): { userId: string } | null {
    if (typeof token !== 'string' || !TOKEN.test(token)) return null;
    return { userId: uuidString(Buffer.from(token, 'base64url').subarray(0, 16)) };
  }

  hash(token: string): string {
    return sha256Hex(token);
  }

  matches(token: string, tokenHash: string): boolean {
    return typeof token === 'string' && hashesEqual(sha256Hex(token), tokenHash);
  }
}

const KINDS: ReadonlySet<string> = new Set<OneTimeTokenKind>(['verify-email', 'reset-password', 'confirm-email']);

// 48 bytes encode to exactly 64 characters with no spare bits, so each token has one spelling only.
const TOKEN = /^[A-Za-z0-9_-]{64}$/;

const UUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

export const uuidBytes = (uuid: string): Buffer => {
  if (typeof uuid !== 'string' || !UUID.test(uuid)) throw new TypeError('expected a UUID');
  return Buffer.from(uuid.replace(/-/g, ''), 'hex');
};

export const uuidString = (bytes: Buffer): string => {
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
};

export const sha256Hex = (token: string): string => createHash('sha256').update(token, 'utf8').digest('hex');

/** Constant-time comparison of two hex SHA-256 digests (CWE-208). */
export const hashesEqual = (a: string, b: string): boolean => {
  if (typeof a !== 'string' || typeof b !== 'string' || a.length !== 64 || b.length !== 64) return false;
  return timingSafeEqual(Buffer.from(a, 'utf8'), Buffer.from(b.toLowerCase(), 'utf8'));
};
