import type { SessionEndReason } from './events';

export type SessionData = Readonly<{
  /** The stream revision of the last event folded in (-1: no stream); counted by `evolve`. */
  revision: number;
  sessionId: string;
  userId: string;
  startedAtUserRevision: number;
  nonce: string;
  startedAt: Date;
  absoluteExpiresAt: Date;
  idleExpiresAt: Date | null;
  /** The current refresh token's generation. */
  generation: number;
  /** Indexed by generation: an older token is recognised as reuse only when it is genuine. */
  refreshTokenHashes: readonly string[];
  /** When the current generation was issued: the start of its parent's grace window. */
  currentIssuedAt: Date;
  lastUsedAt: Date;
  userAgent: string | null;
  ip: string | null;
}>;

export type SessionState =
  | Readonly<{ status: 'none'; revision: number }>
  | (SessionData & Readonly<{ status: 'active' }>)
  | (SessionData & Readonly<{ status: 'ended'; endedAt: Date; endReason: SessionEndReason }>);

export type SessionStatus = SessionState['status'];

export type RecordedSession = Exclude<SessionState, { status: 'none' }>;

export const initialSessionState: SessionState = { status: 'none', revision: -1 };

/** The hash recorded for `generation`, or undefined when the session never issued it. */
export const recordedTokenHash = (session: RecordedSession, generation: number): string | undefined =>
  Number.isInteger(generation) && generation >= 0 ? session.refreshTokenHashes[generation] : undefined;
