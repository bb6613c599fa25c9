import type { DomainEvent, Timestamp } from '../shared/decider';
import type { CutOffReason } from '../user/state';

export const SESSION_STREAM_PREFIX = 'session-';

export const sessionStreamId = (sessionId: string): string => `${SESSION_STREAM_PREFIX}${sessionId}`;

/** The ones from the user stream's cut-offs, plus the ones a single session ends for. */
export type SessionEndReason =
  CutOffReason | 'logout' | 'admin' | 'refresh_token_reuse' | 'expired' | 'revoked_by_user';

/**
 * The session's first refresh token is generation 0. `nonce` feeds the derivation of every generation's
 * token (docs/design.md, "Sessions and refresh tokens"); without the refresh key it is worth nothing.
 * `userAgent` and `ip` are sealed with the user's data key.
 */
export type SessionStarted = DomainEvent<
  'SessionStarted',
  {
    sessionId: string;
    userId: string;
    startedAtUserRevision: number;
    refreshTokenHash: string;
    nonce: string;
    startedAt: Timestamp;
    idleExpiresAt?: Timestamp;
    absoluteExpiresAt: Timestamp;
    userAgent?: string;
    ip?: string;
  }
>;

/** `generation` is the new current one; the idle deadline moves with every use. */
export type RefreshTokenRotated = DomainEvent<
  'RefreshTokenRotated',
  { generation: number; refreshTokenHash: string; at: Timestamp; idleExpiresAt?: Timestamp }
>;

/** `generation`: the parent presented again inside the grace window; its holder gets the current token. */
export type RefreshTokenReuseTolerated = DomainEvent<
  'RefreshTokenReuseTolerated',
  { generation: number; at: Timestamp }
>;

/** `generation`: the rotated-away token presented; the session ends with it. */
export type RefreshTokenReuseDetected = DomainEvent<
  'RefreshTokenReuseDetected',
  { generation: number; at: Timestamp }
>;

export type SessionEnded = DomainEvent<'SessionEnded', { reason: SessionEndReason; at: Timestamp }>;

export type SessionEvent =
  | SessionStarted
  | RefreshTokenRotated
  | RefreshTokenReuseTolerated
  | RefreshTokenReuseDetected
  | SessionEnded;

export type SessionEventType = SessionEvent['type'];
