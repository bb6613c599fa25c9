import type { Authenticated } from '../../application/session/session-check';
import { getProfile } from '../../application/user/profile';
import { updateProfile } from '../../application/user/update-profile';
import type { ApiDeps } from '../deps';
import { requestContext } from '../account-http';
import { authOf } from '../authenticate';
import { ProfileDoc } from '../openapi/schemas';
import { problem } from '../problem';
import { UpdateProfileRequest } from '../schemas';
import { mountRoutes } from './mount';
import { NO_STORE, jsonBody, ok, type RouteDef } from './route';
import type { RouteTable } from './table';

const profileOf = async (deps: ApiDeps, userId: string, folded?: Authenticated['userStream']) => {
  const profile = await getProfile(deps, userId, folded);
  // Erased between the bearer check and now: the token no longer stands for anyone.
  if (profile === null) throw problem('invalid-token', 'The access token is invalid, expired or revoked');
  return profile;
};

/**
 * The caller's own account (CONTRACT.md "Accounts"). The profile is folded from the write side, so it
 * already shows what the caller's last command changed (read-your-writes without waiting).
 */
export const USER_ROUTES: RouteDef<ApiDeps>[] = [
  {
    method: 'get',
    path: '/v1/users/me',
    summary: "The caller's profile",
    tag: 'Users',
    noStore: true,
    bearer: true,
    store: true,
    responses: { 200: ok('Profile', ProfileDoc, NO_STORE) },
    handler: (deps) => async (_req, res) => {
      const caller = authOf(res);
      res.status(200).json(await profileOf(deps, caller.userId, caller.userStream));
    },
  },
  {
    method: 'patch',
    path: '/v1/users/me',
    summary: "Update the caller's profile",
    description: '`username: null` removes the name; an absent member leaves it as it is.',
    tag: 'Users',
    noStore: true,
    bearer: true,
    store: true,
    request: { body: jsonBody(UpdateProfileRequest) },
    responses: { 200: ok('The updated profile', ProfileDoc, NO_STORE) },
    problems: ['conflict'],
    handler: (deps) => async (req, res) => {
      const body = UpdateProfileRequest.parse(req.body);
      const { userId } = authOf(res);
      await updateProfile(
        deps,
        userId,
        body.username === undefined ? {} : { username: body.username },
        requestContext(req, deps, { type: 'user', id: userId }),
      );
      res.status(200).json(await profileOf(deps, userId));
    },
  },
];

export const userRoutes = (deps: ApiDeps): RouteTable => mountRoutes(USER_ROUTES, deps, deps);
