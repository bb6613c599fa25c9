import type { EventJson } from '../events/present';

/**
 * Presented events as a timeline a person reads at a console (`identity history`, `identity events tail`):
 * time, revision, event, who, the facts that matter, why. It is built from the PRESENTED event only
 * (events/present.ts), so it can show nothing the presenter hides. "Why is this user locked?" reads as a
 * run of `wrong password (n in a row)` lines ending in `LOCKED until ...`.
 */

type Data = Record<string, unknown>;

const text = (value: unknown): string =>
  value === null || value === undefined ? '-' : typeof value === 'string' ? value : JSON.stringify(value);

const FACTS: Record<string, (d: Data) => string> = {
  UserRegistered: (d) =>
    `registered with email ${text(d.email)}${d.username !== undefined ? `, username ${text(d.username)}` : ''}`,
  PendingRegistrationReplaced: (d) =>
    `registered again before verifying: the earlier password is replaced${
      d.username !== undefined ? `, username ${text(d.username)}` : ''
    }`,
  DuplicateRegistrationAttempted: () => 'someone tried to register this address again (owner notified)',
  EmailVerificationRequested: (d) => `verification link sent, valid until ${text(d.expires_at)}`,
  EmailVerified: () => 'email address verified',
  LoginAttemptStarted: () => 'login attempt: checking the password',
  LoginFailed: (d) => `wrong password (${text(d.consecutive_failures)} in a row)`,
  LoginSucceeded: () => 'correct password: logged in, failure count reset',
  LoginRefused: (d) => `correct password, login refused (${text(d.reason)})`,
  AccountLocked: (d) => `LOCKED until ${text(d.until)} (lock ${text(d.level)} in this run)`,
  FailedLoginsCleared: () => 'correct password: failure count reset',
  AccountUnlocked: (d) => `unlocked (by ${text(d.by)})`,
  PasswordRehashed: () => 'password hash upgraded to the current parameters',
  PasswordChanged: (d) =>
    `password changed; every other session ended${d.keep_session_id ? ` (kept ${text(d.keep_session_id)})` : ''}`,
  PasswordResetRequested: (d) => `password reset link sent, valid until ${text(d.expires_at)}`,
  PasswordResetCompleted: () => 'password reset with the emailed link; all sessions ended, lock cleared',
  UserProfileUpdated: (d) => `username set to ${text(d.username)}`,
  UserDeactivated: () => 'DEACTIVATED; all sessions ended',
  UserReactivated: () => 'reactivated (earlier sessions stay ended)',
  RoleGranted: (d) => `role ${text(d.role)} granted`,
  RoleRevoked: (d) => `role ${text(d.role)} revoked`,
  AdminCommandRefused: (d) =>
    `REFUSED: revoking role ${text(d.role)} (${d.rule === 'bootstrap_admin' ? 'the bootstrap admin address' : 'the last active admin'})`,
  AllSessionsEnded: (d) => `all sessions ended (${text(d.reason)})`,
  UserErased: () => 'ERASED: personal data unreadable from now on',
  SessionStarted: (d) =>
    `session ${text(d.session_id)} started, user agent ${text(d.user_agent)}, ip ${text(d.ip)}`,
  RefreshTokenRotated: (d) => `refresh token rotated (generation ${text(d.generation)})`,
  RefreshTokenReuseTolerated: (d) =>
    `retried refresh of generation ${text(d.generation)} within the grace window`,
  RefreshTokenReuseDetected: (d) => `REUSE of rotated refresh token generation ${text(d.generation)}`,
  SessionEnded: (d) => `session ended (${text(d.reason)})`,
  EmailReserved: (d) => `address reserved for user ${text(d.user_id)}`,
  EmailReleased: (d) => `address released by user ${text(d.user_id)}`,
};

const actorOf = (event: EventJson): string => {
  const actor = event.metadata.actor;
  if (!actor) return 'unknown';
  return actor.id ? `${actor.type} ${actor.id}` : actor.type;
};

export const eventFacts = (event: EventJson): string =>
  FACTS[event.type]?.(event.data) ??
  (Object.keys(event.data).length ? JSON.stringify(event.data) : '(no details shown)');

/** One line per event; `withStream` for a feed that mixes streams. */
export const timelineLine = (event: EventJson, options: { withStream?: boolean } = {}): string =>
  [
    event.occurred_at,
    options.withStream ? `${event.stream}@${event.revision}` : `#${event.revision}`,
    event.type.padEnd(28),
    `by ${actorOf(event)}`,
    eventFacts(event),
    ...(event.metadata.reason !== undefined ? [`reason: ${JSON.stringify(event.metadata.reason)}`] : []),
    ...(event.metadata.correlation_id ? [`[correlation ${event.metadata.correlation_id}]`] : []),
  ].join('  ');
