import type { StartLoginAttempt, UnlockUser } from '../../../src/domain/user/commands';
import { userDecider } from '../../../src/domain/user/decider';
import type { UserEvent } from '../../../src/domain/user/events';
import { lockDurationMs } from '../../../src/domain/user/lockout';
import { canAttemptLogin, checkPassword, startLoginAttempt } from '../../../src/domain/user/login';
import { deciderSpec } from '../../support/decider-spec';
import {
  accountLocked,
  activeUser,
  at,
  ATTEMPT_ID,
  attemptStarted,
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
  SECOND,
  stateOf,
  T0,
} from './user-fixtures';

const spec = deciderSpec(userDecider);
const T = 2 * HOUR;
/** Locked at T + 4 s by the 5th failure, for one minute. */
const lockedOnce = [
  ...activeUser,
  ...failures(4, T),
  loginFailed(T + 4 * SECOND, 5),
  accountLocked(T + 4 * SECOND + MINUTE, 1),
];

const succeeded = (atMs: number, attemptId = ATTEMPT_ID): UserEvent => ({
  type: 'LoginSucceeded',
  data: { attemptId, at: iso(atMs) },
});
const refused = (
  atMs: number,
  reason: 'email_not_verified' | 'locked' | 'deactivated',
  attemptId = ATTEMPT_ID,
): UserEvent => ({ type: 'LoginRefused', data: { attemptId, at: iso(atMs), reason } });
const start = (nowMs: number, attemptId: string): StartLoginAttempt => ({
  type: 'StartLoginAttempt',
  data: { attemptId, now: at(nowMs) },
});

const unlock = (nowMs: number): UnlockUser => ({ type: 'UnlockUser', data: { now: at(nowMs) } });

