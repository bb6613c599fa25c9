import { createHmac } from 'node:crypto';
import type { RefreshTokens } from '../../application/ports';
import { hashesEqual, sha256Hex, uuidBytes, uuidString } from './one-time-tokens';

/**
 * Refresh tokens (docs/design.md, "Sessions and refresh tokens"):
 *
 *   token(n) = base64url( session_id (16) || n (uint32 BE) || HMAC-SHA256(refresh-tokens key,
 *                                                                         session_id || n || nonce) )
 *
 * 52 bytes, 70 characters, 256 bits of MAC. Opaque to clients; the session stream records only SHA-256 of
 * the current token. Because token n+1 is a pure function of the session, a retried parent inside the grace
 * window is answered with the very same successor string, however many times it is retried.
 */
export class HmacRefreshTokens implements RefreshTokens {
  constructor(private readonly key: Buffer) {
    if (key.length < 32) throw new RangeError('the refresh token key must be at least 32 bytes');
  }

  derive(sessionId: string, generation: number, nonce: string): { token: string; tokenHash: string } {
    if (!Number.isInteger(generation) || generation < 0 || generation > MAX_GENERATION) {
      throw new RangeError('generation must be a uint32');
    }
    if (typeof nonce !== 'string' || nonce.length === 0) throw new TypeError('a session nonce is required');
    const session = uuidBytes(sessionId);
    const n = Buffer.alloc(4);
    n.writeUInt32BE(generation);
    // The nonce is last and the fields before it have fixed widths, so the MAC input is unambiguous.
    const mac = createHmac('sha256', this.key).update(session).update(n).update(nonce, 'utf8').digest();
    const token = Buffer.concat([session, n, mac]).toString('base64url');
    return { token, tokenHash: sha256Hex(token) };
  }

  parse(token: string): { sessionId: string; generation: number } | null {
    if (typeof token !== 'string' || !TOKEN.test(token)) return null;
    const bytes = Buffer.from(token, 'base64url');
    // 52 bytes leave 4 spare bits in the last character: only the canonical spelling is a token, so one
    // token cannot be presented under several strings (and several hashes).
    if (bytes.length !== 52 || bytes.toString('base64url') !== token) return null;
    return { sessionId: uuidString(bytes.subarray(0, 16)), generation: bytes.readUInt32BE(16) };
  }

  hash(token: string): string {
    return sha256Hex(token);
  }

  matches(token: string, tokenHash: string): boolean {
    return typeof token === 'string' && hashesEqual(sha256Hex(token), tokenHash);
  }
}

const MAX_GENERATION = 0xffff_ffff;
const TOKEN = /^[A-Za-z0-9_-]{70}$/;
