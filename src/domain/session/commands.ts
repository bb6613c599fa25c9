import type { DomainCommand } from '../shared/decider';
import type { SessionEndReason } from './events';

/**
 * `startedAtUserRevision`: the `user-` stream revision the login decided on (after its own appends, if
 * any). Lifetimes in milliseconds; without `idleMs` the session has no idle limit.
 */
export type StartSession = DomainCommand<
  'StartSession',
  {
    sessionId: string;
    userId: string;
    startedAtUserRevision: number;
    refreshTokenHash: string;
    nonce: string;
    idleMs?: number;
    absoluteMs: number;
    userAgent?: string;
    ip?: string;
    now: Date;
  }
>;

/**
 * The presented token, read by the application: its generation and its SHA-256. `successorHash`: the
 * SHA-256 of the token of the CURRENT generation + 1, used when the presented token is the current one.
 * The absolute lifetime was fixed at the start and needs nothing here.
 */
export type Refresh = DomainCommand<
  'Refresh',
  {
    presentedGeneration: number;
    presentedHash: string;
    successorHash: string;
    graceMs: number;
    idleMs?: number;
    now: Date;
  }
>;

/** Ending a session with its refresh token: the token must be one the session issued. */
export type Logout = DomainCommand<
  'Logout',
  { presentedGeneration: number; presentedHash: string; now: Date }
>;

/** Ending a session for any other reason, decided elsewhere (the user's session list, an admin, a sweep). */
export type EndSession = DomainCommand<'EndSession', { reason: SessionEndReason; now: Date }>;

export type SessionCommand = StartSession | Refresh | Logout | EndSession;

export type SessionCommandType = SessionCommand['type'];
