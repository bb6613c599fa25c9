import type { Request, RequestHandler, Response } from 'express';
import { z } from 'zod';
import { isPosition } from '../../application/event-store';
import {
  decodeRevisionCursor,
  loadUserHistory,
  loadUserView,
  parseAsOf,
} from '../../application/history/user-history';
import type { ApiDeps } from '../deps';
import { waitForProjection } from '../../projections';
import { userDirectory } from '../../projections/user-directory/projection';
import { decodeUserCursor, encodeUserCursor, listUsers } from '../../projections/user-directory/queries';
import type { UserRow } from '../../projections/user-directory/schema';
import { userIdParam } from '../account-http';
import { AdminUserList, AdminUserView, UserHistoryPage, UserIdPath } from '../openapi/schemas';
import { problem } from '../problem';
import { isStorablePosition } from '../schemas';
import { mountRoutes } from './mount';
import { NO_STORE, ok, type RouteDef, type RouteSpec } from './route';
import type { RouteTable } from './table';

/** How long `?min_position=` may hold a list request for the read model to catch up. */
export const MIN_POSITION_WAIT_MS = 2000;

const limitParam = z
  .string()
  .regex(/^\d{1,4}$/, 'must be a whole number from 1 to 200')
  .transform(Number)
  .pipe(z.number().int().min(1).max(200));

/**
 * A cursor this list made: it decodes, and encodes back to itself. A forged one whose time JavaScript
 * rolls over (`2023-02-30` read as March 2nd) decodes too, but names a place in no list.
 */
const isUserCursor = (value: string): boolean => {
  const cursor = decodeUserCursor(value);
  return cursor !== null && encodeUserCursor(cursor) === value;
};

const USER_STATUSES = ['pending_verification', 'active', 'deactivated', 'erased'] as const;

export const AdminUserListQuery = z.strictObject({
  email: z.string().max(320).optional(),
  status: z.enum(USER_STATUSES).optional(),
  limit: limitParam.optional(),
  cursor: z.string().max(400).refine(isUserCursor, 'is not a cursor of this list').optional(),
  // Any well-formed position, in range or not: it is only compared with the read model's checkpoint, never
  // sent to a store, and one no store can reach is simply not reached (the answer says it is stale).
  min_position: z.string().refine(isPosition, 'must be a position a command returned').optional(),
});

export const AdminUserQuery = z.strictObject({
  as_of: z
    .string()
    .max(64)
    .refine(
      (v) => parseAsOf(v) !== null && (!isPosition(v) || isStorablePosition(v)),
      'must be an RFC 3339 time or a position from event JSON',
    )
    .optional(),
});

export const AdminUserEventsQuery = z.strictObject({
  cursor: z
    .string()
    .max(64)
    .refine((c) => decodeRevisionCursor(c) !== null, 'is not a cursor of this history')
    .optional(),
  limit: limitParam.optional(),
});

/** A read-model row as the admin list shows it; the read model holds no secret to leave out. */
export const presentUserRow = (row: UserRow) => ({
  id: row.id,
  email: row.email,
  username: row.username,
  status: row.status,
  roles: row.roles,
  email_verified: row.email_verified,
  failed_logins: row.failed_logins,
  locked_until: row.locked_until?.toISOString() ?? null,
  created_at: row.created_at.toISOString(),
  updated_at: row.updated_at.toISOString(),
  revision: row.revision,
});

const LIMIT = 'Page size, 1-200 (default 50)';
const CURSOR = '`next_cursor` of the previous page';

const ADMIN_READ = {
  tag: 'Admin',
  noStore: true,
  bearer: true,
  roles: ['admin'],
  store: true,
} as const satisfies Partial<RouteSpec>;

const list =
  (deps: ApiDeps): RequestHandler =>
  async (req: Request, res: Response) => {
    const query = AdminUserListQuery.parse(req.query);
    if (query.min_position !== undefined) {
      const reached = await waitForProjection(
        deps.runtime,
        userDirectory.name,
        query.min_position,
        MIN_POSITION_WAIT_MS,
      );
      if (!reached) res.setHeader('X-Read-Model-Stale', 'true');
    }
    const page = await listUsers(deps.sql, {
      email: query.email,
      status: query.status,
      limit: query.limit ?? 50,
      cursor: query.cursor !== undefined ? (decodeUserCursor(query.cursor) ?? undefined) : undefined,
    });
    res.json({
      users: page.users.map(presentUserRow),
      next_cursor: page.nextCursor ? encodeUserCursor(page.nextCursor) : null,
    });
  };

