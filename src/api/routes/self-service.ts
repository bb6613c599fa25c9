import { deleteOwnAccount } from '../../application/user/delete-account';
import type { Services } from '../../infrastructure/services';
import { requestContext } from '../account-http';
import { authOf } from '../authenticate';
import { HttpProblem } from '../problem';
import { DeleteAccountRequest } from '../self-service-schemas';
import { mountRoutes } from './mount';
import { NO_CONTENT, jsonBody, type RouteDef } from './route';
import type { RouteTable } from './table';

const wrongPassword = () => new HttpProblem(403, 'invalid-credentials', 'The password is not correct');

/**
 * The caller's own account, beyond the profile (users.ts): deleting it. Each step takes the password
 * again (a wrong one counts toward the lockout); recent authentication (issue 15) will stand beside it.
 */
export const SELF_SERVICE_ROUTES: RouteDef<Services>[] = [
  {
    method: 'delete',
    path: '/v1/users/me',
    summary: 'Delete the caller’s account',
    description:
      'The same erasure as the admin’s (personal data unreadable everywhere, every session ended, the ' +
      'address free again), with the user as the actor. A wrong password is 403 and counts toward the lockout.',
    tag: 'Users',
    noStore: true,
    bearer: true,
    store: true,
    request: { body: jsonBody(DeleteAccountRequest) },
    responses: { 204: NO_CONTENT },
    problems: [{ code: 'invalid-credentials', status: 403 }],
    handler: (services) => async (req, res) => {
      const body = DeleteAccountRequest.parse(req.body);
      const { userId } = authOf(res);
      const ctx = requestContext(req, services, { type: 'user', id: userId });
      const result = await deleteOwnAccount(services, userId, body.password, ctx);
      if (result.outcome !== 'deleted') throw wrongPassword();
      res.status(204).end();
    },
  },
];

export const selfServiceRoutes = (services: Services): RouteTable =>
  mountRoutes(SELF_SERVICE_ROUTES, services, services);
