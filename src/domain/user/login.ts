import { toTimestamp, type Decision } from '../shared/decider';
import type { CheckPassword } from './commands';
import type { UserEvent } from './events';
import { failedAttempt, hasLockoutHistory, isLocked } from './lockout';
import { requireAccount, type UserState } from './state';

/**
 * What login answers. Only `ok` and `email_not_verified` follow a proven password; every other outcome is
 * the same `invalid-credentials` to the caller (CONTRACT.md), kept apart here for logs and metrics.
 */
export type LoginOutcome = 'ok' | 'invalid_credentials' | 'locked' | 'deactivated' | 'email_not_verified';

export type LoginDecision = Decision<LoginOutcome, UserEvent>;

/**
 * Whether login should verify the password at all. While locked or deactivated it must not: the answer is
 * `invalid-credentials` without running argon2, and nothing is appended.
 */
export const canAttemptLogin = (state: UserState, now: Date): boolean =>
  (state.status === 'active' || state.status === 'pending_verification') && !isLocked(state.lockout, now);

/**
 * Login's decision. A wrong password is an expected outcome, not an error: its events (LoginFailed, and
 * AccountLocked on every 5th failure) must be appended AND the caller answers `invalid-credentials`, so the
 * outcome travels beside the events. A missing or erased account throws (`user-not-found`, `user-erased`).
 */
export const checkPassword = ({ data }: CheckPassword, state: UserState): LoginDecision => {
  const account = requireAccount(state);
  if (account.status === 'deactivated') return { outcome: 'deactivated', events: [] };
  if (isLocked(account.lockout, data.now)) return { outcome: 'locked', events: [] };
  if (!data.passwordVerified) {
    return { outcome: 'invalid_credentials', events: failedAttempt(account.lockout, data.now) };
  }
  const events: UserEvent[] = [
    ...(hasLockoutHistory(account.lockout)
      ? [{ type: 'FailedLoginsCleared', data: { at: toTimestamp(data.now) } } as const]
      : []),
    ...(data.rehashedPasswordHash !== undefined
      ? [{ type: 'PasswordRehashed', data: { passwordHash: data.rehashedPasswordHash } } as const]
      : []),
  ];
  const outcome =
    account.status === 'pending_verification' && data.requireVerification ? 'email_not_verified' : 'ok';
  return { outcome, events };
};
