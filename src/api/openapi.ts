import {
  OpenAPIRegistry,
  OpenApiGeneratorV31,
  type ResponseConfig,
  type RouteConfig,
} from '@asteasolutions/zod-to-openapi';
import { z } from 'zod';
import { ROUTE_SPECS } from './openapi-routes';
import { IdempotencyKeyHeader, ProblemDetails, problemSchema } from './openapi-schemas';
import { PROBLEM_TYPE, type ProblemSpec, type RouteSpec } from './openapi-spec';
import { PROBLEMS, PROBLEM_TYPE_BASE, type ProblemCode } from './problem';
import type { RouteInfo } from './routes';

/**
 * The OpenAPI 3.1 document of the service (`GET /openapi.json`), generated from the operation list
 * (openapi-routes.ts) and the zod schemas the routes validate with.
 */

export type OpenApiDocument = ReturnType<OpenApiGeneratorV31['generateDocument']>;

/** `/v1/admin/users/:id` -> `/v1/admin/users/{id}`. Other express syntax stays as it is, so it shows up. */
export const toOpenApiPath = (path: string): string => path.replace(/:(\w+)/g, '{$1}');

const WHEN: Record<ProblemCode, string> = {
  'malformed-body': 'the body is not valid JSON or form data',
  'validation-failed': 'the body, a query parameter or a header does not match the schema (see `errors`)',
  'invalid-or-expired-token': 'the token is unknown, used, superseded or expired',
  'invalid-credentials': 'the email or password is not correct (any reason before the password is proven)',
  'invalid-token': 'the access token is missing, invalid, expired or revoked',
  'invalid-refresh-token': 'the refresh token is unknown, expired, revoked or reused',
  'email-not-verified': 'the password is correct but the email address is not verified yet',
  forbidden: 'the caller lacks the role',
  'not-found': 'no such resource',
  'method-not-allowed': 'the path exists, the method does not (see `Allow`)',
  conflict:
    'a concurrent modification, a state that forbids the command, or the same `Idempotency-Key` still running',
  'payload-too-large': 'the body is over 16 KiB',
  'unsupported-media-type': 'the body has another content type',
  'weak-password': 'the password fails the policy (see `errors`)',
  'idempotency-key-reused': 'the same `Idempotency-Key` came with a different request',
  'rate-limited': 'too many requests from this address (see `Retry-After`)',
  'internal-error': 'an unexpected failure; the details are in the service log',
  unavailable: 'a backing store is down (see `Retry-After`)',
};

/** Every problem an operation can answer with, by status: its own ones and those its flags bring. */
export const problemsOf = (spec: RouteSpec): Map<number, ProblemCode[]> => {
  const all: ProblemSpec[] = [...(spec.problems ?? [])];
  if (spec.request?.body) {
    all.push('malformed-body', 'validation-failed', 'payload-too-large', 'unsupported-media-type');
  }
  if (spec.request?.query || spec.request?.headers) all.push('validation-failed');
  if (spec.idempotent) all.push('validation-failed', 'conflict', 'idempotency-key-reused');
  if (spec.bearer) all.push('invalid-token');
  if (spec.roles) all.push('forbidden');
  if (spec.rateLimited) all.push('rate-limited');
  if (spec.store || spec.bearer) all.push('unavailable');
  all.push('internal-error');

  const byStatus = new Map<number, ProblemCode[]>();
  for (const p of all) {
    const { code, status } = typeof p === 'string' ? { code: p, status: PROBLEMS[p].status } : p;
    const codes = byStatus.get(status) ?? [];
    if (!codes.includes(code)) codes.push(code);
    byStatus.set(status, codes);
  }
  return new Map([...byStatus].sort(([a], [b]) => a - b));
};

const asCodes = (codes: ProblemCode[]): [ProblemCode, ...ProblemCode[]] => {
  if (codes.length === 0) throw new Error('a problem response needs at least one code');
  return codes as [ProblemCode, ...ProblemCode[]];
};

/** The zod schema of a problem answer of this operation at this status, or undefined if it has none. */
export const problemResponseSchema = (spec: RouteSpec, status: number) => {
  const codes = problemsOf(spec).get(status);
  return codes ? problemSchema(status, asCodes(codes)) : undefined;
};

/** Answers that belong to no operation: an unknown path, and a known path with another method. */
export const UNMATCHED = {
  404: problemSchema(404, ['not-found']).openapi('NotFoundProblem'),
  405: problemSchema(405, ['method-not-allowed']).openapi('MethodNotAllowedProblem'),
} as const;

const HEADER_REF = {
  'WWW-Authenticate': { $ref: '#/components/headers/WWW-Authenticate' },
  'Retry-After': { $ref: '#/components/headers/Retry-After' },
};

