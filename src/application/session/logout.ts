import { asUser, handle, type CommandContext, type LoadedStream } from '../write/handle';
import type { Position } from '../event-store';
import { recorded } from '../../domain/shared/decider';
import { DomainError } from '../../domain/shared/errors';
import {
  logout as decideLogout,
  sessionDecider,
  sessionStreamId,
  type SessionState,
} from '../../domain/session';
import { userDecider, userStreamId } from '../../domain/user';
import { invalidRefreshToken, type SessionDeps } from './deps';

/**
 * Ends the session the refresh token belongs to. Its access tokens stop at once on this service, because
 * every bearer check folds the session stream (session-check.ts). Any token the session ever issued may
 * end it, a rotated one too (ending is the safe direction); a token it never issued is
 * `invalid-refresh-token`. Ending an ended session again records nothing and succeeds.
 */
export const logout = async (
  deps: Pick<SessionDeps, 'store' | 'refreshTokens'>,
  refreshToken: string,
  ctx: CommandContext,
): Promise<{ position: Position | null }> => {
  const claim = deps.refreshTokens.parse(refreshToken);
  if (!claim) throw invalidRefreshToken();
  const presentedHash = deps.refreshTokens.hash(refreshToken);
  const { now } = ctx;
  const { position } = await handle(
    deps.store,
    sessionDecider,
    sessionStreamId(claim.sessionId),
    ({ state }: LoadedStream<SessionState>) => {
      if (state.status === 'none') throw invalidRefreshToken();
      return recorded(
        decideLogout(
          { type: 'Logout', data: { presentedGeneration: claim.generation, presentedHash, now } },
          state,
        ),
      );
    },
    // The session's own user is the actor; a missing session was refused above.
    ({ state }: LoadedStream<SessionState>) => asUser(ctx, state.status === 'none' ? null : state.userId),
  );
  return { position };
};

/**
 * Ends every session of the user with ONE event in the user stream, a cut-off (docs/design.md,
 * "Sessions"): every session that started before it is dead at once, the caller's included.
 */
export const logoutAll = async (
  deps: Pick<SessionDeps, 'store'>,
  userId: string,
  request: CommandContext,
): Promise<{ position: Position | null }> => {
  const ctx = asUser(request, userId);
  const { position } = await handle(
    deps.store,
    userDecider,
    userStreamId(userId),
    { type: 'EndAllSessions', data: { now: ctx.now } },
    ctx,
  );
  return { position };
};

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Ends one of the caller's own sessions (the session list's "sign out this device"). Another user's
 * session answers exactly like a session that does not exist: ids are not secret (they travel in access
 * tokens), so nothing about others' sessions may be learned or touched through it.
 */
export const endOwnSession = async (
  deps: Pick<SessionDeps, 'store'>,
  userId: string,
  sessionId: string,
  request: CommandContext,
): Promise<{ position: Position | null }> => {
  const notFound = () => new DomainError('session-not-found', 'No such session');
  if (!UUID.test(sessionId)) throw notFound();
  const ctx = asUser(request, userId);
  const { position } = await handle(
    deps.store,
    sessionDecider,
    // Stream ids are lower case, as ids are minted.
    sessionStreamId(sessionId.toLowerCase()),
    ({ state }: LoadedStream<SessionState>) => {
      if (state.status === 'none' || state.userId !== userId) throw notFound();
      return sessionDecider.decide(
        { type: 'EndSession', data: { reason: 'revoked_by_user', now: ctx.now } },
        state,
      );
    },
    ctx,
  );
  return { position };
};
