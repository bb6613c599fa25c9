import { extendZodWithOpenApi } from '@asteasolutions/zod-to-openapi';
import { z } from 'zod';
import { envelopeSchema, eventSchemas, positionSchema } from '../../application/events/schemas';
import { topicMapping } from '../../application/events/topics';
import { PROBLEMS, PROBLEM_TYPE_BASE, type ProblemCode } from '../problem';
import { Profile, RoleName } from '../schemas';
import { SessionListResponse, TokenResponse } from '../session-schemas';

// `.openapi('Name')` (a named component) needs the extension; it is idempotent and only adds that method.
extendZodWithOpenApi(z);

/**
 * The zod schemas the OpenAPI document needs beyond the request schemas the routes validate with.
 *
 * - Named components wrap the routes' own schemas (`Profile`, `TokenResponse`, ...): `.openapi(name)` returns
 *   a copy with the same validation and a component name, so the document refers to one definition.
 * - Answers that the route files build as object literals without a schema (health, discovery, the admin
 *   reads, the feed pages) are described HERE, next to the spec, from the code that builds them
 *   (`presentUserRow`, `UserView`, `EventJson`, `PublicJwk`). test/api/openapi.test.ts checks live answers
 *   against them, so a drift between a route and its description fails a test.
 */

const PROBLEM_CODES = Object.keys(PROBLEMS) as [ProblemCode, ...ProblemCode[]];

/** RFC 9457, as `problemBody` (problem.ts) writes it; `code` is one of the table's slugs. */
export const ProblemDetails = z
  .object({
    type: z.string().describe(`\`${PROBLEM_TYPE_BASE}<code>\``),
    title: z.string(),
    status: z.number().int(),
    detail: z.string().optional(),
    instance: z.string().optional().describe('The request path'),
    code: z.enum(PROBLEM_CODES).describe('Stable slug to branch on'),
    errors: z
      .array(z.object({ path: z.string(), message: z.string() }))
      .optional()
      .describe('The members that failed validation; a submitted value is never echoed'),
  })
  .openapi('ProblemDetails', { description: 'RFC 9457 problem details (`application/problem+json`)' });

/** The problem answers of one status: `code` narrowed to the slugs the operation can give with it. */
export const problemSchema = (status: number, codes: readonly [ProblemCode, ...ProblemCode[]]) =>
  ProblemDetails.extend({ status: z.literal(status), code: z.enum(codes) });

const timestamp = z.iso.datetime();
const uuid = z.uuid();

export const ProfileDoc = Profile.meta({
  id: 'Profile',
  description: 'The account as its owner sees it, folded from the write side (read-your-writes)',
});

export const TokenResponseDoc = TokenResponse.meta({
  id: 'TokenResponse',
  description: 'RFC 6749 §5.1; the refresh token is new on every answer (rotation)',
});

export const SessionListDoc = SessionListResponse.meta({ id: 'SessionList' });

export const EventJsonDoc = envelopeSchema.meta({
  id: 'EventJson',
  description: 'An event as the HTTP feed shows it; `GET /v1/events/schema` has the `data` of every type',
});

/** A page of events: `next_cursor` of the feed is a position (`after`), of a history a revision cursor. */
const eventPage = (cursor: z.ZodType) => z.object({ events: z.array(EventJsonDoc), next_cursor: cursor });

export const FeedPage = eventPage(
  positionSchema.nullable().describe('Pass back as `after`; null only while the store holds no event'),
).openapi('EventFeedPage');

export const UserHistoryPage = eventPage(
  z.string().nullable().describe('Pass back as `cursor`; null on the last page'),
).openapi('UserHistoryPage');

const USER_STATUS = z.enum(['pending_verification', 'active', 'deactivated', 'erased']);

/** `presentUserRow` (routes/admin-queries.ts): a row of the user directory read model. */
export const AdminUserRow = z
  .object({
    id: uuid,
    email: z.string().nullable(),
    username: z.string().nullable(),
    status: USER_STATUS,
    roles: z.array(z.string()),
    email_verified: z.boolean(),
    failed_logins: z.number().int().nonnegative(),
    locked_until: timestamp.nullable(),
    created_at: timestamp,
    updated_at: timestamp,
    revision: z.number().int().nonnegative().describe('The `user-` stream revision the row reflects'),
  })
  .openapi('AdminUserRow');

export const AdminUserList = z
  .object({
    users: z.array(AdminUserRow),
    next_cursor: z.string().nullable().describe('Pass back as `cursor`; null on the last page'),
  })
  .openapi('AdminUserList');

