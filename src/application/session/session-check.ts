import { loadStream, type LoadedStream } from '../write/handle';
import type { AccessTokenClaims, AccessTokens, Clock } from '../ports';
import type { EventStore } from '../event-store';
import { isSessionUsable, sessionDecider, sessionStreamId, type SessionState } from '../../domain/session';
import { userDecider, userStreamId, type UserState } from '../../domain/user';
import { InvalidAccessTokenError } from '../ports';

export type Authenticated = {
  userId: string;
  sessionId: string;
  roles: string[];
  tokenId: string;
  claims: AccessTokenClaims;
  user: UserState;
  /** The user stream as folded for this check: a read of the caller's own profile can reuse it. */
  userStream: LoadedStream<UserState>;
  session: SessionState;
};

/**
 * The access-token check of this service (CONTRACT "Accounts": verification pins the algorithm and checks
 * exp, iss, aud, typ; on this service also that the session is alive and the user active). The session and
 * the user are folded from the WRITE side on every call, never from a projection, so a logout, a
 * logout-all, a password change or a deactivation stops the token at once, on every instance.
 */
export const checkAccessToken = async (
  deps: { accessTokens: AccessTokens; store: EventStore; clock: Clock },
  token: string,
): Promise<Authenticated> => {
  const claims = await deps.accessTokens.verify(token);
  const [session, user] = await Promise.all([
    loadStream(deps.store, sessionDecider, sessionStreamId(claims.sid)),
    loadStream(deps.store, userDecider, userStreamId(claims.sub)),
  ]);
  if (!isSessionUsable(session.state, user.state, deps.clock.now())) {
    throw new InvalidAccessTokenError('session ended or user inactive');
  }
  return {
    userId: claims.sub,
    sessionId: claims.sid,
    roles: claims.roles,
    tokenId: claims.jti,
    claims,
    user: user.state,
    userStream: user,
    session: session.state,
  };
};
