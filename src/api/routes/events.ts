import type { Request, RequestHandler, Response } from 'express';
import { z } from 'zod';
import type { EventFilter, EventStore, Position } from '../../application/event-store';
import { presentEvents } from '../../application/events/present';
import { FEED_STREAM_PREFIXES, eventJsonSchemas, eventSchemas } from '../../application/events/schemas';
import type { AccessTokens, Clock, PersonalDataVault } from '../../application/ports';
import type { Authenticated } from '../../application/session/session-check';
import { authOf } from '../authenticate';
import { EventSchemasDocument, FeedPage, LastEventIdHeader, Text } from '../openapi/schemas';
import { problem } from '../problem';
import { FeedPosition, isStorablePosition } from '../schemas';
import { streamEvents } from './event-stream';
import { mountRoutes } from './mount';
import { NO_STORE, ok, text, type RouteDef } from './route';
import type { RouteTable } from './table';

/**
 * The account event feed for downstream services (CONTRACT "Events"):
 *
 * - `GET /v1/events?after=&limit=&types=` one page in global commit order: `{events, next_cursor}`.
 *   `next_cursor` is the last position the read LOOKED AT, filtered-out events and other streams included,
 *   so a reader with a narrow `types` filter still moves forward; pass it back as `after`. When nothing new
 *   has been committed it is the `after` that was given (the feed never ends: ask again later), and null
 *   only while the store holds no event at all and no `after` was given.
 * - `GET /v1/events/stream` the same feed as server-sent events (event-stream.ts).
 * - `GET /v1/events/schema` JSON Schema of the envelope and of every event type; public, it holds no data.
 *
 * Only the `user-` and `session-` streams are shown (FEED_STREAM_PREFIXES). Both feed endpoints need a
 * bearer token of an account holding `events:read`; `admin` alone does not grant it, so reading every
 * account's history is always a deliberate, recorded grant. Personal data is opened only for callers that
 * also hold `pii:read`, and redacted for everyone else. No hash, nonce or token ever appears (present.ts).
 */

export type EventFeedDeps = {
  store: EventStore;
  vault: PersonalDataVault;
  accessTokens: AccessTokens;
  clock: Clock;
};

export type EventFeedOptions = {
  /** Comment lines on an idle stream, so proxies and clients see it alive (default 15 s). */
  heartbeatMs?: number;
  /** Aborted when the service shuts down: open streams end at once (clients resume with Last-Event-ID). */
  shutdown?: AbortSignal;
};

export const FEED_READ_ROLE = 'events:read' as const;
export const PII_READ_ROLE = 'pii:read';

const FEED_TYPES = Object.keys(eventSchemas);

// Type prefixes as in `types=UserRegistered,Session`: PascalCase names, a bounded list, each the prefix of at
// least one event type of the feed (a misspelt type is a 400, not an empty feed forever).
const typesParam = z
  .string()
  .max(2000)
  .transform((value) => value.split(',').map((t) => t.trim()))
  .pipe(
    z
      .array(
        z
          .string()
          .regex(/^[A-Z][A-Za-z0-9]{0,99}$/, 'must be an event type prefix')
          .refine((prefix) => FEED_TYPES.some((t) => t.startsWith(prefix)), {
            // The value is not echoed: an answer never repeats what a caller sent (CONTRACT "General rules").
            error: 'matches no event type of the feed (GET /v1/events/schema lists them)',
          }),
      )
      .min(1)
      .max(50),
  );

const limitParam = z
  .string()
  .regex(/^\d{1,4}$/, 'must be a whole number from 1 to 200')
  .transform(Number)
  .pipe(z.number().int().min(1).max(200));

export const pageQuery = z.strictObject({
  after: FeedPosition.optional(),
  limit: limitParam.optional(),
  types: typesParam.optional(),
});

export const streamQuery = z.strictObject({
  after: FeedPosition.optional(),
  types: typesParam.optional(),
});