/** `UserView` (application/history/user-history.ts): the account folded from its stream. */
export const AdminUserView = z
  .object({
    id: uuid,
    email: z.string().nullable(),
    username: z.string().nullable(),
    status: USER_STATUS,
    roles: z.array(z.string()),
    email_verified: z.boolean(),
    locked: z.boolean(),
    locked_until: timestamp.nullable(),
    failed_logins: z.number().int().nonnegative(),
    created_at: timestamp,
    updated_at: timestamp,
    erased_at: timestamp.nullable(),
    revision: z.number().int().nonnegative(),
    position: positionSchema,
  })
  .openapi('AdminUserView', { description: 'Personal data reads `[erased]` once the account was erased' });

export const HealthLive = z.object({ status: z.literal('ok') });

/** health.ts: one member per readiness check. */
export const HealthReady = z
  .object({
    status: z.enum(['ready', 'unavailable']),
    checks: z.record(
      z.string(),
      z.object({
        status: z
          .enum(['up', 'degraded', 'down'])
          .describe('`degraded`: works, but part of it does not (a relay target that is down); still ready'),
        detail: z.string().optional(),
      }),
    ),
  })
  .openapi('Readiness');

/** `PublicJwk` (application/ports.ts): public members only. */
export const Jwks = z
  .object({
    keys: z.array(
      z.object({
        kty: z.literal('EC'),
        crv: z.literal('P-256'),
        x: z.string(),
        y: z.string(),
        kid: z.string(),
        use: z.literal('sig'),
        alg: z.literal('ES256'),
      }),
    ),
  })
  .openapi('JwkSet', { description: 'RFC 7517 JWK Set of the keys that sign access tokens' });

/** discovery.ts: only members that are true of this service (it is not an OpenID provider). */
export const DiscoveryDocument = z
  .object({
    issuer: z.string(),
    jwks_uri: z.url(),
    token_endpoint: z.url(),
    grant_types_supported: z.array(z.string()),
    token_endpoint_auth_methods_supported: z.array(z.string()),
  })
  .openapi('DiscoveryDocument', { description: 'RFC 8414 authorization server metadata' });

/**
 * The relay's topic of every event type (CONTRACT "Event relay"), spelled out as constants so a consumer
 * generating types from this document knows the names it will find on its broker.
 */
export const RelayTopics = z
  .object(
    Object.fromEntries(
      Object.entries(topicMapping(Object.keys(eventSchemas))).map(([type, t]) => [
        type,
        z.object({ seed: z.literal(t.seed), type: z.literal(t.type) }),
      ]),
    ),
  )
  .openapi('RelayTopics', {
    description:
      'The broker topic of each event type: `seed` with `topics: seed` (the names of the services this ' +
      'one replaces, snake_case of the type otherwise), `type` with `topics: type`',
  });

/** `eventJsonSchemas()` (application/events/schemas.ts). */
export const EventSchemasDocument = z.object({
  envelope: z.record(z.string(), z.unknown()).describe('JSON Schema (draft 2020-12) of the envelope'),
  events: z
    .record(z.string(), z.record(z.string(), z.unknown()))
    .describe('JSON Schema of each event type, keyed by type'),
  topics: RelayTopics,
});

export const OpenApiDocumentSchema = z.object({
  openapi: z.string(),
  info: z.object({ title: z.string(), version: z.string() }),
  paths: z.record(z.string(), z.record(z.string(), z.unknown())),
  components: z.record(z.string(), z.unknown()),
});

export const Text = z.string();

/** Path parameters. A user id that is not a UUID names no user (404), like an unknown one. */
export const UserIdPath = z.object({
  id: uuid.openapi({ param: { description: 'The user id (the `sub` of their access tokens)' } }),
});

export const UserRolePath = UserIdPath.extend({
  role: RoleName.meta({ param: { description: 'An unknown role names nothing (404)' } }),
});

export const SessionIdPath = z.object({
  id: uuid.openapi({ param: { description: 'A session id from `GET /v1/users/me/sessions`' } }),
});

const KEY_SYNTAX = /^[\x20-\x7e]{1,255}$/;

/** idempotency.ts: 1 to 255 printable ASCII characters, kept 24 h. */
export const IdempotencyKeyHeader = z.object({
  'Idempotency-Key': z
    .string()
    .regex(KEY_SYNTAX)
    .optional()
    .openapi({
      param: {
        description:
          'A client-generated unique key (e.g. a UUID). A retry with the same key and body replays the first ' +
          'answer without running the command again; with another body it is 422 `idempotency-key-reused`; ' +
          'while the first request still runs, 409 `conflict`. Kept 24 h.',
      },
    }),
});

export const LastEventIdHeader = z.object({
  'Last-Event-ID': positionSchema.optional().openapi({
    param: {
      description: 'Sent by a reconnecting EventSource: resume after this position (wins over `after`)',
    },
  }),
});
