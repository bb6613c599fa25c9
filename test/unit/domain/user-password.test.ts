import type { ChangePassword, RequestPasswordReset, ResetPassword } from '../../../src/domain/user/commands';
import { userDecider } from '../../../src/domain/user/decider';
import type { UserEvent } from '../../../src/domain/user/events';
import { canAttemptLogin, checkPassword } from '../../../src/domain/user/login';
import { decideChangePassword } from '../../../src/domain/user/password';
import { deciderSpec } from '../../support/decider-spec';
import {
  ATTEMPT_ID,
  accountLocked,
  activeUser,
  at,
  checkPasswordCommand,
  deactivatedUser,
  erasedUser,
  failures,
  HASH_2,
  HOUR,
  iso,
  loginFailed,
  MINUTE,
  pendingUser,
  RESET_TTL,
  resetRequested,
  SECOND,
  stateOf,
} from './user-fixtures';

const spec = deciderSpec(userDecider);
const T = 2 * HOUR;
/** activeUser has 3 events: a session started on the last of them is at revision 2. */
const SESSION = { sessionId: 'session-a', startedAtUserRevision: 2 };

const change = (nowMs: number, currentPasswordVerified: boolean, session = SESSION): ChangePassword => ({
  type: 'ChangePassword',
  data: {
    currentPasswordVerified,
    newPasswordHash: HASH_2,
    sessionId: session.sessionId,
    sessionStartedAtUserRevision: session.startedAtUserRevision,
    now: at(nowMs),
  },
});

const passwordChanged = (nowMs: number, keepSessionId = SESSION.sessionId): UserEvent => ({
  type: 'PasswordChanged',
  data: { passwordHash: HASH_2, keepSessionId, at: iso(nowMs) },
});

const requestReset = (nowMs: number, tokenId = 'rt-1', tokenHash = 'rh-1'): RequestPasswordReset => ({
  type: 'RequestPasswordReset',
  data: { tokenId, tokenHash, expiresAt: at(nowMs + RESET_TTL), now: at(nowMs) },
});

const reset = (nowMs: number, tokenHash = 'rh-1'): ResetPassword => ({
  type: 'ResetPassword',
  data: { tokenHash, newPasswordHash: HASH_2, now: at(nowMs) },
});

const resetCompleted = (nowMs: number, tokenId = 'rt-1'): UserEvent => ({
  type: 'PasswordResetCompleted',
  data: { passwordHash: HASH_2, tokenId, at: iso(nowMs) },
});

const lockedAt = (fromMs: number): UserEvent[] => [
  ...failures(4, fromMs),
  loginFailed(fromMs + 4 * SECOND, 5),
  accountLocked(fromMs + 4 * SECOND + MINUTE, 1),
];

describe('ChangePassword', () => {
  it('changes the password and keeps the session making the change', () => {
    expect(decideChangePassword(change(T, true), stateOf(activeUser))).toStrictEqual({
      outcome: 'changed',
      events: [passwordChanged(T)],
    });
  });

  it('clears earlier failures along with the change', () => {
    expect(
      decideChangePassword(change(T + 10 * SECOND, true), stateOf([...activeUser, ...failures(2, T)])),
    ).toStrictEqual({
      outcome: 'changed',
      events: [
        { type: 'FailedLoginsCleared', data: { at: iso(T + 10 * SECOND) } },
        passwordChanged(T + 10 * SECOND),
      ],
    });
  });

  it('counts a wrong current password toward the lockout and answers invalid_credentials', () => {
    expect(decideChangePassword(change(T, false), stateOf(activeUser))).toStrictEqual({
      outcome: 'invalid_credentials',
      events: [loginFailed(T, 1)],
    });
  });

  it('locks on the 5th wrong current password, counting login failures too', () => {
    expect(
      decideChangePassword(change(T + 4 * SECOND, false), stateOf([...activeUser, ...failures(4, T)])),
    ).toStrictEqual({
      outcome: 'invalid_credentials',
      events: [loginFailed(T + 4 * SECOND, 5), accountLocked(T + 4 * SECOND + MINUTE, 1)],
    });
  });

  it('answers locked without appending while locked', () => {
    expect(
      decideChangePassword(change(T + 10 * SECOND, true), stateOf([...activeUser, ...lockedAt(T)])),
    ).toStrictEqual({
      outcome: 'locked',
      events: [],
    });
  });

  it('refuses a session that an earlier logout-all ended', () => {
    spec
      .given([...activeUser, { type: 'AllSessionsEnded', data: { at: iso(T), reason: 'logout_all' } }])
      .when(change(T + MINUTE, true))
      .thenThrows('session-ended');
  });

  it('lets the survivor of an earlier change change again', () => {
    spec
      .given([...activeUser, passwordChanged(T)])
      .when(change(T + HOUR, true))
      .then([passwordChanged(T + HOUR)]);
  });

  it('gives the same events through the decider', () => {
    spec
      .given(activeUser)
      .when(change(T, false))
      .then([loginFailed(T, 1)]);
  });

  it('voids an outstanding reset token', () => {
    spec
      .given([...activeUser, resetRequested('rt-1', 'rh-1', T), passwordChanged(T + MINUTE)])
      .when(reset(T + 2 * MINUTE))
      .thenThrows('invalid-or-expired-token');
  });

  it('refuses a missing, erased or deactivated account', () => {
    spec.given([]).when(change(T, true)).thenThrows('user-not-found');
    spec.given(erasedUser).when(change(T, true)).thenThrows('user-erased');
    spec.given(deactivatedUser).when(change(T, true)).thenThrows('user-deactivated');
  });
});