describe('CheckPassword', () => {
  it('lets the right password in and records the success', () => {
    expect(checkPassword(checkPasswordCommand(T, true), stateOf(activeUser))).toStrictEqual({
      outcome: 'ok',
      events: [succeeded(T)],
    });
  });

  it('records the new hash when the stored one needs rehashing', () => {
    expect(
      checkPassword(checkPasswordCommand(T, true, { rehashedPasswordHash: HASH_2 }), stateOf(activeUser)),
    ).toStrictEqual({
      outcome: 'ok',
      events: [succeeded(T), { type: 'PasswordRehashed', data: { passwordHash: HASH_2 } }],
    });
  });

  it('records a wrong password as a failure', () => {
    expect(checkPassword(checkPasswordCommand(T, false), stateOf(activeUser))).toStrictEqual({
      outcome: 'invalid_credentials',
      events: [loginFailed(T, 1, ATTEMPT_ID)],
    });
  });

  it('locks for one minute on the 5th consecutive failure', () => {
    expect(
      checkPassword(checkPasswordCommand(T + 4 * SECOND, false), stateOf([...activeUser, ...failures(4, T)])),
    ).toStrictEqual({
      outcome: 'invalid_credentials',
      events: [loginFailed(T + 4 * SECOND, 5, ATTEMPT_ID), accountLocked(T + 4 * SECOND + MINUTE, 1)],
    });
  });

  it('refuses a right password when the account was locked while it was being checked', () => {
    const state = stateOf(lockedOnce);
    expect(checkPassword(checkPasswordCommand(T + 30 * SECOND, true), state)).toStrictEqual({
      outcome: 'locked',
      events: [refused(T + 30 * SECOND, 'locked')],
    });
    // The wrong one was one of the guesses the policy allowed when its check started: it still counts.
    expect(checkPassword(checkPasswordCommand(T + 30 * SECOND, false), state)).toStrictEqual({
      outcome: 'invalid_credentials',
      events: [loginFailed(T + 30 * SECOND, 6, ATTEMPT_ID)],
    });
  });

  it('clears the failures when the right password follows them', () => {
    expect(
      checkPassword(checkPasswordCommand(T + 10 * SECOND, true), stateOf([...activeUser, ...failures(2, T)])),
    ).toStrictEqual({
      outcome: 'ok',
      events: [succeeded(T + 10 * SECOND)],
    });
  });

  it('clears the lock level when the right password follows an expired lock', () => {
    const after = T + 4 * SECOND + MINUTE;
    const decision = checkPassword(checkPasswordCommand(after, true), stateOf(lockedOnce));
    expect(decision).toStrictEqual({
      outcome: 'ok',
      events: [succeeded(after)],
    });
    expect(stateOf([...lockedOnce, ...decision.events])).toMatchObject({
      lockout: { consecutiveFailures: 0, level: 0, lockedUntil: null },
    });
  });

  it('counts on after an expired lock and locks again only at the 10th failure', () => {
    const after = T + 4 * SECOND + MINUTE;
    expect(checkPassword(checkPasswordCommand(after, false), stateOf(lockedOnce))).toStrictEqual({
      outcome: 'invalid_credentials',
      events: [loginFailed(after, 6, ATTEMPT_ID)],
    });
    const nine = [...lockedOnce, ...failures(4, after, 6)];
    expect(checkPassword(checkPasswordCommand(after + 10 * SECOND, false), stateOf(nine))).toStrictEqual({
      outcome: 'invalid_credentials',
      events: [
        loginFailed(after + 10 * SECOND, 10, ATTEMPT_ID),
        accountLocked(after + 10 * SECOND + 2 * MINUTE, 2),
      ],
    });
  });

  it('locks for 1, 2, 4, 8, 15 and 15 minutes on consecutive locks', () => {
    let history: UserEvent[] = [...activeUser];
    let now = T;
    const locks: { level: number; minutes: number }[] = [];
    for (let attempt = 0; attempt < 30; attempt++) {
      const state = stateOf(history);
      expect(canAttemptLogin(state, at(now))).toBe(true);
      const { events } = checkPassword(checkPasswordCommand(now, false), state);
      history = [...history, ...events];
      const lock = events.find(
        (e): e is Extract<UserEvent, { type: 'AccountLocked' }> => e.type === 'AccountLocked',
      );
      if (!lock) {
        now += SECOND;
        continue;
      }
      const until = Date.parse(lock.data.until);
      locks.push({ level: lock.data.level, minutes: (until - at(now).getTime()) / MINUTE });
      expect(canAttemptLogin(stateOf(history), new Date(until - 1))).toBe(false);
      now = until - T0.getTime();
    }
    expect(locks).toStrictEqual([
      { level: 1, minutes: 1 },
      { level: 2, minutes: 2 },
      { level: 3, minutes: 4 },
      { level: 4, minutes: 8 },
      { level: 5, minutes: 15 },
      { level: 6, minutes: 15 },
    ]);
  });

  it('answers email_not_verified for the right password of a pending account when verification is required', () => {
    expect(checkPassword(checkPasswordCommand(T, true), stateOf(pendingUser))).toStrictEqual({
      outcome: 'email_not_verified',
      events: [refused(T, 'email_not_verified')],
    });
  });

  it('clears the failures of a pending account whose password is proven', () => {
    expect(
      checkPassword(
        checkPasswordCommand(T + 10 * SECOND, true),
        stateOf([...pendingUser, ...failures(2, T)]),
      ),
    ).toStrictEqual({
      outcome: 'email_not_verified',
      events: [refused(T + 10 * SECOND, 'email_not_verified')],
    });
    expect(
      stateOf([...pendingUser, ...failures(2, T), refused(T + 10 * SECOND, 'email_not_verified')]),
    ).toMatchObject({ lockout: { consecutiveFailures: 0, level: 0 } });
  });

  it('lets a pending account in when verification is not required', () => {
    expect(
      checkPassword(checkPasswordCommand(T, true, { requireVerification: false }), stateOf(pendingUser)),
    ).toStrictEqual({
      outcome: 'ok',
      events: [succeeded(T)],
    });
  });

  it('counts a wrong password of a pending account toward the lockout', () => {
    expect(checkPassword(checkPasswordCommand(T, false), stateOf(pendingUser))).toStrictEqual({
      outcome: 'invalid_credentials',
      events: [loginFailed(T, 1, ATTEMPT_ID)],
    });
  });

  it('refuses a right password when the account was deactivated while it was being checked', () => {
    expect(checkPassword(checkPasswordCommand(T, true), stateOf(deactivatedUser))).toStrictEqual({
      outcome: 'deactivated',
      events: [refused(T, 'deactivated')],
    });
  });

  it('gives the same events through the decider, without the outcome', () => {
    spec
      .given([...activeUser, ...failures(4, T)])
      .when(checkPasswordCommand(T + 4 * SECOND, false))
      .then([loginFailed(T + 4 * SECOND, 5, ATTEMPT_ID), accountLocked(T + 4 * SECOND + MINUTE, 1)]);
    spec
      .given(lockedOnce)
      .when(checkPasswordCommand(T + 5 * SECOND, true))
      .then([refused(T + 5 * SECOND, 'locked')]);
  });

  it('refuses a missing or erased account', () => {
    spec.given([]).when(checkPasswordCommand(T, true)).thenThrows('user-not-found');
    spec.given(erasedUser).when(checkPasswordCommand(T, true)).thenThrows('user-erased');
  });
});

