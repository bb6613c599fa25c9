import type { Refresh, SessionCommand, StartSession } from '../../../src/domain/session/commands';
import { sessionDecider } from '../../../src/domain/session/decider';
import type { SessionEvent } from '../../../src/domain/session/events';
import { isSessionOpen, isSessionUsable } from '../../../src/domain/session/liveness';
import { refreshSession } from '../../../src/domain/session/refresh';
import { fold } from '../../../src/domain/shared/decider';
import { deciderSpec } from '../../support/decider-spec';
import { activeUser, at, deactivatedUser, HOUR, iso, SECOND, stateOf, USER_ID } from './user-fixtures';

const spec = deciderSpec(sessionDecider);
const SESSION_ID = '0d2b8f3e-7c61-4a4f-9e83-3f5a1b2c4d5e';
const IDLE = 30 * 24 * HOUR;
const ABSOLUTE = 90 * 24 * HOUR;
const GRACE = 10 * SECOND;

const start = (overrides: Partial<StartSession['data']> = {}): StartSession => ({
  type: 'StartSession',
  data: {
    sessionId: SESSION_ID,
    userId: USER_ID,
    startedAtUserRevision: 2,
    refreshTokenHash: 'h0',
    nonce: 'nonce-1',
    idleMs: IDLE,
    absoluteMs: ABSOLUTE,
    userAgent: 'pii:v1:iv.ua.tag',
    ip: 'pii:v1:iv.ip.tag',
    now: at(0),
    ...overrides,
  },
});

const started: SessionEvent = {
  type: 'SessionStarted',
  data: {
    sessionId: SESSION_ID,
    userId: USER_ID,
    startedAtUserRevision: 2,
    refreshTokenHash: 'h0',
    nonce: 'nonce-1',
    startedAt: iso(0),
    idleExpiresAt: iso(IDLE),
    absoluteExpiresAt: iso(ABSOLUTE),
    userAgent: 'pii:v1:iv.ua.tag',
    ip: 'pii:v1:iv.ip.tag',
  },
};

const rotated = (generation: number, atMs: number, idleMs: number | null = IDLE): SessionEvent => ({
  type: 'RefreshTokenRotated',
  data: {
    generation,
    refreshTokenHash: `h${generation}`,
    at: iso(atMs),
    ...(idleMs !== null ? { idleExpiresAt: iso(atMs + idleMs) } : {}),
  },
});

const refresh = (
  presentedGeneration: number,
  nowMs: number,
  overrides: Partial<Refresh['data']> = {},
): Refresh => ({
  type: 'Refresh',
  data: {
    presentedGeneration,
    presentedHash: `h${presentedGeneration}`,
    successorHash: 'h-next',
    graceMs: GRACE,
    idleMs: IDLE,
    now: at(nowMs),
    ...overrides,
  },
});

const ended = (
  reason: Extract<SessionEvent, { type: 'SessionEnded' }>['data']['reason'],
  atMs: number,
): SessionEvent => ({
  type: 'SessionEnded',
  data: { reason, at: iso(atMs) },
});

const logout = (
  presentedGeneration: number,
  nowMs: number,
  presentedHash = `h${presentedGeneration}`,
): SessionCommand => ({
  type: 'Logout',
  data: { presentedGeneration, presentedHash, now: at(nowMs) },
});

const endSession = (nowMs: number): SessionCommand => ({
  type: 'EndSession',
  data: { reason: 'revoked_by_user', now: at(nowMs) },
});

/** Current generation 2, issued at 2 h; generation 1 issued at 1 h. */
const twiceRotated = [started, rotated(1, HOUR), rotated(2, 2 * HOUR)];
const decideRefresh = (history: SessionEvent[], command: Refresh) =>
  refreshSession(command, fold(sessionDecider, history));