export const feedFilter = (types: string[] | undefined): EventFilter => ({
  streamPrefixes: [...FEED_STREAM_PREFIXES],
  ...(types ? { eventTypePrefixes: types } : {}),
});

/** Roles as folded from the write side at authentication, so a revoked role stops working at once. */
export const holdsRole = (auth: Authenticated, role: string): boolean =>
  auth.user.status !== 'erased' &&
  auth.user.status !== 'initial' &&
  (auth.user.roles as readonly string[]).includes(role);

export type EventRouteDeps = EventFeedDeps & { options: EventFeedOptions };

const AFTER = "Exclusive start: a position from the feed (`next_cursor`, or an event's `position`)";
const LIMIT = 'Page size, 1-200 (default 50)';
const TYPES = 'Comma-separated event type prefixes, e.g. `UserRegistered,Session`';

const schemaDocument = (): RequestHandler => {
  let schemas: unknown;
  return (_req, res) => {
    schemas ??= eventJsonSchemas();
    res.setHeader('Cache-Control', 'public, max-age=300');
    res.json(schemas);
  };
};

const page =
  (deps: EventRouteDeps): RequestHandler =>
  async (req: Request, res: Response) => {
    const query = pageQuery.parse(req.query);
    const revealPersonalData = holdsRole(authOf(res), PII_READ_ROLE);
    const page = await deps.store.readAll({
      after: query.after,
      maxCount: query.limit ?? 50,
      filter: feedFilter(query.types),
    });
    const events = await presentEvents(page.events, { vault: deps.vault, revealPersonalData });
    const next: Position | null = page.checkpoint ?? query.after ?? null;
    res.setHeader('Cache-Control', 'no-store');
    res.json({ events, next_cursor: next });
  };

const stream =
  ({ options, ...deps }: EventRouteDeps): RequestHandler =>
  async (req: Request, res: Response) => {
    const query = streamQuery.parse(req.query);
    // A reconnecting EventSource repeats the URL of its first request: its Last-Event-ID is the newer news.
    const lastEventId = req.get('last-event-id');
    // Checked like `after` (schemas.ts FeedPosition): a header the store cannot hold is a 400, not a stream
    // that starts and dies.
    if (lastEventId !== undefined && !isStorablePosition(lastEventId)) {
      throw problem('validation-failed', 'Last-Event-ID is not a position of this feed', {
        errors: [{ path: 'Last-Event-ID', message: 'must be a position taken from the feed' }],
      });
    }
    const revealPersonalData = holdsRole(authOf(res), PII_READ_ROLE);
    await streamEvents(req, res, {
      ...deps,
      from: lastEventId ?? query.after,
      filter: feedFilter(query.types),
      revealPersonalData,
      stillAllowed: (fresh) =>
        holdsRole(fresh, FEED_READ_ROLE) && holdsRole(fresh, PII_READ_ROLE) === revealPersonalData,
      heartbeatMs: options.heartbeatMs ?? 15_000,
      shutdown: options.shutdown,
    });
  };

export const EVENT_ROUTES: RouteDef<EventRouteDeps>[] = [
  {
    method: 'get',
    path: '/v1/events/schema',
    summary: 'JSON Schema of the event envelope and of every event type',
    tag: 'Events',
    responses: { 200: ok('Schemas', EventSchemasDocument) },
    handler: schemaDocument,
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
    roles: [FEED_READ_ROLE],
    store: true,
    request: {
      query: pageQuery,
      describe: { after: AFTER, limit: LIMIT, types: TYPES },
    },
    responses: { 200: ok('A page of events', FeedPage, NO_STORE) },
    handler: page,
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
    roles: [FEED_READ_ROLE],
    store: true,
    request: {
      query: streamQuery,
      headers: LastEventIdHeader,
      describe: { after: AFTER, types: TYPES },
    },
    responses: { 200: text('text/event-stream', 'Event stream', Text) },
    handler: stream,
  },
];

export const eventRoutes = (deps: EventFeedDeps, options: EventFeedOptions = {}): RouteTable =>
  mountRoutes(EVENT_ROUTES, { ...deps, options }, deps);
