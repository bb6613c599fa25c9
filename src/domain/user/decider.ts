import {
  fromTimestamp,
  recorded,
  unknownEvent,
  unreachable,
  type Decider,
  type Decision,
  type Recorded,
} from '../shared/decider';
import {
  decideDeactivateUser,
  decideRevokeRole,
  decideEraseUser,
  decideGrantRole,
  decideReactivateUser,
  decideUnlockUser,
  type RevokeRoleOutcome,
} from './admin';
import type { UserCommand } from './commands';
import type { UserEvent } from './events';
import { NO_LOCKOUT, withAttemptResolved, withAttemptStarted, withFailuresCleared } from './lockout';
import { checkPassword, startLoginAttempt, type LoginAttemptDecision, type LoginOutcome } from './login';
import {
  decideChangePassword,
  decideConfirmPassword,
  requestPasswordReset,
  decideResetPassword,
  type PasswordChangeOutcome,
  type PasswordConfirmOutcome,
} from './password';
import { endAllSessions, decideUpdateProfile } from './profile';
import { applyEmailChange, decideConfirmEmailChange, decideRequestEmailChange } from './email-change';
import { applyInvitation, decideInvitation } from './invitation';
import { decideRegisterUser, decideResendVerification, decideVerifyEmail } from './registration';
import {
  initialUserState,
  isAccount,
  pendingAccount,
  type Account,
  type CutOffReason,
  type SessionsCutOff,
  type UserState,
} from './state';
import type { OneTimeToken } from './tokens';

export const initialState: UserState = initialUserState;

/** Every outcome a user command can answer; each command's own function narrows it (login.ts, ...). */
export type UserOutcome =
  | Recorded
  | LoginOutcome
  | LoginAttemptDecision['outcome']
  | PasswordChangeOutcome
  | PasswordConfirmOutcome
  | RevokeRoleOutcome;

export const decide = (command: UserCommand, state: UserState): Decision<UserOutcome, UserEvent> => {
  switch (command.type) {
    case 'RegisterUser':
      return recorded(decideRegisterUser(command, state));
    case 'VerifyEmail':
      return recorded(decideVerifyEmail(command, state));
    case 'ResendVerification':
      return recorded(decideResendVerification(command, state));
    case 'StartLoginAttempt':
      return startLoginAttempt(command, state);
    case 'CheckPassword':
      return checkPassword(command, state);
    case 'ChangePassword':
      return decideChangePassword(command, state);
    case 'ConfirmPassword':
      return decideConfirmPassword(command, state);
    case 'RequestEmailChange':
      return recorded(decideRequestEmailChange(command, state));
    case 'ConfirmEmailChange':
      return recorded(decideConfirmEmailChange(command, state));
    case 'InviteUser':
    case 'AcceptInvitation':
    case 'RevokeInvitation':
      return recorded(decideInvitation(command, state));
    case 'RequestPasswordReset':
      return recorded(requestPasswordReset(command, state));
    case 'ResetPassword':
      return recorded(decideResetPassword(command, state));
    case 'UpdateProfile':
      return recorded(decideUpdateProfile(command, state));
    case 'EndAllSessions':
      return recorded(endAllSessions(command, state));
    case 'DeactivateUser':
      return recorded(decideDeactivateUser(command, state));
    case 'ReactivateUser':
      return recorded(decideReactivateUser(command, state));
    case 'UnlockUser':
      return recorded(decideUnlockUser(command, state));
    case 'EraseUser':
      return recorded(decideEraseUser(command, state));
    case 'GrantRole':
      return recorded(decideGrantRole(command, state));
    case 'RevokeRole':
      return decideRevokeRole(command, state);
    default:
      return unreachable(command);
  }
};

/**
 * Folds one event and counts it: the state's `revision` is the stream revision of the last event folded
 * in, as long as the fold starts at `initialState` with the stream's first event (revision 0). The
 * sessions cut-off needs it: it is the revision of the very event that sets it (docs/design.md,
 * "Sessions"). Events that do not fit the state still count, and change nothing else.
 */
export const evolve = (state: UserState, event: UserEvent): UserState => {
  const revision = state.revision + 1;
  return { ...apply(state, event, revision), revision };
};

const onAccount = (state: UserState, change: (account: Account) => UserState): UserState =>
  isAccount(state) ? change(state) : state;

const cutOff = (
  revision: number,
  reason: CutOffReason,
  survivorSessionId: string | null = null,
): SessionsCutOff => ({
  revision,
  survivorSessionId,
  reason,
});

const token = (data: {
  tokenId: string;
  tokenHash: string;
  expiresAt: string;
  requestedAt: string;
}): OneTimeToken => ({
  tokenId: data.tokenId,
  tokenHash: data.tokenHash,
  expiresAt: fromTimestamp(data.expiresAt),
  requestedAt: fromTimestamp(data.requestedAt),
});