// A 409 carries Retry-After when its `Idempotency-Key` is still running (idempotency.ts).
const problemHeaders = (spec: RouteSpec, status: number): Record<string, { $ref: string }> | undefined => {
  if (status === 401) return { 'WWW-Authenticate': HEADER_REF['WWW-Authenticate'] };
  if (status === 429 || status === 503 || (status === 409 && spec.idempotent)) {
    return { 'Retry-After': HEADER_REF['Retry-After'] };
  }
  return undefined;
};

const exampleProblem = (spec: RouteSpec, status: number, code: ProblemCode) => ({
  type: `${PROBLEM_TYPE_BASE}${code}`,
  title: PROBLEMS[code].title,
  status,
  detail: WHEN[code][0]!.toUpperCase() + WHEN[code].slice(1),
  instance: toOpenApiPath(spec.path),
  code,
});

const problemResponse = (spec: RouteSpec, status: number, codes: ProblemCode[]): ResponseConfig => {
  const headers = problemHeaders(spec, status);
  return {
    description: codes.map((c) => `\`${c}\`: ${WHEN[c]}`).join('; '),
    ...(headers ? { headers } : {}),
    content: {
      [PROBLEM_TYPE]: {
        schema: problemResponseSchema(spec, status),
        examples: Object.fromEntries(
          codes.map((code) => [code, { value: exampleProblem(spec, status, code) }]),
        ),
      },
    },
  };
};

const successResponse = (response: RouteSpec['responses'][number]): ResponseConfig => ({
  description: response.description,
  ...(response.headers
    ? {
        headers: Object.fromEntries(
          Object.entries(response.headers).map(([name, description]) => [
            name,
            { description, schema: { type: 'string' } },
          ]),
        ),
      }
    : {}),
  ...(response.content
    ? {
        content: Object.fromEntries(
          Object.entries(response.content).map(([type, schema]) => [type, { schema }]),
        ),
      }
    : {}),
});

const operationId = (spec: RouteSpec): string =>
  [spec.method, ...spec.path.split(/[^A-Za-z0-9]+/).filter(Boolean)]
    .map((word, i) => (i === 0 ? word : word[0]!.toUpperCase() + word.slice(1)))
    .join('');

/** The route's own query schema, its members annotated for the document; validation stays the same. */
const describedQuery = (query: z.ZodObject, describe: Record<string, string>): z.ZodObject =>
  query.extend(
    Object.fromEntries(
      Object.entries(describe).map(([name, description]) => {
        const member = query.shape[name];
        if (!member) throw new Error(`no query parameter ${name} to describe`);
        return [name, member.meta({ param: { description } })];
      }),
    ),
  );

const requestOf = (spec: RouteSpec): RouteConfig['request'] => {
  const { params, headers, body, describe } = spec.request ?? {};
  const query =
    spec.request?.query && describe ? describedQuery(spec.request.query, describe) : spec.request?.query;
  const allHeaders =
    spec.idempotent || headers
      ? z.object({ ...(spec.idempotent ? IdempotencyKeyHeader.shape : {}), ...(headers?.shape ?? {}) })
      : undefined;
  return {
    ...(params ? { params } : {}),
    ...(query ? { query } : {}),
    ...(allHeaders ? { headers: allHeaders } : {}),
    ...(body
      ? {
          body: {
            required: body.required,
            content: Object.fromEntries(
              Object.entries(body.content).map(([type, schema]) => [type, { schema }]),
            ),
          },
        }
      : {}),
  };
};

const routeConfig = (spec: RouteSpec): RouteConfig => {
  const problems = problemsOf(spec);
  const clash = Object.keys(spec.responses).filter((status) => problems.has(Number(status)));
  if (clash.length > 0) {
    throw new Error(`${spec.method} ${spec.path}: ${clash.join(', ')} is both an answer and a problem`);
  }
  return {
    method: spec.method,
    path: toOpenApiPath(spec.path),
    operationId: operationId(spec),
    summary: spec.summary,
    ...(spec.description ? { description: spec.description } : {}),
    tags: [spec.tag],
    ...(spec.bearer ? { security: [{ bearerAuth: [] }] } : {}),
    ...(spec.roles ? { 'x-required-roles': [...spec.roles] } : {}),
    request: requestOf(spec),
    responses: {
      ...Object.fromEntries(
        Object.entries(spec.responses).map(([status, response]) => [status, successResponse(response)]),
      ),
      ...Object.fromEntries(
        [...problems].map(([status, codes]) => [String(status), problemResponse(spec, status, codes)]),
      ),
    },
  };
};

