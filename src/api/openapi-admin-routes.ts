import { AdminUserEventsQuery, AdminUserListQuery, AdminUserQuery } from './admin-queries';
import { AdminUserList, AdminUserView, UserHistoryPage, UserIdPath, UserRolePath } from './openapi-schemas';
import { NO_CONTENT, NO_STORE, jsonBody, ok, type RouteSpec } from './openapi-spec';
import { AdminCommandRequest, GrantRoleRequest } from './schemas';

/** The administration operations (CONTRACT.md "Administration") of the list in openapi-routes.ts. */

const LIMIT = 'Page size, 1-200 (default 50)';
const CURSOR = '`next_cursor` of the previous page';

const adminCommand = (action: string, summary: string, description: string): RouteSpec => ({
  method: 'post',
  path: `/v1/admin/users/:id/${action}`,
  summary,
  description: `${description} Role \`admin\`; the \`reason\` is recorded on the event.`,
  tag: 'Admin',
  bearer: true,
  roles: ['admin'],
  idempotent: true,
  store: true,
  request: { params: UserIdPath, body: jsonBody(AdminCommandRequest) },
  responses: { 204: NO_CONTENT },
  problems: ['not-found', 'conflict'],
});

export const ADMIN_ROUTE_SPECS: RouteSpec[] = [
  {
    method: 'get',
    path: '/v1/admin/users',
    summary: 'List accounts (user directory read model)',
    description:
      'Ordered by creation; `email` matches exactly after canonicalisation. Pass a command’s position as ' +
      '`min_position` to wait (up to 2 s) for the read model to hold it.',
    tag: 'Admin',
    bearer: true,
    roles: ['admin'],
    store: true,
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
  },
  {
    method: 'get',
    path: '/v1/admin/users/:id',
    summary: 'One account, folded from its stream; `as_of` travels back in time',
    tag: 'Admin',
    bearer: true,
    roles: ['admin'],
    store: true,
    request: {
      params: UserIdPath,
      query: AdminUserQuery,
      describe: { as_of: 'An RFC 3339 time, or a position from event JSON: the account as it stood then' },
    },
    responses: { 200: ok('The account', AdminUserView, NO_STORE) },
    problems: ['not-found'],
  },
  {
    method: 'get',
    path: '/v1/admin/users/:id/events',
    summary: "The account's history (its `user-` stream) in order",
    tag: 'Admin',
    bearer: true,
    roles: ['admin'],
    store: true,
    request: {
      params: UserIdPath,
      query: AdminUserEventsQuery,
      describe: { limit: LIMIT, cursor: CURSOR },
    },
    responses: { 200: ok('A page of events', UserHistoryPage, NO_STORE) },
    problems: ['not-found'],
  },
  adminCommand('deactivate', 'Deactivate an account', 'Every session ends at once; login then fails.'),
  adminCommand('reactivate', 'Reactivate an account', 'Sessions ended by the deactivation stay ended.'),
  adminCommand('unlock', 'Clear a login lockout', 'The next login checks the password again.'),
  adminCommand(
    'erase',
    'Erase an account (crypto-shredding)',
    'Personal data becomes unreadable everywhere, replays included; sessions end; the address is free.',
  ),
  {
    ...adminCommand('roles', 'Grant a role', 'Takes effect on the next request of the holder.'),
    request: { params: UserIdPath, body: jsonBody(GrantRoleRequest) },
  },
  {
    ...adminCommand(
      'roles/:role/revoke',
      'Revoke a role',
      'Stops working at once, also for tokens already issued.',
    ),
    request: { params: UserRolePath, body: jsonBody(AdminCommandRequest) },
  },
];
