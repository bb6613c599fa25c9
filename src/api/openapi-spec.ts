import type { z } from 'zod';
import type { Role } from '../domain/user/roles';
import type { ProblemCode } from './problem';
import type { Method } from './routes';

/**
 * The shape of one entry of the operation list (openapi-routes.ts). Problems an operation can answer with
 * follow from its flags (`problemsOf` in openapi.ts: a bearer token brings 401 `invalid-token`, a body
 * 400/413/415, an `Idempotency-Key` 400/409/422, ...); `problems` lists the ones that are its own.
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

export type RouteSpec = {
  method: Method;
  /** Express style (`/v1/admin/users/:id`); the document writes `{id}`. */
  path: string;
  summary: string;
  description?: string;
  tag: Tag;
  bearer?: boolean;
  /** Any one of them; 403 `forbidden` otherwise. */
  roles?: readonly Role[];
  /** Accepts `Idempotency-Key` (CONTRACT.md "General rules"). */
  idempotent?: boolean;
  rateLimited?: boolean;
  /** Reads or writes a backing store: 503 `unavailable` when it is down. */
  store?: boolean;
  request?: {
    params?: z.ZodObject;
    query?: z.ZodObject;
    headers?: z.ZodObject;
    body?: { required: boolean; content: Record<string, z.ZodType> };
    /** Query parameter -> what it means, for the document (the schemas are the routes' own). */
    describe?: Record<string, string>;
  };
  responses: Record<number, ResponseSpec>;
  problems?: ProblemSpec[];
};

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
