import { toTimestamp } from '../shared/decider';

/** A verification or reset token as the stream knows it: never the token itself (docs/design.md). */
export type OneTimeToken = Readonly<{
  tokenId: string;
  tokenHash: string;
  expiresAt: Date;
  requestedAt: Date;
}>;

/** At most one mail of a kind per account (so per address) in this window (CONTRACT.md, "Mail throttle"). */
export const MAIL_THROTTLE_MS = 60_000;

export const isThrottled = (lastSentAt: Date | null, now: Date): boolean =>
  lastSentAt !== null && now.getTime() - lastSentAt.getTime() < MAIL_THROTTLE_MS;

/**
 * `tokenHash` is the SHA-256 of a 256-bit random token: learning how many leading characters of the
 * stored hash matched tells nothing about any token, so a plain comparison is safe here.
 */
export const isTokenValid = (token: OneTimeToken | null, tokenHash: string, now: Date): boolean =>
  token !== null && token.tokenHash === tokenHash && now.getTime() < token.expiresAt.getTime();

export const tokenEventData = (token: OneTimeToken) => ({
  tokenId: token.tokenId,
  tokenHash: token.tokenHash,
  expiresAt: toTimestamp(token.expiresAt),
  requestedAt: toTimestamp(token.requestedAt),
});
