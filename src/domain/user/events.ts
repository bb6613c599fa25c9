import type { DomainEvent, Timestamp } from '../shared/decider';
import type { Role } from './roles';

export const USER_STREAM_PREFIX = 'user-';

export const userStreamId = (userId: string): string => `${USER_STREAM_PREFIX}${userId}`;

/**
 * `email`, `username` and `passwordHash` are sealed by the application with the user's data key before
 * they reach the domain (docs/design.md, "Personal data"): opaque strings here, unreadable after erasure.
 * Timestamps are ISO 8601 strings (see shared/decider.ts).
 */
export type UserRegistered = DomainEvent<
  'UserRegistered',
  { userId: string; email: string; username?: string; passwordHash: string; registeredAt: Timestamp }
>;

/** A new registration of an address still pending verification: the latest wins (pre-hijacking defence). */
export type PendingRegistrationReplaced = DomainEvent<
  'PendingRegistrationReplaced',
  { passwordHash: string; username?: string }
>;

/** Someone registered an already taken address; the owner gets a notice mail. */
export type DuplicateRegistrationAttempted = DomainEvent<'DuplicateRegistrationAttempted', { at: Timestamp }>;

/**
 * Asks the mail consumer to send the verification link for `tokenId`. A repeat of the same tokenId with a
 * later `requestedAt` means "send the same link again".
 */
export type EmailVerificationRequested = DomainEvent<
  'EmailVerificationRequested',
  { tokenId: string; tokenHash: string; expiresAt: Timestamp; requestedAt: Timestamp }
>;

export type EmailVerified = DomainEvent<'EmailVerified', { at: Timestamp }>;

/**
 * A password check is about to run (docs/design.md, "Lockout"): it holds one of the guesses left before
 * the next lock until its outcome (LoginSucceeded, LoginFailed or LoginRefused with the same attemptId) is
 * recorded, so parallel guesses cannot outnumber the policy.
 */
export type LoginAttemptStarted = DomainEvent<'LoginAttemptStarted', { attemptId: string; at: Timestamp }>;

/** `attemptId` names the check it resolves; failures recorded before attempts were reserved have none. */
export type LoginFailed = DomainEvent<
  'LoginFailed',
  { at: Timestamp; consecutiveFailures: number; attemptId?: string }
>;

/** The password was proven and the login accepted on the stream revision before this event. */
export type LoginSucceeded = DomainEvent<'LoginSucceeded', { attemptId: string; at: Timestamp }>;

/**
 * The password was proven but the login is refused: the address is not verified, or the account was
 * locked or deactivated while the password was being checked.
 */
export type LoginRefused = DomainEvent<
  'LoginRefused',
  { attemptId: string; at: Timestamp; reason: 'email_not_verified' | 'locked' | 'deactivated' }
>;

export type AccountLocked = DomainEvent<'AccountLocked', { until: Timestamp; level: number }>;

export type FailedLoginsCleared = DomainEvent<'FailedLoginsCleared', { at: Timestamp }>;

export type AccountUnlocked = DomainEvent<
  'AccountUnlocked',
  { at: Timestamp; by: 'admin' | 'password_reset' }
>;

export type PasswordRehashed = DomainEvent<'PasswordRehashed', { passwordHash: string }>;

/** Ends every session but `keepSessionId` (the one that made the change). */
export type PasswordChanged = DomainEvent<
  'PasswordChanged',
  { passwordHash: string; keepSessionId?: string; at: Timestamp }
>;

export type PasswordResetRequested = DomainEvent<
  'PasswordResetRequested',
  { tokenId: string; tokenHash: string; expiresAt: Timestamp; requestedAt: Timestamp }
>;

/** Uses up `tokenId`, voids every outstanding reset token, clears the lockout and ends ALL sessions. */
export type PasswordResetCompleted = DomainEvent<
  'PasswordResetCompleted',
  { passwordHash: string; tokenId: string; at: Timestamp }
>;

/**
 * The user asked to change the address to `newEmail` (sealed): a confirmation link for `tokenId` goes to
 * the new address and a notice to the current one. A newer request supersedes the older token.
 */
export type EmailChangeRequested = DomainEvent<
  'EmailChangeRequested',
  { tokenId: string; tokenHash: string; expiresAt: Timestamp; requestedAt: Timestamp; newEmail: string }
>;

/** The link was confirmed: `email` (sealed) is the account's address from now on; sessions are kept. */
export type EmailChanged = DomainEvent<'EmailChanged', { email: string; tokenId: string; at: Timestamp }>;

export type UserProfileUpdated = DomainEvent<'UserProfileUpdated', { username: string | null }>;

export type UserDeactivated = DomainEvent<'UserDeactivated', { at: Timestamp }>;

export type UserReactivated = DomainEvent<'UserReactivated', { at: Timestamp }>;

export type RoleGranted = DomainEvent<'RoleGranted', { role: Role }>;

export type RoleRevoked = DomainEvent<'RoleRevoked', { role: Role }>;

/**
 * An admin command that would have left the service without an admin was refused (409): the attempt is
 * part of the audit trail, with its actor and reason in the metadata. `rule`: the account is the
 * BOOTSTRAP_ADMIN_EMAIL address's, or no other active account holds `admin`.
 */
export type AdminCommandRefused = DomainEvent<
  'AdminCommandRefused',
  { command: 'RevokeRole'; role: Role; rule: 'bootstrap_admin' | 'last_admin'; at: Timestamp }
>;

export type AllSessionsEnded = DomainEvent<'AllSessionsEnded', { at: Timestamp; reason: 'logout_all' }>;

export type UserErased = DomainEvent<'UserErased', { at: Timestamp }>;

export type UserEvent =
  | UserRegistered
  | PendingRegistrationReplaced
  | DuplicateRegistrationAttempted
  | EmailVerificationRequested
  | EmailVerified
  | LoginAttemptStarted
  | LoginFailed
  | LoginSucceeded
  | LoginRefused
  | AccountLocked
  | FailedLoginsCleared
  | AccountUnlocked
  | PasswordRehashed
  | PasswordChanged
  | PasswordResetRequested
  | PasswordResetCompleted
  | EmailChangeRequested
  | EmailChanged
  | UserProfileUpdated
  | UserDeactivated
  | UserReactivated
  | RoleGranted
  | RoleRevoked
  | AdminCommandRefused
  | AllSessionsEnded
  | UserErased;

export type UserEventType = UserEvent['type'];
