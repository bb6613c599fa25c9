import type { Request, Response } from 'express';
import {
  deactivateUser,
  grantRole,
  reactivateUser,
  revokeRole,
  unlockUser,
  type AdminContext,
} from '../application/user/admin';
import { eraseUser } from '../application/user/erase';
import { isRole } from '../domain/user';
import type { Services } from '../infrastructure/services';
import { command, noStore, onceOnly, requestContext, userIdParam } from './account-http';
import { authenticate, authOf, requireRole } from './authenticate';
import { parseBody } from './body';
import { problem } from './problem';
import { createRouteTable, type RouteTable } from './routes';
import { AdminCommandRequest, GrantRoleRequest } from './schemas';

/**
 * The administration commands (CONTRACT.md "Administration"): role `admin`, a `reason` on every one,
 * recorded with the acting admin on the events. Reads (lists, history, time travel) are in
 * admin-queries.ts. A path id that is not a UUID names no user: 404, like an unknown one.
 */
export const adminRoutes = (services: Services): RouteTable => {
  const table = createRouteTable();
  const guard = [noStore, authenticate(services), requireRole('admin')];
  const json = parseBody('json');
  const once = onceOnly(services, true);

  const adminContext = (req: Request, res: Response, reason: string): AdminContext => ({
    ...requestContext(req, services, { type: 'admin', id: authOf(res).userId }),
    reason,
  });

  const simple = (
    action: string,
    run: (deps: Services, userId: string, ctx: AdminContext) => Promise<unknown>,
  ) =>
    table.add(
      'post',
      `/v1/admin/users/:id/${action}`,
      ...guard,
      json,
      once,
      command(async (req, res) => {
        const userId = userIdParam(req);
        const body = AdminCommandRequest.parse(req.body);
        await run(services, userId, adminContext(req, res, body.reason));
        res.status(204).end();
      }),
    );

  // Every session ends at once; login then fails with invalid-credentials.
  simple('deactivate', deactivateUser);
  // Sessions ended by the deactivation stay ended.
  simple('reactivate', reactivateUser);
  simple('unlock', unlockUser);
  // Personal data becomes unreadable everywhere, replays included; sessions end; the address is free.
  simple('erase', eraseUser);

  table.add(
    'post',
    '/v1/admin/users/:id/roles',
    ...guard,
    json,
    once,
    command(async (req, res) => {
      const userId = userIdParam(req);
      const body = GrantRoleRequest.parse(req.body);
      await grantRole(services, userId, body.role, adminContext(req, res, body.reason));
      res.status(204).end();
    }),
  );

  table.add(
    'post',
    '/v1/admin/users/:id/roles/:role/revoke',
    ...guard,
    json,
    once,
    command(async (req, res) => {
      const userId = userIdParam(req);
      const role = String(req.params.role ?? '');
      if (!isRole(role)) throw problem('not-found', 'No such role');
      const body = AdminCommandRequest.parse(req.body);
      await revokeRole(services, userId, role, adminContext(req, res, body.reason));
      res.status(204).end();
    }),
  );

  return table;
};
