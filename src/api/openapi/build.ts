import {
  OpenAPIRegistry,
  OpenApiGeneratorV31,
  type ResponseConfig,
  type RouteConfig,
} from '@asteasolutions/zod-to-openapi';
import { z } from 'zod';
import { PROBLEM_TYPE, type RouteSpec } from '../routes/route';
import { problemResponse, problemsOf, toOpenApiPath, UNMATCHED, WHEN } from './problems';
import { IdempotencyKeyHeader, ProblemDetails } from './schemas';

/**
 * The OpenAPI 3.1 document of the service (`GET /openapi.json`), generated from the route definitions
 * (routes/<area>.ts) and the zod schemas the routes validate with.
 */

export type OpenApiDocument = ReturnType<OpenApiGeneratorV31['generateDocument']>;

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
    spec.idempotency || headers
      ? z.object({ ...(spec.idempotency ? IdempotencyKeyHeader.shape : {}), ...(headers?.shape ?? {}) })
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
