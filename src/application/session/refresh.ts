import { asUser, handle, loadStream, type CommandContext, type LoadedStream } from '../write/handle';
import {
  isSessionUsable,
  refreshSession,
  sessionDecider,
  sessionStreamId,
  type RefreshOutcome,
  type SessionState,
} from '../../domain/session';
import { isAccount, userDecider, userStreamId, type UserState } from '../../domain/user';
import { invalidRefreshToken, issueTokens, type IssuedTokens, type SessionDeps } from './deps';

/**
 * Refresh-token rotation (docs/design.md, "Sessions and refresh tokens"). The presented token names its
 * session; the session stream decides: rotated (answer the new generation), a retried parent inside the
 * grace window (answer the CURRENT generation, derived, so every retry gets the same string), or reuse
 * (the events end the session; answer `invalid-refresh-token`). Concurrent refreshes of one token race on
 * the session stream's expected revision: one rotates, the others re-read and see a tolerated parent.
 *
 * The user side is checked on every attempt as well: a deactivated user or a session past the user's
 * cut-off gets no token, and nothing is recorded for a session that is dead anyway.
 */
export const refresh = async (
  deps: SessionDeps,
  refreshToken: string,
  ctx: CommandContext,
): Promise<IssuedTokens> => {
  const claim = deps.refreshTokens.parse(refreshToken);
  if (!claim) throw invalidRefreshToken();
  const presentedHash = deps.refreshTokens.hash(refreshToken);
  const { now } = ctx;
  const streamId = sessionStreamId(claim.sessionId);
  let user: UserState | undefined;

  const result = await handle(
    deps.store,
    sessionDecider,
    streamId,
    async ({ state: session }: LoadedStream<SessionState>) => {
      if (session.status === 'none') throw invalidRefreshToken();
      user = (await loadStream(deps.store, userDecider, userStreamId(session.userId))).state;
      if (!isSessionUsable(session, user, now)) throw invalidRefreshToken();
      return refreshSession(
        {
          type: 'Refresh',
          data: {
            presentedGeneration: claim.generation,
            presentedHash,
            successorHash: deps.refreshTokens.derive(session.sessionId, session.generation + 1, session.nonce)
              .tokenHash,
            graceMs: deps.sessions.graceMs,
            idleMs: deps.sessions.idleMs,
            now,
          },
        },
        session,
      );
    },
    ({ state: session }: LoadedStream<SessionState>) =>
      asUser(ctx, session.status === 'none' ? null : session.userId),
    // Every loser of a race of N refreshes re-reads once per winner: allow a burst of parallel retries.
    { attempts: 16 },
  );

  return answer(deps, result.outcome, result.state, user);
};

const answer = async (
  deps: SessionDeps,
  outcome: RefreshOutcome,
  session: SessionState,
  user: UserState | undefined,
): Promise<IssuedTokens> => {
  // Reuse was recorded (the session is now ended); the presenter learns nothing more than "invalid".
  if (outcome.kind === 'reuse_detected') throw invalidRefreshToken();
  if (session.status === 'none' || !user || !isAccount(user)) throw invalidRefreshToken();
  const { token } = deps.refreshTokens.derive(session.sessionId, outcome.generation, session.nonce);
  return issueTokens(deps, {
    userId: session.userId,
    sessionId: session.sessionId,
    roles: user.roles,
    refreshToken: token,
  });
};