describe('StartLoginAttempt', () => {
  it('reserves a password check in the stream', () => {
    expect(startLoginAttempt(start(T, 'a-1'), stateOf(activeUser))).toStrictEqual({
      outcome: 'started',
      events: [attemptStarted(T, 'a-1')],
    });
  });

  it('shares the guesses left before the lock between recorded failures and checks in flight', () => {
    // 3 failures recorded, 2 checks running: the 5 guesses are taken, a 6th check may not start.
    const history = [
      ...activeUser,
      ...failures(3, T),
      attemptStarted(T + 5 * SECOND, 'a-1'),
      attemptStarted(T + 5 * SECOND, 'a-2'),
    ];
    expect(startLoginAttempt(start(T + 6 * SECOND, 'a-3'), stateOf(history))).toStrictEqual({
      outcome: 'locked',
      events: [],
    });
    expect(canAttemptLogin(stateOf(history), at(T + 6 * SECOND))).toBe(false);
    // One of them resolves as a success: the failures are gone, guesses are free again.
    const resolved = [...history, succeeded(T + 7 * SECOND, 'a-1')];
    expect(startLoginAttempt(start(T + 8 * SECOND, 'a-3'), stateOf(resolved)).outcome).toBe('started');
  });

  it('lets at most five checks of a parallel burst start, however many arrive', () => {
    let history: UserEvent[] = [...activeUser];
    let started = 0;
    for (let i = 0; i < 200; i++) {
      const decision = startLoginAttempt(start(T, `a-${i}`), stateOf(history));
      if (decision.outcome === 'started') started += 1;
      history = [...history, ...decision.events];
    }
    expect(started).toBe(5);
  });

  it('frees the place of a check whose outcome never came, after the attempt timeout', () => {
    const history = [...activeUser, ...failures(4, T), attemptStarted(T + 5 * SECOND, 'lost')];
    expect(startLoginAttempt(start(T + 6 * SECOND, 'a-1'), stateOf(history)).outcome).toBe('locked');
    expect(startLoginAttempt(start(T + 5 * SECOND + MINUTE, 'a-1'), stateOf(history)).outcome).toBe(
      'started',
    );
  });

  it('refuses while locked or deactivated, and a missing or erased account', () => {
    expect(startLoginAttempt(start(T + 30 * SECOND, 'a-1'), stateOf(lockedOnce)).outcome).toBe('locked');
    expect(startLoginAttempt(start(T, 'a-1'), stateOf(deactivatedUser)).outcome).toBe('deactivated');
    spec.given([]).when(start(T, 'a-1')).thenThrows('user-not-found');
    spec.given(erasedUser).when(start(T, 'a-1')).thenThrows('user-erased');
  });

  it('an outcome frees the place its attempt held', () => {
    const history = [...activeUser, attemptStarted(T, ATTEMPT_ID)];
    expect(stateOf(history)).toMatchObject({ lockout: { attempts: [{ attemptId: ATTEMPT_ID }] } });
    for (const outcome of [
      succeeded(T + SECOND),
      loginFailed(T + SECOND, 1, ATTEMPT_ID),
      refused(T + SECOND, 'locked'),
    ]) {
      expect(stateOf([...history, outcome])).toMatchObject({ lockout: { attempts: [] } });
    }
  });
});

