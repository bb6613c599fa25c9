import { acceptInvitation, inviteUser, revokeInvitation } from '../../application/user/invite';
import type { ApiDeps } from '../deps';
import { requestContext, userIdParam } from '../account-http';
import { authOf } from '../authenticate';
import { UserIdPath } from '../openapi/schemas';
import { AdminCommandRequest } from '../schemas';
import { InviteCreated, InviteRequest, SetPasswordRequest } from '../self-service-schemas';
import { mountRoutes } from './mount';
import { NO_CONTENT, NO_STORE, jsonBody, ok, type RouteDef } from './route';
import type { RouteTable } from './table';

const ADMIN = {
  tag: 'Admin',
  noStore: true,
  bearer: true,
  roles: ['admin'],
  idempotency: 'replay',
  store: true,
} as const;

/**
 * Admin invitations (CONTRACT.md "Pages a person opens"): the invite mails a set-password link
 * (`${EMAIL_LINK_BASE_URL}/set-password?token=`, a hosted page), single use, valid INVITATION_TTL_SECONDS
 * (7 days); the account is verified when the invitee sets the password. `POST /v1/auth/set-password` is
 * the same step for an app that takes the link itself.
 */
export const INVITATION_ROUTES: RouteDef<ApiDeps>[] = [
  {
    ...ADMIN,
    method: 'post',
    path: '/v1/admin/users/invite',
    summary: 'Invite a person: an account with a set-password link mailed to them',
    description:
      'Role `admin`; the `reason` is recorded on the event. 409 when the address already has an account.',
    request: { body: jsonBody(InviteRequest) },
    responses: { 201: ok('Invited; the link is on its way', InviteCreated, NO_STORE) },
    problems: ['conflict'],
    handler: (deps) => async (req, res) => {
      const body = InviteRequest.parse(req.body);
      const ctx = {
        ...requestContext(req, deps, { type: 'admin', id: authOf(res).userId }),
        reason: body.reason,
      };
      const { userId } = await inviteUser(deps, { email: body.email, roles: body.roles ?? [] }, ctx);
      res.status(201).json({ user_id: userId });
    },
  },
  {
    ...ADMIN,
    method: 'post',
    path: '/v1/admin/users/:id/invitation/revoke',
    summary: 'Revoke an open invitation',
    description:
      'Its link stops working and the invited account is erased (the address is free again). 409 when the ' +
      'invitation was accepted already. Role `admin`; the `reason` is recorded on the event.',
    request: { params: UserIdPath, body: jsonBody(AdminCommandRequest) },
    responses: { 204: NO_CONTENT },
    problems: ['not-found', 'conflict'],
    handler: (deps) => async (req, res) => {
      const userId = userIdParam(req);
      const body = AdminCommandRequest.parse(req.body);
      const ctx = {
        ...requestContext(req, deps, { type: 'admin', id: authOf(res).userId }),
        reason: body.reason,
      };
      await revokeInvitation(deps, userId, ctx);
      res.status(204).end();
    },
  },
  {
    method: 'post',
    path: '/v1/auth/set-password',
    summary: 'Set the first password with the token from an invitation',
    description:
      'The account becomes active and its address verified. A weak password does not use up the token.',
    tag: 'Auth',
    idempotency: 'replay',
    store: true,
    rateLimit: { bucket: 'reset-password', perMinute: 'emailPerMinute' },
    request: { body: jsonBody(SetPasswordRequest) },
    responses: { 204: NO_CONTENT },
    problems: ['invalid-or-expired-token', 'weak-password'],
    handler: (deps) => async (req, res) => {
      const body = SetPasswordRequest.parse(req.body);
      await acceptInvitation(
        deps,
        { token: body.token, newPassword: body.new_password },
        requestContext(req, deps, { type: 'user', id: null }),
      );
      res.status(204).end();
    },
  },
];

export const invitationRoutes = (deps: ApiDeps): RouteTable => mountRoutes(INVITATION_ROUTES, deps, deps);
