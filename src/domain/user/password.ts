import { toTimestamp, type Decision } from '../shared/decider';
import { DomainError } from '../shared/errors';
import type { ChangePassword, ConfirmPassword, RequestPasswordReset, ResetPassword } from './commands';
import type { UserEvent } from './events';
import { failedAttempt, hasLockoutHistory, isLocked } from './lockout';
import { isSessionAlive } from './sessions';
import { invalidToken, requireTokenHolder, requireUsableAccount, type UserState } from './state';
import { isThrottled, isTokenValid } from './tokens';

/** `changed`: 204. `invalid_credentials` and `locked`: 403 `invalid-credentials` (CONTRACT.md). */
export type PasswordChangeOutcome = 'changed' | 'invalid_credentials' | 'locked';

export type PasswordChangeDecision = Decision<PasswordChangeOutcome, UserEvent>;

/**
 * Like login, a wrong current password is an outcome whose events (LoginFailed, AccountLocked) must be
 * appended while the caller answers 403, so the outcome travels beside the events. The session making the
 * change must still be alive on the user stream: a retry after a concurrent logout-all must not bring it
 * back as the survivor.
 */
export const decideChangePassword = ({ data }: ChangePassword, state: UserState): PasswordChangeDecision => {
  const account = requireUsableAccount(state);
  if (
    !isSessionAlive(account, {
      sessionId: data.sessionId,
      startedAtUserRevision: data.sessionStartedAtUserRevision,
    })
  ) {
    throw new DomainError('session-ended', 'The session has ended');
  }
  if (isLocked(account.lockout, data.now)) return { outcome: 'locked', events: [] };
  if (!data.currentPasswordVerified) {
    return { outcome: 'invalid_credentials', events: failedAttempt(account.lockout, data.now) };
  }
  const at = toTimestamp(data.now);
  return {
    outcome: 'changed',
    events: [
      ...(hasLockoutHistory(account.lockout) ? [{ type: 'FailedLoginsCleared', data: { at } } as const] : []),
      {
        type: 'PasswordChanged',
        data: { passwordHash: data.newPasswordHash, keepSessionId: data.sessionId, at },
      },
    ],
  };
};

/** `confirmed` records nothing; a wrong password records the failure (and the lock on every fifth). */
export type PasswordConfirmOutcome = 'confirmed' | 'invalid_credentials' | 'locked';

export const decideConfirmPassword = (
  { data }: ConfirmPassword,
  state: UserState,
): Decision<PasswordConfirmOutcome, UserEvent> => {
  const account = requireUsableAccount(state);
  if (isLocked(account.lockout, data.now)) return { outcome: 'locked', events: [] };
  if (!data.passwordVerified) {
    return { outcome: 'invalid_credentials', events: failedAttempt(account.lockout, data.now) };
  }
  return { outcome: 'confirmed', events: [] };
};

/** The throttle lives here, per account and so per address (docs/design.md, "One-time tokens"). */
export const requestPasswordReset = ({ data }: RequestPasswordReset, state: UserState): UserEvent[] => {
  const account = requireUsableAccount(state);
  if (isThrottled(account.lastPasswordResetRequestedAt, data.now)) return [];
  return [
    {
      type: 'PasswordResetRequested',
      data: {
        tokenId: data.tokenId,
        tokenHash: data.tokenHash,
        expiresAt: toTimestamp(data.expiresAt),
        requestedAt: toTimestamp(data.now),
      },
    },
  ];
};

/**
 * Single use: a second use of the same token is `invalid-or-expired-token`, not a silent repeat (the
 * contract makes the token single use; a retried HTTP request is the Idempotency-Key's job).
 */
export const decideResetPassword = ({ data }: ResetPassword, state: UserState): UserEvent[] => {
  const account = requireTokenHolder(state);
  const token = account.passwordReset;
  if (token === null || !isTokenValid(token, data.tokenHash, data.now)) throw invalidToken();
  const at = toTimestamp(data.now);
  return [
    {
      type: 'PasswordResetCompleted',
      data: { passwordHash: data.newPasswordHash, tokenId: token.tokenId, at },
    },
    ...(isLocked(account.lockout, data.now)
      ? [{ type: 'AccountUnlocked', data: { at, by: 'password_reset' } } as const]
      : []),
  ];
};