describe('RequestPasswordReset', () => {
  it('issues a reset token', () => {
    spec
      .given(activeUser)
      .when(requestReset(T))
      .then([resetRequested('rt-1', 'rh-1', T)]);
  });

  it('issues nothing within 60 s of the previous request', () => {
    spec
      .given([...activeUser, resetRequested('rt-1', 'rh-1', T)])
      .when(requestReset(T + 59 * SECOND, 'rt-2', 'rh-2'))
      .thenNothing();
  });

  it('keeps the throttle after the previous token was used', () => {
    spec
      .given([...activeUser, resetRequested('rt-1', 'rh-1', T), resetCompleted(T + 10 * SECOND)])
      .when(requestReset(T + 30 * SECOND, 'rt-2', 'rh-2'))
      .thenNothing();
  });

  it('issues a newer token after 60 s', () => {
    spec
      .given([...activeUser, resetRequested('rt-1', 'rh-1', T)])
      .when(requestReset(T + 60 * SECOND, 'rt-2', 'rh-2'))
      .then([resetRequested('rt-2', 'rh-2', T + 60 * SECOND)]);
  });

  it('serves a locked account, which a reset unlocks', () => {
    spec
      .given([...activeUser, ...lockedAt(T)])
      .when(requestReset(T + 10 * SECOND))
      .then([resetRequested('rt-1', 'rh-1', T + 10 * SECOND)]);
  });

  it('serves an account pending verification', () => {
    spec
      .given(pendingUser)
      .when(requestReset(T))
      .then([resetRequested('rt-1', 'rh-1', T)]);
  });

  it('refuses a missing, erased or deactivated account', () => {
    spec.given([]).when(requestReset(T)).thenThrows('user-not-found');
    spec.given(erasedUser).when(requestReset(T)).thenThrows('user-erased');
    spec.given(deactivatedUser).when(requestReset(T)).thenThrows('user-deactivated');
  });
});

describe('ResetPassword', () => {
  const requested = [...activeUser, resetRequested('rt-1', 'rh-1', T)];

  it('sets the new password with the outstanding token', () => {
    spec
      .given(requested)
      .when(reset(T + MINUTE))
      .then([resetCompleted(T + MINUTE)]);
  });

  it('is single use', () => {
    spec
      .given([...requested, resetCompleted(T + MINUTE)])
      .when(reset(T + 2 * MINUTE))
      .thenThrows('invalid-or-expired-token');
  });

  it('refuses the token at its expiry and accepts it just before', () => {
    spec
      .given(requested)
      .when(reset(T + RESET_TTL))
      .thenThrows('invalid-or-expired-token');
    spec
      .given(requested)
      .when(reset(T + RESET_TTL - 1))
      .then([resetCompleted(T + RESET_TTL - 1)]);
  });

  it('refuses a token superseded by a newer request, and accepts the newer one', () => {
    const superseded = [...requested, resetRequested('rt-2', 'rh-2', T + 2 * MINUTE)];
    spec
      .given(superseded)
      .when(reset(T + 3 * MINUTE, 'rh-1'))
      .thenThrows('invalid-or-expired-token');
    spec
      .given(superseded)
      .when(reset(T + 3 * MINUTE, 'rh-2'))
      .then([resetCompleted(T + 3 * MINUTE, 'rt-2')]);
  });

  it('refuses an unknown token, and any token when none was requested', () => {
    spec
      .given(requested)
      .when(reset(T + MINUTE, 'rh-x'))
      .thenThrows('invalid-or-expired-token');
    spec
      .given(activeUser)
      .when(reset(T + MINUTE))
      .thenThrows('invalid-or-expired-token');
  });

  it('unlocks a locked account', () => {
    spec
      .given([...activeUser, ...lockedAt(T), resetRequested('rt-1', 'rh-1', T + 10 * SECOND)])
      .when(reset(T + 20 * SECOND))
      .then([
        resetCompleted(T + 20 * SECOND),
        { type: 'AccountUnlocked', data: { at: iso(T + 20 * SECOND), by: 'password_reset' } },
      ]);
  });

  it('clears failures and the lock level, so login is possible at once and the next lock is short', () => {
    const afterReset = [
      ...activeUser,
      ...lockedAt(T),
      resetRequested('rt-1', 'rh-1', T + 10 * SECOND),
      resetCompleted(T + 20 * SECOND),
    ];
    expect(stateOf(afterReset)).toMatchObject({
      lockout: { consecutiveFailures: 0, level: 0, lockedUntil: null },
    });
    expect(canAttemptLogin(stateOf(afterReset), at(T + 21 * SECOND))).toBe(true);
    expect(checkPassword(checkPasswordCommand(T + 21 * SECOND, false), stateOf(afterReset))).toStrictEqual({
      outcome: 'invalid_credentials',
      events: [loginFailed(T + 21 * SECOND, 1, ATTEMPT_ID)],
    });
  });

  it('clears failures below the threshold without an unlock event', () => {
    const given = spec
      .given([...activeUser, ...failures(2, T), resetRequested('rt-1', 'rh-1', T + 10 * SECOND)])
      .when(reset(T + 20 * SECOND));
    given.then([resetCompleted(T + 20 * SECOND)]);
    expect(given.thenState()).toMatchObject({ lockout: { consecutiveFailures: 0, level: 0 } });
  });

  it('answers like a bad token for a missing or erased account', () => {
    spec.given([]).when(reset(T)).thenThrows('invalid-or-expired-token');
    spec.given(erasedUser).when(reset(T)).thenThrows('invalid-or-expired-token');
  });

  it('refuses a deactivated account', () => {
    spec
      .given([...requested, { type: 'UserDeactivated', data: { at: iso(T + 10 * SECOND) } }])
      .when(reset(T + MINUTE))
      .thenThrows('user-deactivated');
  });
});
