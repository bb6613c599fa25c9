import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { checkAccessToken, type Authenticated } from '../application/session/session-check';
import { InvalidAccessTokenError, type AccessTokens, type Clock } from '../application/ports';
import type { EventStore } from '../application/event-store';
import { problem } from './problem';

/** RFC 6750 §2.1: `Authorization: Bearer <token>`; the scheme is case-insensitive. */
const BEARER = /^Bearer[ ]+([A-Za-z0-9\-._~+/]+=*)$/i;

export type AuthDeps = { accessTokens: AccessTokens; store: EventStore; clock: Clock };

/**
 * Requires a valid access token of a live session. Sets `res.locals.auth`; every failure is the same
 * 401 `invalid-token` with `WWW-Authenticate: Bearer error="invalid_token"`.
 */
export const authenticate =
  (deps: AuthDeps): RequestHandler =>
  async (req: Request, res: Response, next: NextFunction) => {
    const header = req.get('authorization');
    const match = header ? BEARER.exec(header.trim()) : null;
    if (!match?.[1]) return next(problem('invalid-token', 'A valid bearer access token is required'));
    try {
      res.locals.auth = await checkAccessToken(deps, match[1]);
      next();
    } catch (e) {
      if (e instanceof InvalidAccessTokenError) {
        req.log.debug({ reason: e.reason }, 'access token refused');
        return next(problem('invalid-token', 'The access token is invalid, expired or revoked'));
      }
      next(e);
    }
  };

export const authOf = (res: Response): Authenticated => {
  const auth = res.locals.auth as Authenticated | undefined;
  if (!auth) throw new Error('authOf used on a route without authenticate()');
  return auth;
};

/**
 * Requires one of the roles. Roles come from the user stream folded during authentication, not from the
 * token's claim, so a revoked role stops working at once.
 */
export const requireRole =
  (...roles: string[]): RequestHandler =>
  (_req, res, next) => {
    const auth = authOf(res);
    const held = auth.user.status === 'erased' || auth.user.status === 'initial' ? [] : auth.user.roles;
    if (!roles.some((r) => (held as readonly string[]).includes(r))) {
      return next(problem('forbidden', 'This operation needs a role the caller does not hold'));
    }
    next();
  };