describe('StartSession', () => {
  it('starts a session with its first refresh token and its lifetimes', () => {
    spec.given([]).when(start()).then([started]);
  });

  it('records no idle deadline, user agent or address when none is given', () => {
    spec
      .given([])
      .when(start({ idleMs: undefined, userAgent: undefined, ip: undefined }))
      .then([
        {
          type: 'SessionStarted',
          data: {
            sessionId: SESSION_ID,
            userId: USER_ID,
            startedAtUserRevision: 2,
            refreshTokenHash: 'h0',
            nonce: 'nonce-1',
            startedAt: iso(0),
            absoluteExpiresAt: iso(ABSOLUTE),
          },
        },
      ]);
  });

  it('does nothing when the same start is repeated', () => {
    spec.given([started]).when(start()).thenNothing();
  });

  it('refuses another start under the same id', () => {
    spec
      .given([started])
      .when(start({ refreshTokenHash: 'other' }))
      .thenThrows('conflict');
  });
});

describe('Refresh', () => {
  it('rotates the current token to the next generation and moves the idle deadline', () => {
    expect(decideRefresh([started], refresh(0, HOUR))).toStrictEqual({
      outcome: { kind: 'rotated', generation: 1 },
      events: [
        {
          type: 'RefreshTokenRotated',
          data: { generation: 1, refreshTokenHash: 'h-next', at: iso(HOUR), idleExpiresAt: iso(HOUR + IDLE) },
        },
      ],
    });
  });

  it('records no idle deadline when the idle lifetime is off', () => {
    spec
      .given([started])
      .when(refresh(0, HOUR, { idleMs: undefined }))
      .then([
        { type: 'RefreshTokenRotated', data: { generation: 1, refreshTokenHash: 'h-next', at: iso(HOUR) } },
      ]);
  });

  it('rotates again from the newest generation', () => {
    spec
      .given(twiceRotated)
      .when(refresh(2, 3 * HOUR))
      .then([
        {
          type: 'RefreshTokenRotated',
          data: {
            generation: 3,
            refreshTokenHash: 'h-next',
            at: iso(3 * HOUR),
            idleExpiresAt: iso(3 * HOUR + IDLE),
          },
        },
      ]);
  });

  describe('the immediate parent presented again', () => {
    it('is tolerated inside the grace window and answered with the current generation', () => {
      expect(decideRefresh(twiceRotated, refresh(1, 2 * HOUR + 5 * SECOND))).toStrictEqual({
        outcome: { kind: 'reuse_tolerated', generation: 2 },
        events: [
          { type: 'RefreshTokenReuseTolerated', data: { generation: 1, at: iso(2 * HOUR + 5 * SECOND) } },
        ],
      });
    });

    it('is tolerated at the very end of the window, and every time', () => {
      const retried = [
        ...twiceRotated,
        { type: 'RefreshTokenReuseTolerated', data: { generation: 1, at: iso(2 * HOUR + SECOND) } } as const,
      ];
      expect(decideRefresh(retried, refresh(1, 2 * HOUR + GRACE)).outcome).toStrictEqual({
        kind: 'reuse_tolerated',
        generation: 2,
      });
    });

    it('is reuse after the window: the session ends', () => {
      const now = 2 * HOUR + GRACE + 1;
      expect(decideRefresh(twiceRotated, refresh(1, now))).toStrictEqual({
        outcome: { kind: 'reuse_detected' },
        events: [
          { type: 'RefreshTokenReuseDetected', data: { generation: 1, at: iso(now) } },
          ended('refresh_token_reuse', now),
        ],
      });
    });
  });

  it('treats any older generation as reuse, even inside the window', () => {
    const now = 2 * HOUR + SECOND;
    spec
      .given(twiceRotated)
      .when(refresh(0, now))
      .then([
        { type: 'RefreshTokenReuseDetected', data: { generation: 0, at: iso(now) } },
        ended('refresh_token_reuse', now),
      ]);
  });

  it('refuses every token once reuse ended the session', () => {
    const revoked = [
      ...twiceRotated,
      { type: 'RefreshTokenReuseDetected', data: { generation: 0, at: iso(3 * HOUR) } } as const,
      ended('refresh_token_reuse', 3 * HOUR),
    ];
    spec
      .given(revoked)
      .when(refresh(2, 3 * HOUR + SECOND))
      .thenThrows('invalid-refresh-token');
  });

  it('refuses a generation the session never issued', () => {
    spec
      .given(twiceRotated)
      .when(refresh(3, 3 * HOUR, { presentedHash: 'h3' }))
      .thenThrows('invalid-refresh-token');
  });

  it('refuses a current-generation token whose hash does not match', () => {
    spec
      .given(twiceRotated)
      .when(refresh(2, 3 * HOUR, { presentedHash: 'forged' }))
      .thenThrows('invalid-refresh-token');
  });

  it('refuses a forged older token instead of revoking the session with it', () => {
    spec
      .given(twiceRotated)
      .when(refresh(0, 3 * HOUR, { presentedHash: 'forged' }))
      .thenThrows('invalid-refresh-token');
    spec
      .given(twiceRotated)
      .when(refresh(-1, 3 * HOUR, { presentedHash: 'h-1' }))
      .thenThrows('invalid-refresh-token');
  });

  it('refuses an unknown or ended session', () => {
    spec.given([]).when(refresh(0, HOUR)).thenThrows('invalid-refresh-token');
    spec
      .given([started, ended('logout', HOUR)])
      .when(refresh(0, 2 * HOUR))
      .thenThrows('invalid-refresh-token');
  });

  it('refuses a session past its absolute lifetime, appending nothing', () => {
    const fresh = [started, rotated(1, ABSOLUTE - HOUR)];
    spec
      .given(fresh)
      .when(refresh(1, ABSOLUTE - 1))
      .then([
        {
          type: 'RefreshTokenRotated',
          data: {
            generation: 2,
            refreshTokenHash: 'h-next',
            at: iso(ABSOLUTE - 1),
            idleExpiresAt: iso(ABSOLUTE - 1 + IDLE),
          },
        },
      ]);
    spec.given(fresh).when(refresh(1, ABSOLUTE)).thenThrows('invalid-refresh-token');
  });

  it('refuses a session idle too long, and rotation keeps it from idling out', () => {
    spec.given([started]).when(refresh(0, IDLE)).thenThrows('invalid-refresh-token');
    spec
      .given([started, rotated(1, IDLE - HOUR)])
      .when(refresh(1, IDLE + HOUR))
      .then([
        {
          type: 'RefreshTokenRotated',
          data: {
            generation: 2,
            refreshTokenHash: 'h-next',
            at: iso(IDLE + HOUR),
            idleExpiresAt: iso(2 * IDLE + HOUR),
          },
        },
      ]);
  });

  it('gives the same events through the decider', () => {
    spec
      .given(twiceRotated)
      .when(refresh(1, 2 * HOUR + SECOND))
      .then([{ type: 'RefreshTokenReuseTolerated', data: { generation: 1, at: iso(2 * HOUR + SECOND) } }]);
  });
});

