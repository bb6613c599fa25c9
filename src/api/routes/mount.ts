import type { Request, RequestHandler, Response } from 'express';
import { WeakPasswordError } from '../../application/user/deps';
import { noStore, perIpLimit, weakPasswordProblem } from '../account-http';
import { authenticate, authOf, requireRole, type AuthDeps } from '../authenticate';
import { parseBody, type BodyKind } from '../body';
import { idempotency } from '../idempotency';
import { FORM_TYPE, JSON_TYPE, type IdempotencyKind, type RouteDef, type RouteSpec } from './route';
import { createRouteTable, type RouteTable } from './table';
import type { ApiDeps } from '../deps';

/** What the middleware of the flags needs; an area without rate limits or keys passes only `AuthDeps`. */
export type Plumbing = Partial<
  AuthDeps & Pick<ApiDeps, 'rateLimiter' | 'http' | 'sql' | 'idempotencyKey' | 'logger'>
>;

const BODY_KINDS: Record<string, BodyKind> = { [JSON_TYPE]: 'json', [FORM_TYPE]: 'form' };

const need = <T>(value: T | undefined, spec: RouteSpec, what: string): T => {
  if (value === undefined) throw new Error(`${spec.method} ${spec.path}: mounted without ${what}`);
  return value;
};

/** A policy refusal becomes its problem; everything else goes on to the error table (errors.ts). */
const guarded =
  (handler: RequestHandler): RequestHandler =>
  async (req, res, next) => {
    try {
      await handler(req, res, next);
    } catch (e) {
      next(e instanceof WeakPasswordError ? weakPasswordProblem(e) : e);
    }
  };

/**
 * Mounts route definitions on a table of their own. The chain follows from each definition's flags, in one
 * order for every route: no-store, the per-IP limit, the bearer token, the role, the body (415 for another
 * media type, 413 over 16 KiB), the `Idempotency-Key`, then the handler (which parses with the strict schema).
 */
export const mountRoutes = <D>(defs: readonly RouteDef<D>[], deps: D, plumbing: Plumbing): RouteTable => {
  const table = createRouteTable();
  let bearer: RequestHandler | undefined;
  const keyed = new Map<string, RequestHandler>();

  const authentication = (spec: RouteSpec): RequestHandler => {
    const { accessTokens, store, clock } = plumbing;
    bearer ??= authenticate({
      accessTokens: need(accessTokens, spec, 'access tokens'),
      store: need(store, spec, 'a store'),
      clock: need(clock, spec, 'a clock'),
    });
    return bearer;
  };

  const idempotencyOf = (spec: RouteSpec, kind: IdempotencyKind): RequestHandler => {
    const id = `${kind}:${spec.bearer ? 'caller' : 'anonymous'}`;
    const existing = keyed.get(id);
    if (existing) return existing;
    const made = idempotency(need(plumbing.sql, spec, 'SQL'), {
      storeBody: kind === 'replay',
      hashKey: need(plumbing.idempotencyKey, spec, 'the idempotency key'),
      logger: plumbing.logger,
      ...(spec.bearer ? { subject: (_req: Request, res: Response) => authOf(res).userId } : {}),
    });
    keyed.set(id, made);
    return made;
  };

  for (const def of defs) {
    const chain: RequestHandler[] = [];
    if (def.noStore) chain.push(noStore);
    if (def.rateLimit) {
      const limits = {
        rateLimiter: need(plumbing.rateLimiter, def, 'a rate limiter'),
        http: need(plumbing.http, def, 'the HTTP settings'),
      };
      chain.push(perIpLimit(limits, def.rateLimit.bucket, limits.http.rateLimits[def.rateLimit.perMinute]));
    }
    if (def.bearer) chain.push(authentication(def));
    if (def.roles) chain.push(requireRole(...def.roles));
    const body = def.request?.body;
    if (body) {
      chain.push(
        parseBody(
          ...Object.keys(body.content).map((type) => need(BODY_KINDS[type], def, `a parser for ${type}`)),
        ),
      );
    }
    if (def.idempotency) chain.push(idempotencyOf(def, def.idempotency));
    chain.push(guarded(def.handler(deps)));
    table.add(def.method, def.path, ...chain);
  }
  return table;
};