const one =
  (deps: ApiDeps): RequestHandler =>
  async (req: Request, res: Response) => {
    const userId = userIdParam(req);
    const query = AdminUserQuery.parse(req.query);
    const asOf = query.as_of !== undefined ? (parseAsOf(query.as_of) ?? undefined) : undefined;
    const view = await loadUserView(deps, userId, { asOf, now: deps.clock.now() });
    if (!view) {
      throw problem('not-found', asOf ? 'The user did not exist at that point' : 'No such user');
    }
    res.json(view);
  };

const history =
  (deps: ApiDeps): RequestHandler =>
  async (req: Request, res: Response) => {
    const userId = userIdParam(req);
    const query = AdminUserEventsQuery.parse(req.query);
    const page = await loadUserHistory(deps, userId, {
      fromRevision: query.cursor !== undefined ? (decodeRevisionCursor(query.cursor) ?? 0) : 0,
      limit: query.limit ?? 50,
    });
    if (!page) throw problem('not-found', 'No such user');
    res.json({ events: page.events, next_cursor: page.nextCursor });
  };

/**
 * The administration reads (CONTRACT.md "Administration"), role `admin`, never cached:
 *
 * - `GET /v1/admin/users?email=&status=&limit=&cursor=&min_position=`: the user directory READ MODEL,
 *   ordered by creation. `email` matches exactly after canonicalisation. It lags the events slightly; pass
 *   the position a command returned as `min_position` and the answer waits (up to MIN_POSITION_WAIT_MS) until
 *   the model holds it. If it still does not, the answer comes anyway, marked `X-Read-Model-Stale: true`.
 * - `GET /v1/admin/users/{id}?as_of=`: the account folded from its stream (the write side: no lag). `as_of`
 *   (an RFC 3339 time, or a position from event JSON) folds only what had happened by then.
 * - `GET /v1/admin/users/{id}/events?cursor=&limit=`: the account's stream, in order, with actor, reason and
 *   correlation id; personal data opened (`[erased]` after erasure), no hash or secret (events/present.ts).
 */
export const ADMIN_QUERY_ROUTES: RouteDef<ApiDeps>[] = [
  {
    ...ADMIN_READ,
    method: 'get',
    path: '/v1/admin/users',
    summary: 'List accounts (user directory read model)',
    description:
      'Ordered by creation; `email` matches exactly after canonicalisation. Pass a command’s position as ' +
      '`min_position` to wait (up to 2 s) for the read model to hold it.',
    request: {
      query: AdminUserListQuery,
      describe: {
        email: 'The exact address (compared after canonicalisation)',
        limit: LIMIT,
        cursor: CURSOR,
        min_position: 'A position a command returned: wait (up to 2 s) until the read model holds it',
      },
    },
    responses: {
      200: ok('A page of accounts', AdminUserList, {
        ...NO_STORE,
        'X-Read-Model-Stale': '`true` when `min_position` was not reached in time',
      }),
    },
    handler: list,
  },
  {
    ...ADMIN_READ,
    method: 'get',
    path: '/v1/admin/users/:id',
    summary: 'One account, folded from its stream; `as_of` travels back in time',
    request: {
      params: UserIdPath,
      query: AdminUserQuery,
      describe: { as_of: 'An RFC 3339 time, or a position from event JSON: the account as it stood then' },
    },
    responses: { 200: ok('The account', AdminUserView, NO_STORE) },
    problems: ['not-found'],
    handler: one,
  },
  {
    ...ADMIN_READ,
    method: 'get',
    path: '/v1/admin/users/:id/events',
    summary: "The account's history (its `user-` stream) in order",
    request: {
      params: UserIdPath,
      query: AdminUserEventsQuery,
      describe: { limit: LIMIT, cursor: CURSOR },
    },
    responses: { 200: ok('A page of events', UserHistoryPage, NO_STORE) },
    problems: ['not-found'],
    handler: history,
  },
];

export const adminQueryRoutes = (deps: ApiDeps): RouteTable => mountRoutes(ADMIN_QUERY_ROUTES, deps, deps);
