import type { DomainCommand } from '../shared/decider';
import type { Role } from './roles';

/**
 * Every command carries `now`. Sealed values (`email`, `username`, `passwordHash`) come sealed; token ids
 * and hashes are made by the application (docs/design.md, "One-time tokens"); password checks (argon2)
 * happen before the decision and arrive as booleans.
 */

/**
 * `userId` and the verification token are used only when the stream is new; registering an address that
 * already has an account decides on that account. When `requireVerification` is false the account starts
 * active with its address verified.
 */
export type RegisterUser = DomainCommand<
  'RegisterUser',
  {
    userId: string;
    email: string;
    username?: string;
    passwordHash: string;
    verificationTokenId: string;
    verificationTokenHash: string;
    verificationExpiresAt: Date;
    requireVerification: boolean;
    now: Date;
  }
>;

export type VerifyEmail = DomainCommand<'VerifyEmail', { tokenHash: string; now: Date }>;

/** The new token is used only when the outstanding one has expired. */
export type ResendVerification = DomainCommand<
  'ResendVerification',
  { newTokenId: string; newTokenHash: string; newExpiresAt: Date; now: Date }
>;

/** Login's first step: reserve one of the guesses left before argon2 runs; see login.ts. */
export type StartLoginAttempt = DomainCommand<'StartLoginAttempt', { attemptId: string; now: Date }>;

/** Login's password step, resolving the attempt StartLoginAttempt reserved; see login.ts for the outcome. */
export type CheckPassword = DomainCommand<
  'CheckPassword',
  {
    attemptId: string;
    passwordVerified: boolean;
    /** Given when the stored hash's parameters are below the current ones and the password was right. */
    rehashedPasswordHash?: string;
    requireVerification: boolean;
    now: Date;
  }
>;

/** See password.ts for the outcome. `session*` names the session making the change: it survives. */
export type ChangePassword = DomainCommand<
  'ChangePassword',
  {
    currentPasswordVerified: boolean;
    newPasswordHash: string;
    sessionId: string;
    sessionStartedAtUserRevision: number;
    now: Date;
  }
>;

/**
 * The signed-in user proves the password again before an irreversible step of their own (deleting the
 * account, changing the address): a wrong one counts toward the lockout as on login.
 */
export type ConfirmPassword = DomainCommand<'ConfirmPassword', { passwordVerified: boolean; now: Date }>;

/** `newEmail` sealed; the password was proven just before (ConfirmPassword). */
export type RequestEmailChange = DomainCommand<
  'RequestEmailChange',
  { tokenId: string; tokenHash: string; expiresAt: Date; newEmail: string; now: Date }
>;

/** The confirmation link's token; the new address's reservation is already held by this account. */
export type ConfirmEmailChange = DomainCommand<'ConfirmEmailChange', { tokenHash: string; now: Date }>;

export type RequestPasswordReset = DomainCommand<
  'RequestPasswordReset',
  { tokenId: string; tokenHash: string; expiresAt: Date; now: Date }
>;

export type ResetPassword = DomainCommand<
  'ResetPassword',
  { tokenHash: string; newPasswordHash: string; now: Date }
>;

export type UpdateProfile = DomainCommand<'UpdateProfile', { username: string | null; now: Date }>;

export type EndAllSessions = DomainCommand<'EndAllSessions', { now: Date }>;

// Administration: the reason and the actor travel in the event metadata, not here.
export type DeactivateUser = DomainCommand<'DeactivateUser', { now: Date }>;

export type ReactivateUser = DomainCommand<'ReactivateUser', { now: Date }>;

export type UnlockUser = DomainCommand<'UnlockUser', { now: Date }>;

export type EraseUser = DomainCommand<'EraseUser', { now: Date }>;

export type GrantRole = DomainCommand<'GrantRole', { role: Role; now: Date }>;

/**
 * What the application knows of the other accounts when `admin` is revoked: whether this account is the
 * BOOTSTRAP_ADMIN_EMAIL address's, and how many other active accounts hold `admin` (checked on their own
 * streams). Other roles need neither.
 */
export type AdminRoster = Readonly<{ isBootstrapAdmin: boolean; otherActiveAdmins: number }>;

export type RevokeRole = DomainCommand<'RevokeRole', { role: Role; now: Date; roster?: AdminRoster }>;

export type UserCommand =
  | RegisterUser
  | VerifyEmail
  | ResendVerification
  | StartLoginAttempt
  | CheckPassword
  | ChangePassword
  | ConfirmPassword
  | RequestEmailChange
  | ConfirmEmailChange
  | RequestPasswordReset
  | ResetPassword
  | UpdateProfile
  | EndAllSessions
  | DeactivateUser
  | ReactivateUser
  | UnlockUser
  | EraseUser
  | GrantRole
  | RevokeRole;

export type UserCommandType = UserCommand['type'];
