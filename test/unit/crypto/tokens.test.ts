import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { HmacOneTimeTokens } from '../../../src/infrastructure/crypto/one-time-tokens';
import { HmacRefreshTokens } from '../../../src/infrastructure/crypto/refresh-tokens';

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

/** Flips one bit of the decoded token and re-encodes it. */
const flipByte = (token: string, index: number): string => {
  const bytes = Buffer.from(token, 'base64url');
  bytes[index] = (bytes[index] as number) ^ 0x01;
  return bytes.toString('base64url');
};

describe('one-time tokens', () => {
  const key = randomBytes(32);
  const tokens = new HmacOneTimeTokens(key);
  const userId = randomUUID();
  const tokenId = randomUUID();

  it('are 48 bytes of base64url that name the user, with a SHA-256 hash to store', () => {
    const { token, tokenHash } = tokens.issue('verify-email', userId, tokenId);
    expect(token).toMatch(/^[A-Za-z0-9_-]{64}$/);
    expect(Buffer.from(token, 'base64url')).toHaveLength(16 + 32);
    expect(tokenHash).toBe(sha256(token));
    expect(tokens.hash(token)).toBe(tokenHash);
    expect(tokens.parse(token)).toEqual({ userId });
  });

  it('are rebuilt identically from the event (derived, never stored)', () => {
    expect(tokens.issue('reset-password', userId, tokenId)).toEqual(
      tokens.issue('reset-password', userId, tokenId),
    );
    expect(new HmacOneTimeTokens(Buffer.from(key)).issue('reset-password', userId, tokenId).token).toBe(
      tokens.issue('reset-password', userId, tokenId).token,
    );
  });

  it('differ by kind, token id and key', () => {
    const base = tokens.issue('verify-email', userId, tokenId).token;
    expect(tokens.issue('reset-password', userId, tokenId).token).not.toBe(base);
    expect(tokens.issue('verify-email', userId, randomUUID()).token).not.toBe(base);
    expect(new HmacOneTimeTokens(randomBytes(32)).issue('verify-email', userId, tokenId).token).not.toBe(
      base,
    );
  });

  it('match only their own hash, compared in constant time', () => {
    const { token, tokenHash } = tokens.issue('verify-email', userId, tokenId);
    expect(tokens.matches(token, tokenHash)).toBe(true);
    expect(tokens.matches(token, tokenHash.toUpperCase())).toBe(true);
    expect(tokens.matches(flipByte(token, 40), tokenHash)).toBe(false);
    expect(tokens.matches(tokens.issue('reset-password', userId, tokenId).token, tokenHash)).toBe(false);
    expect(tokens.matches(token, tokenHash.slice(0, 63))).toBe(false);
    expect(tokens.matches(token, '')).toBe(false);
  });

  it('tampered with, no longer match the recorded hash', () => {
    const { token, tokenHash } = tokens.issue('reset-password', userId, tokenId);
    for (const index of [0, 15, 16, 47]) {
      const tampered = flipByte(token, index);
      expect(tokens.matches(tampered, tokenHash)).toBe(false);
    }
    // Changing the user bytes changes whose account the token points at, never to a matching hash.
    expect(tokens.parse(flipByte(token, 0))?.userId).not.toBe(userId);
  });

  it.each([
    ['empty', ''],
    ['too short', 'abc'],
    ['too long', 'A'.repeat(65)],
    ['standard base64', `${'A'.repeat(62)}+/`],
    ['padded', `${'A'.repeat(62)}==`],
    ['whitespace', ` ${'A'.repeat(63)}`],
  ])('parse refuses a %s string', (_, text) => {
    expect(tokens.parse(text)).toBeNull();
  });

  it('refuses to issue for an unknown kind or a user id that is not a UUID', () => {
    expect(() => tokens.issue('login' as 'verify-email', userId, tokenId)).toThrow(TypeError);
    expect(() => tokens.issue('verify-email', 'alice', tokenId)).toThrow(TypeError);
  });

  it('refuses a short key', () => {
    expect(() => new HmacOneTimeTokens(randomBytes(16))).toThrow(RangeError);
  });
});

