import { fold } from '../../../src/domain/shared/decider';
import type { UserCommand } from '../../../src/domain/user/commands';
import { userDecider } from '../../../src/domain/user/decider';
import type { UserEvent } from '../../../src/domain/user/events';
import type { UserState } from '../../../src/domain/user/state';

export const SECOND = 1_000;
export const MINUTE = 60 * SECOND;
export const HOUR = 60 * MINUTE;

export const T0 = new Date('2025-03-01T10:00:00.000Z');
/** `ms` after T0. */
export const at = (ms: number): Date => new Date(T0.getTime() + ms);
export const iso = (ms: number): string => at(ms).toISOString();

export const USER_ID = '6f1c7a52-2d4e-4b43-9c2d-8a3f0e9b1c11';
export const EMAIL = 'pii:v1:iv.email.tag';
export const USERNAME = 'pii:v1:iv.name.tag';
export const HASH_1 = 'pii:v1:iv.hash-1.tag';
export const HASH_2 = 'pii:v1:iv.hash-2.tag';

export const VERIFICATION_TTL = 24 * HOUR;
export const RESET_TTL = 30 * MINUTE;

export const registered = (overrides: { username?: string } = {}): UserEvent => ({
  type: 'UserRegistered',
  data: { userId: USER_ID, email: EMAIL, ...overrides, passwordHash: HASH_1, registeredAt: iso(0) },
});

export const verificationRequested = (
  tokenId = 'vt-1',
  tokenHash = 'vh-1',
  requestedAtMs = 0,
  expiresAtMs = VERIFICATION_TTL,
): UserEvent => ({
  type: 'EmailVerificationRequested',
  data: { tokenId, tokenHash, expiresAt: iso(expiresAtMs), requestedAt: iso(requestedAtMs) },
});

export const emailVerified = (atMs = MINUTE): UserEvent => ({
  type: 'EmailVerified',
  data: { at: iso(atMs) },
});

export const loginFailed = (atMs: number, consecutiveFailures: number, attemptId?: string): UserEvent => ({
  type: 'LoginFailed',
  data: { at: iso(atMs), consecutiveFailures, ...(attemptId !== undefined ? { attemptId } : {}) },
});

export const attemptStarted = (atMs: number, attemptId: string): UserEvent => ({
  type: 'LoginAttemptStarted',
  data: { attemptId, at: iso(atMs) },
});

export const accountLocked = (untilMs: number, level: number): UserEvent => ({
  type: 'AccountLocked',
  data: { until: iso(untilMs), level },
});

export const resetRequested = (tokenId: string, tokenHash: string, requestedAtMs: number): UserEvent => ({
  type: 'PasswordResetRequested',
  data: { tokenId, tokenHash, expiresAt: iso(requestedAtMs + RESET_TTL), requestedAt: iso(requestedAtMs) },
});

export const pendingUser: UserEvent[] = [registered(), verificationRequested()];
export const activeUser: UserEvent[] = [...pendingUser, emailVerified()];
export const deactivatedUser: UserEvent[] = [
  ...activeUser,
  { type: 'UserDeactivated', data: { at: iso(HOUR) } },
];
export const erasedUser: UserEvent[] = [...activeUser, { type: 'UserErased', data: { at: iso(HOUR) } }];

/** `count` wrong passwords a second apart from `fromMs`, their counts starting at `firstCount`. */
export const failures = (count: number, fromMs = 2 * HOUR, firstCount = 1): UserEvent[] =>
  Array.from({ length: count }, (_, i) => loginFailed(fromMs + i * SECOND, firstCount + i));

/** The attempt id `checkPasswordCommand` resolves unless told otherwise. */
export const ATTEMPT_ID = '7d0b1c9e-3f2a-4c55-9a61-0c2e5b8d4f10';

export const stateOf = (events: readonly UserEvent[]): UserState => fold(userDecider, events);

export const checkPasswordCommand = (
  nowMs: number,
  passwordVerified: boolean,
  extra: { rehashedPasswordHash?: string; requireVerification?: boolean; attemptId?: string } = {},
): Extract<UserCommand, { type: 'CheckPassword' }> => ({
  type: 'CheckPassword',
  data: {
    attemptId: extra.attemptId ?? ATTEMPT_ID,
    passwordVerified,
    ...(extra.rehashedPasswordHash !== undefined ? { rehashedPasswordHash: extra.rehashedPasswordHash } : {}),
    requireVerification: extra.requireVerification ?? true,
    now: at(nowMs),
  },
});