describe('canAttemptLogin', () => {
  it('lets active and pending accounts try', () => {
    expect(canAttemptLogin(stateOf(activeUser), at(T))).toBe(true);
    expect(canAttemptLogin(stateOf(pendingUser), at(T))).toBe(true);
  });

  it('holds a locked account back until the lock ends, and not a moment longer', () => {
    const until = T + 4 * SECOND + MINUTE;
    expect(canAttemptLogin(stateOf(lockedOnce), at(until - 1))).toBe(false);
    expect(canAttemptLogin(stateOf(lockedOnce), at(until))).toBe(true);
  });

  it('holds back missing, deactivated and erased accounts', () => {
    expect(canAttemptLogin(stateOf([]), at(T))).toBe(false);
    expect(canAttemptLogin(stateOf(deactivatedUser), at(T))).toBe(false);
    expect(canAttemptLogin(stateOf(erasedUser), at(T))).toBe(false);
  });
});

describe('lockDurationMs', () => {
  it('doubles from one minute and stops at fifteen', () => {
    expect([1, 2, 3, 4, 5, 6, 20].map((level) => lockDurationMs(level) / MINUTE)).toStrictEqual([
      1, 2, 4, 8, 15, 15, 15,
    ]);
  });
});

describe('UnlockUser', () => {
  it('unlocks a locked account', () => {
    spec
      .given(lockedOnce)
      .when(unlock(T + 10 * SECOND))
      .then([{ type: 'AccountUnlocked', data: { at: iso(T + 10 * SECOND), by: 'admin' } }]);
  });

  it('resets the lock level, so the next lock is one minute again', () => {
    const unlocked = [
      ...lockedOnce,
      { type: 'AccountUnlocked', data: { at: iso(T + 10 * SECOND), by: 'admin' } } as const,
    ];
    const from = T + MINUTE * 5;
    expect(canAttemptLogin(stateOf(unlocked), at(T + 10 * SECOND))).toBe(true);
    expect(
      checkPassword(
        checkPasswordCommand(from + 4 * SECOND, false),
        stateOf([...unlocked, ...failures(4, from)]),
      ),
    ).toStrictEqual({
      outcome: 'invalid_credentials',
      events: [loginFailed(from + 4 * SECOND, 5, ATTEMPT_ID), accountLocked(from + 4 * SECOND + MINUTE, 1)],
    });
  });

  it('wipes failures below the threshold', () => {
    spec
      .given([...activeUser, ...failures(2, T)])
      .when(unlock(T + MINUTE))
      .then([{ type: 'AccountUnlocked', data: { at: iso(T + MINUTE), by: 'admin' } }]);
  });

  it('does nothing for an account without failures', () => {
    spec.given(activeUser).when(unlock(T)).thenNothing();
  });

  it('unlocks a deactivated account too', () => {
    spec
      .given([...lockedOnce, { type: 'UserDeactivated', data: { at: iso(T + 5 * SECOND) } }])
      .when(unlock(T + 10 * SECOND))
      .then([{ type: 'AccountUnlocked', data: { at: iso(T + 10 * SECOND), by: 'admin' } }]);
  });

  it('refuses a missing or erased account', () => {
    spec.given([]).when(unlock(T)).thenThrows('user-not-found');
    spec.given(erasedUser).when(unlock(T)).thenThrows('user-erased');
  });
});
