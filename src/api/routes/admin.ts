import type { Request, RequestHandler, Response } from 'express';
import type { z } from 'zod';
import {
  deactivateUser,
  grantRole,
  reactivateUser,
  revokeRole,
  unlockUser,
  type AdminContext,
} from '../../application/user/admin';
import { eraseUser } from '../../application/user/erase';
import { isRole } from '../../domain/user';
import type { ApiDeps } from '../deps';
import { requestContext, userIdParam } from '../account-http';
import { authOf } from '../authenticate';
import { UserIdPath, UserRolePath } from '../openapi/schemas';
import { problem } from '../problem';
import { AdminCommandRequest, GrantRoleRequest } from '../schemas';
import { mountRoutes } from './mount';
import { NO_CONTENT, jsonBody, type RouteDef } from './route';
import type { RouteTable } from './table';

/**
 * The administration commands (CONTRACT.md "Administration"): role `admin`, a `reason` on every one,
 * recorded with the acting admin on the events. Reads (lists, history, time travel) are in
 * admin-queries.ts. A path id that is not a UUID names no user: 404, like an unknown one.
 */

const adminContext = (deps: ApiDeps, req: Request, res: Response, reason: string): AdminContext => ({
  ...requestContext(req, deps, { type: 'admin', id: authOf(res).userId }),
  reason,
});

type Run = (deps: ApiDeps, req: Request, res: Response) => Promise<unknown>;

const adminCommand = (
  action: string,
  summary: string,
  description: string,
  run: Run,
  request: { params: z.ZodObject; body: z.ZodType } = { params: UserIdPath, body: AdminCommandRequest },
): RouteDef<ApiDeps> => ({
  method: 'post',
  path: `/v1/admin/users/:id/${action}`,
  summary,
  description: `${description} Role \`admin\`; the \`reason\` is recorded on the event.`,
  tag: 'Admin',
  noStore: true,
  bearer: true,
  roles: ['admin'],
  idempotency: 'replay',
  store: true,
  request: { params: request.params, body: jsonBody(request.body) },
  responses: { 204: NO_CONTENT },
  problems: ['not-found', 'conflict'],
  handler:
    (deps): RequestHandler =>
    async (req, res) => {
      await run(deps, req, res);
      res.status(204).end();
    },
});

/** A command on the path's user that takes only a `reason`. */
const simple =
  (command: (deps: ApiDeps, userId: string, ctx: AdminContext) => Promise<unknown>): Run =>
  (deps, req, res) => {
    const userId = userIdParam(req);
    const body = AdminCommandRequest.parse(req.body);
    return command(deps, userId, adminContext(deps, req, res, body.reason));
  };

export const ADMIN_ROUTES: RouteDef<ApiDeps>[] = [
  adminCommand(
    'deactivate',
    'Deactivate an account',
    'Every session ends at once; login then fails.',
    simple(deactivateUser),
  ),
  adminCommand(
    'reactivate',
    'Reactivate an account',
    'Sessions ended by the deactivation stay ended.',
    simple(reactivateUser),
  ),
  adminCommand(
    'unlock',
    'Clear a login lockout',
    'The next login checks the password again.',
    simple(unlockUser),
  ),
  adminCommand(
    'erase',
    'Erase an account (crypto-shredding)',
    'Personal data becomes unreadable everywhere, replays included; sessions end; the address is free.',
    simple(eraseUser),
  ),
  adminCommand(
    'roles',
    'Grant a role',
    'Takes effect on the next request of the holder.',
    (deps, req, res) => {
      const userId = userIdParam(req);
      const body = GrantRoleRequest.parse(req.body);
      return grantRole(deps, userId, body.role, adminContext(deps, req, res, body.reason));
    },
    { params: UserIdPath, body: GrantRoleRequest },
  ),
  adminCommand(
    'roles/:role/revoke',
    'Revoke a role',
    'Stops working at once, also for tokens already issued.',
    (deps, req, res) => {
      const userId = userIdParam(req);
      const role = String(req.params.role ?? '');
      if (!isRole(role)) throw problem('not-found', 'No such role');
      const body = AdminCommandRequest.parse(req.body);
      return revokeRole(deps, userId, role, adminContext(deps, req, res, body.reason));
    },
    { params: UserRolePath, body: AdminCommandRequest },
  ),
];

export const adminRoutes = (deps: ApiDeps): RouteTable => mountRoutes(ADMIN_ROUTES, deps, deps);