describe('refresh tokens', () => {
  const key = randomBytes(32);
  const tokens = new HmacRefreshTokens(key);
  const sessionId = randomUUID();
  const nonce = randomUUID();

  it('are 52 bytes of base64url naming the session and generation, with a SHA-256 hash to store', () => {
    const { token, tokenHash } = tokens.derive(sessionId, 7, nonce);
    expect(token).toMatch(/^[A-Za-z0-9_-]{70}$/);
    expect(Buffer.from(token, 'base64url')).toHaveLength(16 + 4 + 32);
    expect(tokenHash).toBe(sha256(token));
    expect(tokens.parse(token)).toEqual({ sessionId, generation: 7 });
  });

  it('give the same successor every time it is derived again (grace-window retries)', () => {
    const successor = tokens.derive(sessionId, 8, nonce);
    expect(tokens.derive(sessionId, 8, nonce)).toEqual(successor);
    expect(new HmacRefreshTokens(Buffer.from(key)).derive(sessionId, 8, nonce)).toEqual(successor);
  });

  it('differ by generation, session, nonce and key', () => {
    const base = tokens.derive(sessionId, 1, nonce).token;
    expect(tokens.derive(sessionId, 2, nonce).token).not.toBe(base);
    expect(tokens.derive(randomUUID(), 1, nonce).token).not.toBe(base);
    expect(tokens.derive(sessionId, 1, randomUUID()).token).not.toBe(base);
    expect(new HmacRefreshTokens(randomBytes(32)).derive(sessionId, 1, nonce).token).not.toBe(base);
  });

  it('carry the full uint32 range of generations', () => {
    expect(tokens.parse(tokens.derive(sessionId, 0, nonce).token)?.generation).toBe(0);
    expect(tokens.parse(tokens.derive(sessionId, 0xffffffff, nonce).token)?.generation).toBe(0xffffffff);
    expect(() => tokens.derive(sessionId, 2 ** 32, nonce)).toThrow(RangeError);
    expect(() => tokens.derive(sessionId, -1, nonce)).toThrow(RangeError);
    expect(() => tokens.derive(sessionId, 1.5, nonce)).toThrow(RangeError);
    expect(() => tokens.derive(sessionId, 1, '')).toThrow(TypeError);
  });

  it('tampered with, no longer match: a forged generation is not the real token of that generation', () => {
    const { token, tokenHash } = tokens.derive(sessionId, 3, nonce);
    expect(tokens.matches(token, tokenHash)).toBe(true);
    const bumped = flipByte(token, 19); // generation 3 -> 2
    expect(tokens.parse(bumped)).toEqual({ sessionId, generation: 2 });
    expect(tokens.matches(bumped, tokens.derive(sessionId, 2, nonce).tokenHash)).toBe(false);
    for (const index of [0, 16, 20, 51])
      expect(tokens.matches(flipByte(token, index), tokenHash)).toBe(false);
  });

  it('parse refuses a non-canonical spelling of the same bytes', () => {
    const { token } = tokens.derive(sessionId, 3, nonce);
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const last = alphabet.indexOf(token[69] as string);
    // The last character carries 2 data bits and 4 spare bits: set a spare bit.
    const variant = token.slice(0, 69) + alphabet[last ^ 0x01];
    expect(Buffer.from(variant, 'base64url').equals(Buffer.from(token, 'base64url'))).toBe(true);
    expect(tokens.parse(variant)).toBeNull();
  });

  it.each([
    ['empty', ''],
    ['a one-time token', 'A'.repeat(64)],
    ['too long', 'A'.repeat(71)],
    ['standard base64', `${'A'.repeat(68)}+/`],
  ])('parse refuses %s', (_, text) => {
    expect(tokens.parse(text)).toBeNull();
  });
});
