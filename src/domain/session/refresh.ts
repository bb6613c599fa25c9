import { addMs, toTimestamp, type Decision } from '../shared/decider';
import { DomainError } from '../shared/errors';
import type { Logout, Refresh } from './commands';
import type { SessionEvent } from './events';
import { isSessionOpen } from './liveness';
import { recordedTokenHash, type SessionState } from './state';

/**
 * `generation`: the token to answer with, derived by the application from the session and the generation:
 * the new one after a rotation, the current one for a tolerated retry of its parent (so every retry gets
 * the SAME successor). `reuse_detected`: answer `invalid-refresh-token`; the events end the session.
 */
export type RefreshOutcome =
  | Readonly<{ kind: 'rotated'; generation: number }>
  | Readonly<{ kind: 'reuse_tolerated'; generation: number }>
  | Readonly<{ kind: 'reuse_detected' }>;

export type RefreshDecision = Decision<RefreshOutcome, SessionEvent>;

const invalidRefreshToken = () => new DomainError('invalid-refresh-token', 'The refresh token is not valid');

/**
 * A token the session never issued, or a session that is unknown, ended or past its lifetimes, is an
 * error with nothing appended. A lapsed session is dead by its own dates, so nothing needs recording; a
 * sweep may still record `SessionEnded(expired)` with EndSession.
 */
export const refreshSession = ({ data }: Refresh, state: SessionState): RefreshDecision => {
  if (state.status !== 'active' || !isSessionOpen(state, data.now)) throw invalidRefreshToken();
  const presented = data.presentedGeneration;
  if (presented > state.generation || recordedTokenHash(state, presented) !== data.presentedHash) {
    throw invalidRefreshToken();
  }
  const at = toTimestamp(data.now);
  if (presented === state.generation) {
    const generation = state.generation + 1;
    const idle =
      data.idleMs !== undefined ? { idleExpiresAt: toTimestamp(addMs(data.now, data.idleMs)) } : {};
    return {
      outcome: { kind: 'rotated', generation },
      events: [
        {
          type: 'RefreshTokenRotated',
          data: { generation, refreshTokenHash: data.successorHash, at, ...idle },
        },
      ],
    };
  }
  const sinceRotation = data.now.getTime() - state.currentIssuedAt.getTime();
  if (presented === state.generation - 1 && sinceRotation <= data.graceMs) {
    return {
      outcome: { kind: 'reuse_tolerated', generation: state.generation },
      events: [{ type: 'RefreshTokenReuseTolerated', data: { generation: presented, at } }],
    };
  }
  // Someone holds a token that was rotated away: the thief or the victim, no telling which; end the family.
  return {
    outcome: { kind: 'reuse_detected' },
    events: [
      { type: 'RefreshTokenReuseDetected', data: { generation: presented, at } },
      { type: 'SessionEnded', data: { reason: 'refresh_token_reuse', at } },
    ],
  };
};

/**
 * Any token the session issued may end it, also a rotated one (ending is the safe direction); a forged one
 * may not, since session ids are no secret (they travel in access tokens).
 */
export const logout = ({ data }: Logout, state: SessionState): SessionEvent[] => {
  if (state.status === 'none') throw invalidRefreshToken();
  if (recordedTokenHash(state, data.presentedGeneration) !== data.presentedHash) throw invalidRefreshToken();
  if (state.status === 'ended') return [];
  return [{ type: 'SessionEnded', data: { reason: 'logout', at: toTimestamp(data.now) } }];
};