const apply = (state: UserState, event: UserEvent, revision: number): UserState => {
  switch (event.type) {
    case 'UserRegistered': {
      if (state.status !== 'initial') return state;
      const { data } = event;
      return pendingAccount({
        revision,
        userId: data.userId,
        email: data.email,
        username: data.username ?? null,
        passwordHash: data.passwordHash,
        registeredAt: fromTimestamp(data.registeredAt),
      });
    }
    case 'PendingRegistrationReplaced':
      // A squatter's sessions (a deployment that lets unverified users in) go with their password.
      return onAccount(state, (a) => ({
        ...a,
        passwordHash: event.data.passwordHash,
        username: event.data.username ?? null,
        sessionsCutOff: cutOff(revision, 'registration_replaced'),
      }));
    case 'DuplicateRegistrationAttempted':
      return onAccount(state, (a) => ({ ...a, lastDuplicateNoticeAt: fromTimestamp(event.data.at) }));
    case 'EmailVerificationRequested':
      return onAccount(state, (a) => ({ ...a, verification: token(event.data) }));
    case 'EmailVerified':
      return onAccount(state, (a) => ({
        ...a,
        status: a.status === 'pending_verification' ? 'active' : a.status,
        emailVerified: true,
        verification: null,
        verifiedWithTokenHash: a.verification?.tokenHash ?? null,
      }));
    case 'LoginAttemptStarted':
      return onAccount(state, (a) => ({
        ...a,
        lockout: withAttemptStarted(a.lockout, event.data.attemptId, event.data.at),
      }));
    case 'LoginFailed':
      return onAccount(state, (a) => ({
        ...a,
        lockout: {
          ...withAttemptResolved(a.lockout, event.data.attemptId),
          consecutiveFailures: event.data.consecutiveFailures,
        },
      }));
    case 'LoginSucceeded':
      return onAccount(state, (a) => ({
        ...a,
        lockout: withFailuresCleared(withAttemptResolved(a.lockout, event.data.attemptId)),
      }));
    case 'LoginRefused': {
      // A proven password clears the failures, unless the account was locked while it was being checked.
      const resolved = (a: Account) => withAttemptResolved(a.lockout, event.data.attemptId);
      return onAccount(state, (a) => ({
        ...a,
        lockout: event.data.reason === 'email_not_verified' ? withFailuresCleared(resolved(a)) : resolved(a),
      }));
    }
    case 'AccountLocked':
      return onAccount(state, (a) => ({
        ...a,
        lockout: { ...a.lockout, level: event.data.level, lockedUntil: fromTimestamp(event.data.until) },
      }));
    case 'FailedLoginsCleared':
      return onAccount(state, (a) => ({ ...a, lockout: withFailuresCleared(a.lockout) }));
    case 'AccountUnlocked':
      return onAccount(state, (a) => ({ ...a, lockout: NO_LOCKOUT }));
    case 'PasswordRehashed':
      return onAccount(state, (a) => ({ ...a, passwordHash: event.data.passwordHash }));
    case 'PasswordChanged':
      return onAccount(state, (a) => ({
        ...a,
        passwordHash: event.data.passwordHash,
        passwordReset: null,
        sessionsCutOff: cutOff(revision, 'password_changed', event.data.keepSessionId ?? null),
      }));
    case 'PasswordResetRequested':
      return onAccount(state, (a) => ({
        ...a,
        passwordReset: token(event.data),
        lastPasswordResetRequestedAt: fromTimestamp(event.data.requestedAt),
      }));
    case 'PasswordResetCompleted':
      return onAccount(state, (a) => ({
        ...a,
        passwordHash: event.data.passwordHash,
        passwordReset: null,
        lockout: NO_LOCKOUT,
        sessionsCutOff: cutOff(revision, 'password_reset'),
      }));
    case 'EmailChangeRequested':
    case 'EmailChanged':
      return onAccount(state, (a) => applyEmailChange(a, event));
    case 'UserInvited':
    case 'InvitationAccepted':
    case 'InvitationRevoked':
      return applyInvitation(state, event, revision);
    case 'UserProfileUpdated':
      return onAccount(state, (a) => ({ ...a, username: event.data.username }));
    case 'UserDeactivated':
      return onAccount(state, (a) => ({
        ...a,
        status: 'deactivated',
        sessionsCutOff: cutOff(revision, 'deactivated'),
      }));
    case 'UserReactivated':
      return onAccount(state, (a) =>
        a.status === 'deactivated'
          ? { ...a, status: a.emailVerified ? 'active' : 'pending_verification' }
          : a,
      );
    case 'RoleGranted':
      return onAccount(state, (a) =>
        a.roles.includes(event.data.role) ? a : { ...a, roles: [...a.roles, event.data.role] },
      );
    case 'RoleRevoked':
      return onAccount(state, (a) => ({ ...a, roles: a.roles.filter((role) => role !== event.data.role) }));
    case 'AdminCommandRefused':
      // An attempt, recorded for the audit trail: nothing changed.
      return state;
    case 'AllSessionsEnded':
      return onAccount(state, (a) => ({ ...a, sessionsCutOff: cutOff(revision, event.data.reason) }));
    case 'UserErased':
      return onAccount(state, (a) => ({
        status: 'erased',
        revision,
        userId: a.userId,
        erasedAt: fromTimestamp(event.data.at),
        sessionsCutOff: cutOff(revision, 'erased'),
      }));
    default:
      return unknownEvent(event, state);
  }
};

export const userDecider: Decider<UserCommand, UserEvent, UserState, UserOutcome> = {
  initialState,
  evolve,
  decide,
};
