import { isSessionAlive } from '../user/sessions';
import type { UserState } from '../user/state';
import type { SessionState } from './state';

/** The session stream's half: not ended, and its idle and absolute lifetimes hold at `now`. */
export const isSessionOpen = (session: SessionState, now: Date): boolean =>
  session.status === 'active' &&
  now.getTime() < session.absoluteExpiresAt.getTime() &&
  (session.idleExpiresAt === null || now.getTime() < session.idleExpiresAt.getTime());

/**
 * docs/design.md, "Sessions", whole: the session is open, belongs to this user, and the user stream has
 * not ended it (cut-off, deactivation, erasure). What an access token check on this service asks.
 */
export const isSessionUsable = (session: SessionState, user: UserState, now: Date): boolean =>
  session.status === 'active' &&
  isSessionOpen(session, now) &&
  user.status !== 'initial' &&
  user.userId === session.userId &&
  isSessionAlive(user, {
    sessionId: session.sessionId,
    startedAtUserRevision: session.startedAtUserRevision,
  });
