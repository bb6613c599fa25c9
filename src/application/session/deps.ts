import { DomainError } from '../../domain/shared/errors';
import type { EventStore } from '../event-store';
import type {
  AccessTokens,
  Clock,
  EmailKeys,
  Ids,
  PasswordHasher,
  PersonalDataVault,
  RefreshTokens,
} from '../ports';

/** Session lifetimes and the refresh grace window (docs/design.md, "Sessions and refresh tokens"). */
export type SessionSettings = {
  requireVerifiedEmail: boolean;
  idleMs: number;
  absoluteMs: number;
  graceMs: number;
};

export type SessionDeps = {
  store: EventStore;
  clock: Clock;
  ids: Ids;
  hasher: PasswordHasher;
  vault: PersonalDataVault;
  emailKeys: EmailKeys;
  refreshTokens: RefreshTokens;
  accessTokens: AccessTokens;
  sessions: SessionSettings;
};

/** What login and refresh hand to the client (RFC 6749 §5.1); never stored, never logged. */
export type IssuedTokens = {
  userId: string;
  sessionId: string;
  accessToken: string;
  expiresIn: number;
  refreshToken: string;
};

/** Signs the access token; called only after the append that made the session or rotation durable. */
export const issueTokens = async (
  deps: Pick<SessionDeps, 'accessTokens'>,
  grant: { userId: string; sessionId: string; roles: readonly string[]; refreshToken: string },
): Promise<IssuedTokens> => {
  const access = await deps.accessTokens.sign({
    sub: grant.userId,
    sid: grant.sessionId,
    roles: grant.roles,
  });
  return {
    userId: grant.userId,
    sessionId: grant.sessionId,
    accessToken: access.token,
    expiresIn: access.expiresIn,
    refreshToken: grant.refreshToken,
  };
};

/** One answer for every refused refresh token, whatever the reason (CONTRACT.md `invalid-refresh-token`). */
export const invalidRefreshToken = (): DomainError =>
  new DomainError('invalid-refresh-token', 'The refresh token is not valid');