describe('Logout', () => {
  it('ends the session with its current token', () => {
    spec
      .given(twiceRotated)
      .when(logout(2, 3 * HOUR))
      .then([ended('logout', 3 * HOUR)]);
  });

  it('ends the session with a rotated token it issued', () => {
    spec
      .given(twiceRotated)
      .when(logout(0, 3 * HOUR))
      .then([ended('logout', 3 * HOUR)]);
  });

  it('refuses a forged token or a generation never issued', () => {
    spec
      .given(twiceRotated)
      .when(logout(2, 3 * HOUR, 'forged'))
      .thenThrows('invalid-refresh-token');
    spec
      .given(twiceRotated)
      .when(logout(3, 3 * HOUR))
      .thenThrows('invalid-refresh-token');
  });

  it('does nothing for an ended session', () => {
    spec
      .given([...twiceRotated, ended('logout', 3 * HOUR)])
      .when(logout(2, 4 * HOUR))
      .thenNothing();
  });

  it('refuses an unknown session', () => {
    spec.given([]).when(logout(0, HOUR)).thenThrows('invalid-refresh-token');
  });
});

describe('EndSession', () => {
  it('ends an active session with the given reason', () => {
    spec
      .given([started])
      .when(endSession(HOUR))
      .then([ended('revoked_by_user', HOUR)]);
  });

  it('does nothing for an ended session', () => {
    spec
      .given([started, ended('logout', HOUR)])
      .when(endSession(2 * HOUR))
      .thenNothing();
  });

  it('refuses an unknown session', () => {
    spec.given([]).when(endSession(HOUR)).thenThrows('session-not-found');
  });
});

