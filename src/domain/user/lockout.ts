import { addMs, toTimestamp } from '../shared/decider';
import type { AccountLocked, LoginFailed } from './events';

/** docs/design.md, "Lockout". */
export const LOCKOUT_THRESHOLD = 5;
export const FIRST_LOCK_MS = 60_000;
export const LONGEST_LOCK_MS = 15 * 60_000;

/**
 * `consecutiveFailures` counts wrong passwords since the last proven one (it keeps counting across locks:
 * every 5th failure locks); `level` counts the locks in that run.
 */
export type Lockout = Readonly<{ consecutiveFailures: number; level: number; lockedUntil: Date | null }>;

export const NO_LOCKOUT: Lockout = { consecutiveFailures: 0, level: 0, lockedUntil: null };

/** 1, 2, 4, 8, then 15 minutes for every further lock: temporary, never permanent. */
export const lockDurationMs = (level: number): number =>
  Math.min(FIRST_LOCK_MS * 2 ** (Math.max(level, 1) - 1), LONGEST_LOCK_MS);

export const isLocked = (lockout: Lockout, now: Date): boolean =>
  lockout.lockedUntil !== null && now.getTime() < lockout.lockedUntil.getTime();

/** Failures or locks that a proven password, a reset or an unlock wipes out. */
export const hasLockoutHistory = (lockout: Lockout): boolean =>
  lockout.consecutiveFailures > 0 || lockout.level > 0;

export const failedAttempt = (lockout: Lockout, now: Date): (LoginFailed | AccountLocked)[] => {
  const consecutiveFailures = lockout.consecutiveFailures + 1;
  const failed: LoginFailed = { type: 'LoginFailed', data: { at: toTimestamp(now), consecutiveFailures } };
  if (consecutiveFailures % LOCKOUT_THRESHOLD !== 0) return [failed];
  const level = lockout.level + 1;
  return [
    failed,
    { type: 'AccountLocked', data: { until: toTimestamp(addMs(now, lockDurationMs(level))), level } },
  ];
};
