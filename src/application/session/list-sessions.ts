import { loadStream } from '../write/handle';
import type { EventStore } from '../event-store';
import type { Clock, PersonalDataVault } from '../ports';
import { isSessionUsable, sessionDecider, sessionStreamId, type SessionState } from '../../domain/session';
import type { Authenticated } from './session-check';

/**
 * The ids of a user's sessions that a read model believes may be alive, newest first. A read model lags
 * and may still list a session that has just ended: every id is checked again on the write side.
 */
export type SessionCandidates = (userId: string) => Promise<string[]>;

export type SessionSummary = {
  id: string;
  createdAt: Date;
  lastUsedAt: Date;
  /** Null when none was sent, or once the user is erased. */
  userAgent: string | null;
  current: boolean;
};

/** How many sessions the list shows at most; a person does not hold more devices than this. */
export const MAX_LISTED_SESSIONS = 100;

/**
 * The caller's live sessions. The user stream deliberately does not list sessions (design.md,
 * "Sessions"), so the candidates come from a read model; whether each is alive is decided on the write
 * side, the same check a bearer token gets, so the list never shows a session that could not be used.
 * The caller's own session is always there, also before the read model has seen it.
 */
export const listSessions = async (
  deps: { store: EventStore; clock: Clock; vault: PersonalDataVault; candidates: SessionCandidates },
  auth: Pick<Authenticated, 'userId' | 'sessionId' | 'user'>,
): Promise<SessionSummary[]> => {
  const now = deps.clock.now();
  const ids = [auth.sessionId, ...(await deps.candidates(auth.userId)).filter((id) => id !== auth.sessionId)];
  const sessions = await Promise.all(
    ids
      .slice(0, MAX_LISTED_SESSIONS)
      .map(async (id) => (await loadStream(deps.store, sessionDecider, sessionStreamId(id))).state),
  );
  const live = sessions.filter((s): s is Live => isSessionUsable(s, auth.user, now));
  const summaries = await Promise.all(
    live.map(async (s) => ({
      id: s.sessionId,
      createdAt: s.startedAt,
      lastUsedAt: s.lastUsedAt,
      userAgent: s.userAgent === null ? null : await deps.vault.open(auth.userId, s.userAgent),
      current: s.sessionId === auth.sessionId,
    })),
  );
  return summaries.sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime());
};

type Live = Extract<SessionState, { status: 'active' }>;