describe('the session state', () => {
  it('tracks generation, hashes, last use and revision', () => {
    const state = fold(sessionDecider, [
      ...twiceRotated,
      { type: 'RefreshTokenReuseTolerated', data: { generation: 1, at: iso(2 * HOUR + SECOND) } },
    ]);
    expect(state).toMatchObject({
      status: 'active',
      revision: 3,
      generation: 2,
      refreshTokenHashes: ['h0', 'h1', 'h2'],
      currentIssuedAt: at(2 * HOUR),
      lastUsedAt: at(2 * HOUR + SECOND),
      idleExpiresAt: at(2 * HOUR + IDLE),
    });
  });

  it('records why and when it ended', () => {
    expect(fold(sessionDecider, [started, ended('password_changed', HOUR)])).toMatchObject({
      status: 'ended',
      endedAt: at(HOUR),
      endReason: 'password_changed',
    });
  });
});

describe('isSessionOpen', () => {
  const session = fold(sessionDecider, [started]);

  it('holds within both lifetimes', () => {
    expect(isSessionOpen(session, at(HOUR))).toBe(true);
  });

  it('ends at the idle deadline and at the absolute deadline', () => {
    expect(isSessionOpen(session, at(IDLE))).toBe(false);
    const noIdle = fold(sessionDecider, [
      { ...started, data: { ...started.data, idleExpiresAt: undefined } } as SessionEvent,
    ]);
    expect(isSessionOpen(noIdle, at(ABSOLUTE - 1))).toBe(true);
    expect(isSessionOpen(noIdle, at(ABSOLUTE))).toBe(false);
  });

  it('is closed for an ended or unknown session', () => {
    expect(isSessionOpen(fold(sessionDecider, [started, ended('logout', HOUR)]), at(2 * HOUR))).toBe(false);
    expect(isSessionOpen(fold(sessionDecider, []), at(HOUR))).toBe(false);
  });
});

describe('isSessionUsable', () => {
  const session = fold(sessionDecider, [started]);

  it('holds for an open session of an active user that nothing cut off', () => {
    expect(isSessionUsable(session, stateOf(activeUser), at(HOUR))).toBe(true);
  });

  it('fails when the user stream ended it', () => {
    const loggedOutAll = stateOf([
      ...activeUser,
      { type: 'AllSessionsEnded', data: { at: iso(HOUR), reason: 'logout_all' } },
    ]);
    expect(isSessionUsable(session, loggedOutAll, at(2 * HOUR))).toBe(false);
    expect(isSessionUsable(session, stateOf(deactivatedUser), at(2 * HOUR))).toBe(false);
  });

  it('fails for a session of another user', () => {
    const other = fold(sessionDecider, [
      { ...started, data: { ...started.data, userId: 'someone-else' } } as SessionEvent,
    ]);
    expect(isSessionUsable(other, stateOf(activeUser), at(HOUR))).toBe(false);
  });

  it('fails once the session is closed', () => {
    expect(isSessionUsable(session, stateOf(activeUser), at(IDLE))).toBe(false);
  });
});
