import { unreachable } from '../shared/decider';
import { DomainError } from '../shared/errors';
import { NO_LOCKOUT, type Lockout } from './lockout';
import type { Role } from './roles';
import type { OneTimeToken } from './tokens';

/** Why the sessions that started before a cut-off ended; each is also a SessionEnded reason. */
export type CutOffReason =
  'logout_all' | 'password_changed' | 'password_reset' | 'deactivated' | 'erased' | 'registration_replaced';

/**
 * Ending every session is one event in the user stream (docs/design.md, "Sessions"): sessions that started
 * at a user revision before `revision` are dead, except `survivorSessionId` (the session that changed the
 * password).
 */
export type SessionsCutOff = Readonly<{
  revision: number;
  survivorSessionId: string | null;
  reason: CutOffReason;
}>;

export type AccountData = Readonly<{
  /**
   * The stream revision of the last event folded in (-1: no stream). `evolve` adds one per event, so a
   * state folded from revision 0 always knows its own revision: the expected revision of the next append,
   * and the revision a session started on.
   */
  revision: number;
  userId: string;
  email: string;
  username: string | null;
  passwordHash: string;
  registeredAt: Date;
  emailVerified: boolean;
  /** The outstanding verification token; null once verified. */
  verification: OneTimeToken | null;
  /** Recognises a repeated verification with the token that was used. */
  verifiedWithTokenHash: string | null;
  /** The one reset token that can still be used: a newer request supersedes it, a change voids it. */
  passwordReset: OneTimeToken | null;
  /** Outlives the token: the throttle also holds after a reset was completed. */
  lastPasswordResetRequestedAt: Date | null;
  lastDuplicateNoticeAt: Date | null;
  /** The address change waiting for its confirmation link; `newEmail` sealed. */
  pendingEmailChange: PendingEmailChange | null;
  /** The outstanding invitation's set-password token; null once accepted or revoked, or never invited. */
  invitation: OneTimeToken | null;
  lockout: Lockout;
  roles: readonly Role[];
  sessionsCutOff: SessionsCutOff | null;
}>;

export type PendingEmailChange = OneTimeToken & Readonly<{ newEmail: string }>;

/**
 * A new account waiting for its address to be proven (a registration, an invitation): everything beyond
 * who it is and how it signs in starts empty.
 */
export const pendingAccount = (
  fields: Pick<AccountData, 'revision' | 'userId' | 'email' | 'username' | 'passwordHash' | 'registeredAt'> &
    Partial<Pick<AccountData, 'invitation'>>,
): PendingVerificationUser => ({
  status: 'pending_verification',
  emailVerified: false,
  verification: null,
  verifiedWithTokenHash: null,
  passwordReset: null,
  lastPasswordResetRequestedAt: null,
  lastDuplicateNoticeAt: null,
  pendingEmailChange: null,
  invitation: null,
  lockout: NO_LOCKOUT,
  roles: [],
  sessionsCutOff: null,
  ...fields,
});

export type InitialUser = Readonly<{ status: 'initial'; revision: number }>;
export type PendingVerificationUser = AccountData & Readonly<{ status: 'pending_verification' }>;
export type ActiveUser = AccountData & Readonly<{ status: 'active' }>;
export type DeactivatedUser = AccountData & Readonly<{ status: 'deactivated' }>;
/** Personal data is gone with the key; what stays is what the history still needs. */
export type ErasedUser = Readonly<{
  status: 'erased';
  revision: number;
  userId: string;
  erasedAt: Date;
  sessionsCutOff: SessionsCutOff;
}>;

export type UserState = InitialUser | PendingVerificationUser | ActiveUser | DeactivatedUser | ErasedUser;

export type UserStatus = UserState['status'];

/** A user stream that holds an account that was not erased. */
export type Account = PendingVerificationUser | ActiveUser | DeactivatedUser;

/** An account that can act for itself (log in, change its password, ...). */
export type UsableAccount = PendingVerificationUser | ActiveUser;

export const NO_STREAM = -1;

export const initialUserState: UserState = { status: 'initial', revision: NO_STREAM };

export const isAccount = (state: UserState): state is Account => {
  switch (state.status) {
    case 'pending_verification':
    case 'active':
    case 'deactivated':
      return true;
    case 'initial':
    case 'erased':
      return false;
    default:
      return unreachable(state);
  }
};

export const requireAccount = (state: UserState): Account => {
  switch (state.status) {
    case 'initial':
      throw new DomainError('user-not-found', 'No such account');
    case 'erased':
      throw new DomainError('user-erased', 'The account was erased');
    case 'pending_verification':
    case 'active':
    case 'deactivated':
      return state;
    default:
      return unreachable(state);
  }
};

export const requireUsableAccount = (state: UserState): UsableAccount => {
  const account = requireAccount(state);
  if (account.status === 'deactivated')
    throw new DomainError('user-deactivated', 'The account is deactivated');
  return account;
};

export const invalidToken = (): DomainError =>
  new DomainError('invalid-or-expired-token', 'The token is unknown, used, superseded or expired');

/**
 * The account a verification or reset token names. Its holder learns nothing more than from a bad token
 * when the account is missing or erased.
 */
export const requireTokenHolder = (state: UserState): UsableAccount => {
  if (state.status === 'initial' || state.status === 'erased') throw invalidToken();
  return requireUsableAccount(state);
};
