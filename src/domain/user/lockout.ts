import { addMs, fromTimestamp, toTimestamp } from '../shared/decider';
import type { AccountLocked, LoginFailed } from './events';

/** docs/design.md, "Lockout". */
export const LOCKOUT_THRESHOLD = 5;
export const FIRST_LOCK_MS = 60_000;
export const LONGEST_LOCK_MS = 15 * 60_000;
/**
 * A password check that started this long ago and never recorded its outcome (its process died) no longer
 * holds a place. Far longer than any argon2 verify, even on a saturated machine.
 */
export const ATTEMPT_TIMEOUT_MS = 60_000;

/** A password check in flight: reserved in the stream before argon2 runs, resolved by its outcome. */
export type LoginAttempt = Readonly<{ attemptId: string; startedAt: Date }>;

/**
 * `consecutiveFailures` counts wrong passwords since the last proven one (it keeps counting across locks:
 * every 5th failure locks); `level` counts the locks in that run; `attempts` are the checks in flight.
 */
export type Lockout = Readonly<{
  consecutiveFailures: number;
  level: number;
  lockedUntil: Date | null;
  attempts: readonly LoginAttempt[];
}>;

export const NO_LOCKOUT: Lockout = { consecutiveFailures: 0, level: 0, lockedUntil: null, attempts: [] };

/** 1, 2, 4, 8, then 15 minutes for every further lock: temporary, never permanent. */
export const lockDurationMs = (level: number): number =>
  Math.min(FIRST_LOCK_MS * 2 ** (Math.max(level, 1) - 1), LONGEST_LOCK_MS);

export const isLocked = (lockout: Lockout, now: Date): boolean =>
  lockout.lockedUntil !== null && now.getTime() < lockout.lockedUntil.getTime();

/** Failures or locks that a proven password, a reset or an unlock wipes out. */
export const hasLockoutHistory = (lockout: Lockout): boolean =>
  lockout.consecutiveFailures > 0 || lockout.level > 0;

const isInFlight = (attempt: LoginAttempt, now: Date): boolean =>
  now.getTime() - attempt.startedAt.getTime() < ATTEMPT_TIMEOUT_MS;

export const attemptsInFlight = (lockout: Lockout, now: Date): number =>
  lockout.attempts.filter((a) => isInFlight(a, now)).length;

/**
 * Whether one more password check may start. The guesses left before the next lock are shared between
 * the failures already recorded and the checks still running, so a burst of any size gets at most
 * `LOCKOUT_THRESHOLD` password checks before the lock (CONTRACT.md "Lockout": counted atomically).
 */
export const hasGuessLeft = (lockout: Lockout, now: Date): boolean =>
  !isLocked(lockout, now) &&
  (lockout.consecutiveFailures % LOCKOUT_THRESHOLD) + attemptsInFlight(lockout, now) < LOCKOUT_THRESHOLD;

export const withAttemptStarted = (lockout: Lockout, attemptId: string, at: string): Lockout => {
  const startedAt = fromTimestamp(at);
  return {
    ...lockout,
    attempts: [...lockout.attempts.filter((a) => isInFlight(a, startedAt)), { attemptId, startedAt }],
  };
};

export const withAttemptResolved = (lockout: Lockout, attemptId: string | undefined): Lockout =>
  attemptId === undefined
    ? lockout
    : { ...lockout, attempts: lockout.attempts.filter((a) => a.attemptId !== attemptId) };

/** A proven password: failures and lock levels go, the other checks in flight keep their places. */
export const withFailuresCleared = (lockout: Lockout): Lockout => ({
  ...NO_LOCKOUT,
  attempts: lockout.attempts,
});

export const failedAttempt = (
  lockout: Lockout,
  now: Date,
  attemptId?: string,
): (LoginFailed | AccountLocked)[] => {
  const consecutiveFailures = lockout.consecutiveFailures + 1;
  const failed: LoginFailed = {
    type: 'LoginFailed',
    data: { at: toTimestamp(now), consecutiveFailures, ...(attemptId !== undefined ? { attemptId } : {}) },
  };
  if (consecutiveFailures % LOCKOUT_THRESHOLD !== 0) return [failed];
  const level = lockout.level + 1;
  return [
    failed,
    { type: 'AccountLocked', data: { until: toTimestamp(addMs(now, lockDurationMs(level))), level } },
  ];
};
