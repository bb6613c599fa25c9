import type { RequestHandler } from 'express';
import type { RateLimitSpec } from '../api/routes/route';
import type { ApiDeps } from '../api/deps';

/**
 * A hosted page, defined once (routes.ts): the pages are not part of the JSON API, so they stay out of
 * the OpenAPI document and out of its problem answers; their failures are pages (http.ts).
 * `rateLimit` names the SAME bucket as the JSON route that does the same thing, so a form and the API
 * share one limit per client. `form`: the POST's body is form-encoded, and a cross-site one is refused.
 */
export type PageDeps = Pick<
  ApiDeps,
  | 'store'
  | 'clock'
  | 'ids'
  | 'hasher'
  | 'policy'
  | 'vault'
  | 'oneTimeTokens'
  | 'emailKeys'
  | 'config'
  | 'templates'
  | 'rateLimiter'
  | 'http'
>;

export type PageDef = {
  method: 'get' | 'post';
  path: string;
  summary: string;
  rateLimit?: RateLimitSpec;
  form?: boolean;
  handler: (deps: PageDeps) => RequestHandler;
};
