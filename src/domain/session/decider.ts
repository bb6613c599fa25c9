import {
  addMs,
  fromTimestamp,
  toTimestamp,
  unknownEvent,
  recorded,
  unreachable,
  type Decider,
  type Decision,
  type Recorded,
} from '../shared/decider';
import { DomainError } from '../shared/errors';
import type { EndSession, SessionCommand, StartSession } from './commands';
import type { SessionEvent } from './events';
import { logout, refreshSession, type RefreshOutcome } from './refresh';
import { initialSessionState, type SessionState } from './state';

export const initialState: SessionState = initialSessionState;

const startSession = ({ data }: StartSession, state: SessionState): SessionEvent[] => {
  if (state.status !== 'none') {
    // The same start retried is done already; anything else reusing the id is a clash.
    if (state.refreshTokenHashes[0] === data.refreshTokenHash && state.userId === data.userId) return [];
    throw new DomainError('conflict', 'The session exists');
  }
  return [
    {
      type: 'SessionStarted',
      data: {
        sessionId: data.sessionId,
        userId: data.userId,
        startedAtUserRevision: data.startedAtUserRevision,
        refreshTokenHash: data.refreshTokenHash,
        nonce: data.nonce,
        startedAt: toTimestamp(data.now),
        ...(data.idleMs !== undefined ? { idleExpiresAt: toTimestamp(addMs(data.now, data.idleMs)) } : {}),
        absoluteExpiresAt: toTimestamp(addMs(data.now, data.absoluteMs)),
        ...(data.userAgent !== undefined ? { userAgent: data.userAgent } : {}),
        ...(data.ip !== undefined ? { ip: data.ip } : {}),
      },
    },
  ];
};

const endSession = ({ data }: EndSession, state: SessionState): SessionEvent[] => {
  switch (state.status) {
    case 'none':
      throw new DomainError('session-not-found', 'No such session');
    case 'ended':
      return [];
    case 'active':
      return [{ type: 'SessionEnded', data: { reason: data.reason, at: toTimestamp(data.now) } }];
    default:
      return unreachable(state);
  }
};

/** Refresh answers with an outcome beside its events (see refresh.ts); the others only what they recorded. */
export type SessionOutcome = Recorded | RefreshOutcome;

export const decide = (
  command: SessionCommand,
  state: SessionState,
): Decision<SessionOutcome, SessionEvent> => {
  switch (command.type) {
    case 'StartSession':
      return recorded(startSession(command, state));
    case 'Refresh':
      return refreshSession(command, state);
    case 'Logout':
      return recorded(logout(command, state));
    case 'EndSession':
      return recorded(endSession(command, state));
    default:
      return unreachable(command);
  }
};

const apply = (state: SessionState, event: SessionEvent, revision: number): SessionState => {
  switch (event.type) {
    case 'SessionStarted': {
      if (state.status !== 'none') return state;
      const { data } = event;
      const startedAt = fromTimestamp(data.startedAt);
      return {
        status: 'active',
        revision,
        sessionId: data.sessionId,
        userId: data.userId,
        startedAtUserRevision: data.startedAtUserRevision,
        nonce: data.nonce,
        startedAt,
        absoluteExpiresAt: fromTimestamp(data.absoluteExpiresAt),
        idleExpiresAt: data.idleExpiresAt !== undefined ? fromTimestamp(data.idleExpiresAt) : null,
        generation: 0,
        refreshTokenHashes: [data.refreshTokenHash],
        currentIssuedAt: startedAt,
        lastUsedAt: startedAt,
        userAgent: data.userAgent ?? null,
        ip: data.ip ?? null,
      };
    }
    case 'RefreshTokenRotated': {
      if (state.status !== 'active') return state;
      const at = fromTimestamp(event.data.at);
      return {
        ...state,
        generation: event.data.generation,
        refreshTokenHashes: [...state.refreshTokenHashes, event.data.refreshTokenHash],
        currentIssuedAt: at,
        lastUsedAt: at,
        idleExpiresAt:
          event.data.idleExpiresAt !== undefined
            ? fromTimestamp(event.data.idleExpiresAt)
            : state.idleExpiresAt,
      };
    }
    case 'RefreshTokenReuseTolerated':
      return state.status === 'active' ? { ...state, lastUsedAt: fromTimestamp(event.data.at) } : state;
    case 'RefreshTokenReuseDetected':
      return state;
    case 'SessionEnded':
      return state.status === 'active'
        ? { ...state, status: 'ended', endedAt: fromTimestamp(event.data.at), endReason: event.data.reason }
        : state;
    default:
      return unknownEvent(event, state);
  }
};

/** Counts revisions like the user decider: `revision` is the stream revision of the last event folded in. */
export const evolve = (state: SessionState, event: SessionEvent): SessionState => {
  const revision = state.revision + 1;
  return { ...apply(state, event, revision), revision };
};

export const sessionDecider: Decider<SessionCommand, SessionEvent, SessionState, SessionOutcome> = {
  initialState,
  evolve,
  decide,
};
