import { toTimestamp, type Decision } from '../shared/decider';
import type { CheckPassword, StartLoginAttempt } from './commands';
import type { UserEvent } from './events';
import { failedAttempt, hasGuessLeft, isLocked } from './lockout';
import { requireAccount, type UserState } from './state';

/**
 * What login answers. Only `ok` and `email_not_verified` follow a proven password; every other outcome is
 * the same `invalid-credentials` to the caller (CONTRACT.md), kept apart here for logs and metrics.
 */
export type LoginOutcome = 'ok' | 'invalid_credentials' | 'locked' | 'deactivated' | 'email_not_verified';

export type LoginDecision = Decision<LoginOutcome, UserEvent>;

export type LoginAttemptDecision = Decision<'started' | 'locked' | 'deactivated', UserEvent>;

/**
 * Whether login should verify the password at all. While locked, deactivated, or while the checks in
 * flight already hold every guess left before the lock, it must not: the answer is `invalid-credentials`
 * without running argon2, and nothing is appended.
 */
export const canAttemptLogin = (state: UserState, now: Date): boolean =>
  (state.status === 'active' || state.status === 'pending_verification') && hasGuessLeft(state.lockout, now);

/**
 * Login's first decision (docs/design.md, "Lockout"): a password check holds a place in the stream before
 * it runs. Appended with the expected revision, so of N parallel attempts only as many as there are
 * guesses left get a place; the rest are refused without checking anything.
 */
export const startLoginAttempt = ({ data }: StartLoginAttempt, state: UserState): LoginAttemptDecision => {
  const account = requireAccount(state);
  if (account.status === 'deactivated') return { outcome: 'deactivated', events: [] };
  if (!hasGuessLeft(account.lockout, data.now)) return { outcome: 'locked', events: [] };
  return {
    outcome: 'started',
    events: [{ type: 'LoginAttemptStarted', data: { attemptId: data.attemptId, at: toTimestamp(data.now) } }],
  };
};

/**
 * Login's decision on the checked password, resolving the attempt. A wrong password is an expected
 * outcome, not an error: its events (LoginFailed, and AccountLocked on every 5th failure) must be appended
 * AND the caller answers `invalid-credentials`, so the outcome travels beside the events. A right password
 * is accepted only on the state it is recorded on (LoginSucceeded, appended with the expected revision):
 * if the account was locked or deactivated while the password was being checked, the login is refused.
 * A missing or erased account throws (`user-not-found`, `user-erased`).
 */
export const checkPassword = ({ data }: CheckPassword, state: UserState): LoginDecision => {
  const account = requireAccount(state);
  const at = toTimestamp(data.now);
  const { attemptId } = data;
  if (!data.passwordVerified) {
    return {
      outcome: 'invalid_credentials',
      events: failedAttempt(account.lockout, data.now, attemptId),
    };
  }
  if (account.status === 'deactivated') {
    return {
      outcome: 'deactivated',
      events: [{ type: 'LoginRefused', data: { attemptId, at, reason: 'deactivated' } }],
    };
  }
  if (isLocked(account.lockout, data.now)) {
    return {
      outcome: 'locked',
      events: [{ type: 'LoginRefused', data: { attemptId, at, reason: 'locked' } }],
    };
  }
  if (account.status === 'pending_verification' && data.requireVerification) {
    return {
      outcome: 'email_not_verified',
      events: [{ type: 'LoginRefused', data: { attemptId, at, reason: 'email_not_verified' } }],
    };
  }
  return {
    outcome: 'ok',
    events: [
      { type: 'LoginSucceeded', data: { attemptId, at } },
      ...(data.rehashedPasswordHash !== undefined
        ? [{ type: 'PasswordRehashed', data: { passwordHash: data.rehashedPasswordHash } } as const]
        : []),
    ],
  };
};
