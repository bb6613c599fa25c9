import { z } from 'zod';
import { DOCS_ASSETS } from './docs-page';
import { pageQuery, streamQuery } from './events';
import { ACCOUNT_ROUTE_SPECS } from './openapi-account-routes';
import { ADMIN_ROUTE_SPECS } from './openapi-admin-routes';
import {
  DiscoveryDocument,
  EventSchemasDocument,
  FeedPage,
  HealthLive,
  HealthReady,
  Jwks,
  LastEventIdHeader,
  OpenApiDocumentSchema,
  Text,
} from './openapi-schemas';
import { NO_STORE, ok, text, type RouteSpec } from './openapi-spec';

/**
 * Every operation of the service, in one list: the OpenAPI document (openapi.ts) is generated from it, and
 * test/api/openapi.test.ts fails when a route of the service has no entry here or an entry has no route.
 * Request schemas are the ones the routes validate with; the response schemas kept with each entry are what
 * the tests check live answers against.
 */
const AFTER = "Exclusive start: a position from the feed (`next_cursor`, or an event's `position`)";
const LIMIT = 'Page size, 1-200 (default 50)';
const TYPES = 'Comma-separated event type prefixes, e.g. `UserRegistered,Session`';

export const ROUTE_SPECS: RouteSpec[] = [
  // Operations
  {
    method: 'get',
    path: '/health/live',
    summary: 'Liveness: the process is up',
    tag: 'Operations',
    responses: { 200: ok('Alive', HealthLive) },
  },
  {
    method: 'get',
    path: '/health/ready',
    summary: 'Readiness: event store, database and projection lag',
    tag: 'Operations',
    responses: {
      200: ok('Every check is up', HealthReady),
      503: {
        ...ok('A check is down; the instance should get no traffic', HealthReady),
        headers: { 'Retry-After': 'Seconds' },
      },
    },
  },
  {
    method: 'get',
    path: '/metrics',
    summary: 'Prometheus metrics',
    tag: 'Operations',
    responses: { 200: text('text/plain', 'Prometheus text exposition format', Text) },
  },
  // Discovery
  {
    method: 'get',
    path: '/.well-known/jwks.json',
    summary: 'Public keys that verify access tokens',
    tag: 'Discovery',
    responses: { 200: text('application/jwk-set+json', 'JWK Set', Jwks) },
  },
  {
    method: 'get',
    path: '/.well-known/openid-configuration',
    summary: 'Discovery document: issuer, JWKS and token endpoint',
    tag: 'Discovery',
    responses: { 200: ok('Metadata', DiscoveryDocument) },
  },
  ...ACCOUNT_ROUTE_SPECS,
  ...ADMIN_ROUTE_SPECS,
  // Events
  {
    method: 'get',
    path: '/v1/events/schema',
    summary: 'JSON Schema of the event envelope and of every event type',
    tag: 'Events',
    responses: { 200: ok('Schemas', EventSchemasDocument) },
  },
  {
    method: 'get',
    path: '/v1/events',
    summary: 'The account event feed, one page in global commit order',
    description:
      'Role `events:read`; personal data is opened only with `pii:read`. `next_cursor` is the last position ' +
      'looked at: pass it back as `after`.',
    tag: 'Events',
    bearer: true,
    roles: ['events:read'],
    store: true,
    request: {
      query: pageQuery,
      describe: { after: AFTER, limit: LIMIT, types: TYPES },
    },
    responses: { 200: ok('A page of events', FeedPage, NO_STORE) },
  },
  {
    method: 'get',
    path: '/v1/events/stream',
    summary: 'The account event feed as server-sent events',
    description:
      'Each event is `id: <position>`, `event: <type>`, `data: <event JSON>`; resumable with `Last-Event-ID`. ' +
      'Role `events:read`; the stream ends when the access token expires.',
    tag: 'Events',
    bearer: true,
    roles: ['events:read'],
    store: true,
    request: {
      query: streamQuery,
      headers: LastEventIdHeader,
      describe: { after: AFTER, types: TYPES },
    },
    responses: { 200: text('text/event-stream', 'Event stream', Text) },
  },
  // Documentation
  {
    method: 'get',
    path: '/openapi.json',
    summary: 'This document (OpenAPI 3.1)',
    tag: 'Documentation',
    responses: { 200: ok('OpenAPI document', OpenApiDocumentSchema) },
  },
  {
    method: 'get',
    path: '/docs',
    summary: 'Interactive documentation page',
    tag: 'Documentation',
    responses: { 200: text('text/html', 'HTML page', Text) },
  },
  {
    method: 'get',
    path: '/docs/init.js',
    summary: 'Script that starts the documentation page',
    tag: 'Documentation',
    responses: { 200: text('text/javascript', 'JavaScript', Text) },
  },
  {
    method: 'get',
    path: '/docs/assets/:file',
    summary: 'Static assets of the documentation page (Swagger UI)',
    tag: 'Documentation',
    request: { params: z.object({ file: z.enum(DOCS_ASSETS) }) },
    responses: {
      200: {
        description: 'The file',
        content: { 'text/css': Text, 'text/javascript': Text, 'image/png': Text },
      },
    },
    problems: ['not-found'],
  },
];
