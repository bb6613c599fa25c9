import type { Request, RequestHandler } from 'express';
import type { Actor, CommandContext } from '../application/write/handle';
import type { WeakPasswordReason } from '../application/ports';
import { WeakPasswordError } from '../application/user/deps';
import type { ApiDeps } from './deps';
import { problem } from './problem';
import { rateLimit } from './rate-limit';

/** Shared plumbing of the routes (routes/mount.ts and the account areas). */

/** A caller not (yet) known: the handler names the user once it has found the account or session. */
export const ANONYMOUS: Actor = { type: 'user', id: null };

/**
 * The one way a request becomes a command's context. Correlation and causation are the request id
 * (X-Request-Id), so a request's events can be found; the time is read once, here.
 */
export const requestContext = (
  req: Request,
  deps: Pick<ApiDeps, 'clock'>,
  actor: Actor,
  reason?: string,
): CommandContext => ({
  correlationId: req.id,
  causationId: req.id,
  actor,
  now: deps.clock.now(),
  ...(reason !== undefined ? { reason } : {}),
});

const REASON_TEXT: Record<WeakPasswordReason, string> = {
  'too-short': 'is shorter than the minimum length',
  'too-long': 'is longer than 256 characters',
  common: 'is too common',
  'contains-email': 'contains the email address',
};

/** Why a password was refused, in words (`is too common`); a hosted page shows the same reasons. */
export const weakPasswordReasonText = (reason: WeakPasswordReason): string => REASON_TEXT[reason];

/** 422 `weak-password` listing every reason; the password itself is never echoed. */
export const weakPasswordProblem = (e: WeakPasswordError) =>
  problem('weak-password', 'The password does not meet the password policy', {
    errors: e.reasons.map((reason) => ({ path: e.field, message: REASON_TEXT[reason] })),
  });

/** Per-IP token bucket of one endpoint (CONTRACT.md "General rules"); off with RATE_LIMITS_ENABLED=false. */
export const perIpLimit = (
  deps: Pick<ApiDeps, 'rateLimiter' | 'http'>,
  bucket: string,
  perMinute: number,
): RequestHandler =>
  rateLimit(
    deps.rateLimiter,
    bucket,
    { capacity: perMinute, refillPerMinute: perMinute },
    deps.http.rateLimits.enabled,
  );

/** Answers of `/v1/users/me` and every admin route, errors included, are never stored by a cache. */
export const noStore: RequestHandler = (_req, res, next) => {
  res.setHeader('Cache-Control', 'no-store');
  next();
};

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** A user id from the path, lower-cased as stream ids are; anything else names no resource (404). */
export const userIdParam = (req: Request): string => {
  const id = String(req.params.id ?? '');
  if (!UUID.test(id)) throw problem('not-found', 'No such user');
  return id.toLowerCase();
};
