import type { RequestHandler } from 'express';
import type { z } from 'zod';
import type { Role } from '../../domain/user/roles';
import type { RateLimitSettings } from '../deps';
import type { ProblemCode } from '../problem';
import type { Method } from './table';

/**
 * One route, defined once: what the OpenAPI document says of it and what express runs for it. The middleware
 * chain (mount.ts) and the problems the document lists for it (openapi/problems.ts) both follow from the
 * same flags: a bearer token brings authentication and 401 `invalid-token`, a body its parser and
 * 400/413/415, an idempotency kind the `Idempotency-Key` middleware and 400/409/422, ...; `problems` lists
 * the ones that are the route's own.
 */

export type Tag =
  'Operations' | 'Discovery' | 'Auth' | 'Sessions' | 'Users' | 'Admin' | 'Events' | 'Documentation';

export type ResponseSpec = {
  description: string;
  /** Media type -> schema of the body; none for a 204. */
  content?: Record<string, z.ZodType>;
  /** Response header -> what it says. */
  headers?: Record<string, string>;
};

/** A code at its table status, or at another one (change-password's 403 `invalid-credentials`). */
export type ProblemSpec = ProblemCode | { code: ProblemCode; status: number };

/** A per-IP token bucket (CONTRACT.md "General rules"): its name and the setting that sizes it. */
export type RateLimitSpec = {
  bucket: string;
  perMinute: keyof Omit<RateLimitSettings, 'enabled'>;
};

/**
 * `Idempotency-Key` support (CONTRACT.md "General rules"). `replay`: a repeat gets the stored answer.
 * `no-replay`: for answers that carry credentials (login, refresh), whose successes are never written to
 * the key table (a repeat of one is 409, see idempotency.ts).
 */
export type IdempotencyKind = 'replay' | 'no-replay';

export type RouteSpec = {
  method: Method;
  /** Express style (`/v1/admin/users/:id`); the document writes `{id}`. */
  path: string;
  summary: string;
  description?: string;
  tag: Tag;
  /** `Cache-Control: no-store` on every answer, errors included, set before anything else runs. */
  noStore?: boolean;
  rateLimit?: RateLimitSpec;
  bearer?: boolean;
  /** Any one of them; 403 `forbidden` otherwise. */
  roles?: readonly Role[];
  /** Mounted after authentication where there is one, so a replay is scoped to the caller. */
  idempotency?: IdempotencyKind;
  /** Reads or writes a backing store: 503 `unavailable` when it is down. */
  store?: boolean;
  request?: {
    params?: z.ZodObject;
    query?: z.ZodObject;
    headers?: z.ZodObject;
    /** Its media types are the ones the body parser accepts (415 for any other). */
    body?: { required: boolean; content: Record<string, z.ZodType> };
    /** Query parameter -> what it means, for the document (the schemas are the routes' own). */
    describe?: Record<string, string>;
  };
  responses: Record<number, ResponseSpec>;
  problems?: ProblemSpec[];
};

/**
 * A route with its handler. `handler` runs once per mounted table, with the area's dependencies, and
 * returns what express calls per request (state such as a uniform-timing floor lives in its closure).
 */
export type RouteDef<D> = RouteSpec & { handler: (deps: D) => RequestHandler };

export const JSON_TYPE = 'application/json';
export const FORM_TYPE = 'application/x-www-form-urlencoded';
export const PROBLEM_TYPE = 'application/problem+json';

export const json = (schema: z.ZodType): Record<string, z.ZodType> => ({ [JSON_TYPE]: schema });

export const jsonBody = (schema: z.ZodType) => ({ required: true, content: json(schema) });

export const NO_STORE = { 'Cache-Control': '`no-store`' };

export const NO_CONTENT: ResponseSpec = { description: 'Done; no body' };

export const ok = (
  description: string,
  schema: z.ZodType,
  headers?: Record<string, string>,
): ResponseSpec => ({
  description,
  content: json(schema),
  ...(headers ? { headers } : {}),
});

export const text = (mediaType: string, description: string, schema: z.ZodType): ResponseSpec => ({
  description,
  content: { [mediaType]: schema },
});
