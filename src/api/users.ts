import type { Authenticated } from '../application/session/session-check';
import { getProfile } from '../application/user/profile';
import { updateProfile } from '../application/user/update-profile';
import type { Services } from '../infrastructure/services';
import { command, noStore, requestContext } from './account-http';
import { authenticate, authOf } from './authenticate';
import { parseBody } from './body';
import { problem } from './problem';
import { createRouteTable, type RouteTable } from './routes';
import { UpdateProfileRequest } from './schemas';

/**
 * The caller's own account (CONTRACT.md "Accounts"). The profile is folded from the write side, so it
 * already shows what the caller's last command changed (read-your-writes without waiting).
 */
export const userRoutes = (services: Services): RouteTable => {
  const table = createRouteTable();
  const auth = authenticate(services);

  const profileOf = async (userId: string, folded?: Authenticated['userStream']) => {
    const profile = await getProfile(services, userId, folded);
    // Erased between the bearer check and now: the token no longer stands for anyone.
    if (profile === null) throw problem('invalid-token', 'The access token is invalid, expired or revoked');
    return profile;
  };

  table.add(
    'get',
    '/v1/users/me',
    noStore,
    auth,
    command(async (_req, res) => {
      const caller = authOf(res);
      res.status(200).json(await profileOf(caller.userId, caller.userStream));
    }),
  );

  table.add(
    'patch',
    '/v1/users/me',
    noStore,
    auth,
    parseBody('json'),
    command(async (req, res) => {
      const body = UpdateProfileRequest.parse(req.body);
      const { userId } = authOf(res);
      await updateProfile(
        services,
        userId,
        body.username === undefined ? {} : { username: body.username },
        requestContext(req, services, { type: 'user', id: userId }),
      );
      res.status(200).json(await profileOf(userId));
    }),
  );

  return table;
};