const DESCRIPTION = `Event-sourced authentication and account service.

- Bodies are UTF-8 JSON with \`snake_case\` members, validated strictly (an unknown member is 400
  \`validation-failed\`); a body over 16 KiB is 413, another content type 415.
- Every error is RFC 9457 \`application/problem+json\` with a stable \`code\` (schema \`ProblemDetails\`).
  An unknown path is 404 \`not-found\`; a known path with another method is 405 \`method-not-allowed\` with
  \`Allow\` (components \`NotFound\`, \`MethodNotAllowed\`).
- Every 401 carries \`WWW-Authenticate: Bearer\`. Token answers, \`/v1/users/me\` and every admin answer carry
  \`Cache-Control: no-store\`.
- POST commands take an optional \`Idempotency-Key\` header (kept 24 h).
- Paged answers are \`{<items>, next_cursor}\` and take \`cursor\` (or \`after\`) and \`limit\` (1-200,
  default 50).
- Per-IP rate limits answer 429 \`rate-limited\` with \`Retry-After\`; a store that is down, 503 \`unavailable\`.`;

const TAGS = [
  { name: 'Auth', description: 'Registration, email verification, passwords' },
  { name: 'Sessions', description: 'Login, refresh-token rotation, logout, the session list' },
  { name: 'Users', description: "The caller's own account" },
  { name: 'Admin', description: 'Administration (role `admin`); every command takes a `reason`' },
  { name: 'Events', description: 'The account event feed for downstream services (role `events:read`)' },
  { name: 'Discovery', description: 'Keys and metadata for token verifiers' },
  { name: 'Operations', description: 'Health and metrics' },
  { name: 'Documentation', description: 'This document and its page' },
];

export const buildOpenApiDocument = (specs: readonly RouteSpec[]): OpenApiDocument => {
  const registry = new OpenAPIRegistry();
  registry.register('ProblemDetails', ProblemDetails);
  registry.registerComponent('securitySchemes', 'bearerAuth', {
    type: 'http',
    scheme: 'bearer',
    bearerFormat: 'JWT',
    description: 'An access token from `POST /v1/auth/login` or `POST /v1/auth/refresh`',
  });
  registry.registerComponent('headers', 'WWW-Authenticate', {
    description: '`Bearer`, with `error="invalid_token"` for a bad or expired access token (RFC 6750 §3)',
    schema: { type: 'string' },
  });
  registry.registerComponent('headers', 'Retry-After', {
    description: 'Seconds to wait before retrying',
    schema: { type: 'string' },
  });
  for (const [status, schema] of Object.entries(UNMATCHED)) {
    const name = status === '404' ? 'NotFound' : 'MethodNotAllowed';
    registry.register(`${name}Problem`, schema);
    registry.registerComponent('responses', name, {
      description: status === '404' ? WHEN['not-found'] : WHEN['method-not-allowed'],
      ...(status === '405' ? { headers: { Allow: { schema: { type: 'string' } } } } : {}),
      content: { [PROBLEM_TYPE]: { schema: { $ref: `#/components/schemas/${name}Problem` } } },
    });
  }
  for (const spec of specs) registry.registerPath(routeConfig(spec));

  return new OpenApiGeneratorV31(registry.definitions).generateDocument({
    openapi: '3.1.0',
    info: { title: 'Identity service', version: '1', description: DESCRIPTION },
    tags: TAGS,
  });
};

let built: OpenApiDocument | undefined;

/** The document of this service; built once per process. */
export const openApiDocument = (): OpenApiDocument => (built ??= buildOpenApiDocument(ROUTE_SPECS));

const HTTP_METHODS = new Set(['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace']);

/**
 * Routes of the service that the document lacks, and operations of the document that no route serves,
 * as `METHOD /path` in the document's notation.
 */
export const routeParity = (
  routes: readonly RouteInfo[],
  document: Pick<OpenApiDocument, 'paths'>,
): { undocumented: string[]; unrouted: string[] } => {
  const key = (method: string, path: string) => `${method.toUpperCase()} ${path}`;
  const routed = new Set(routes.map((r) => key(r.method, toOpenApiPath(r.path))));
  const documented = new Set(
    Object.entries(document.paths ?? {}).flatMap(([path, item]) =>
      Object.keys(item ?? {})
        .filter((m) => HTTP_METHODS.has(m))
        .map((m) => key(m, path)),
    ),
  );
  return {
    undocumented: [...routed].filter((k) => !documented.has(k)).sort(),
    unrouted: [...documented].filter((k) => !routed.has(k)).sort(),
  };
};

/** The operation list entry of a route, if any. */
export const specOf = (method: string, path: string, specs: readonly RouteSpec[] = ROUTE_SPECS) =>
  specs.find((s) => s.method === method.toLowerCase() && s.path === path);
