import { confirmEmailChange, requestEmailChange } from '../../application/user/change-email';
import { deleteOwnAccount } from '../../application/user/delete-account';
import type { ApiDeps } from '../deps';
import { requestContext } from '../account-http';
import { authOf } from '../authenticate';
import { HttpProblem } from '../problem';
import {
  ChangeEmailAccepted,
  ChangeEmailRequest,
  ConfirmEmailChangeRequest,
  DeleteAccountRequest,
  EmailChangedResponse,
} from '../self-service-schemas';
import { mountRoutes } from './mount';
import { NO_CONTENT, NO_STORE, jsonBody, ok, type RouteDef } from './route';
import type { RouteTable } from './table';

const wrongPassword = () => new HttpProblem(403, 'invalid-credentials', 'The password is not correct');

/**
 * The caller's own account, beyond the profile (users.ts): deleting it. Each step takes the password
 * again (a wrong one counts toward the lockout); recent authentication (issue 15) will stand beside it.
 */
export const SELF_SERVICE_ROUTES: RouteDef<ApiDeps>[] = [
  {
    method: 'post',
    path: '/v1/users/me/email',
    summary: 'Change the email address (sends a confirmation link to the new one)',
    description:
      'A confirmation link goes to the new address and a notice to the current one; nothing changes ' +
      'until the link is confirmed (`/confirm-email?token=` under EMAIL_LINK_BASE_URL, or ' +
      '`POST /v1/auth/confirm-email`). The answer is the same whether the new address is free or taken; ' +
      'a taken address gets a notice that someone tried. A wrong password is 403 and counts toward the lockout.',
    tag: 'Users',
    noStore: true,
    bearer: true,
    idempotency: 'replay',
    store: true,
    request: { body: jsonBody(ChangeEmailRequest) },
    responses: { 202: ok('Accepted; the confirmation link is on its way', ChangeEmailAccepted, NO_STORE) },
    problems: [{ code: 'invalid-credentials', status: 403 }, 'conflict'],
    handler: (services) => async (req, res) => {
      const body = ChangeEmailRequest.parse(req.body);
      const { userId } = authOf(res);
      const ctx = requestContext(req, services, { type: 'user', id: userId });
      const outcome = await requestEmailChange(
        services,
        { userId, newEmail: body.new_email, password: body.password },
        ctx,
      );
      if (outcome !== 'requested') throw wrongPassword();
      res.status(202).json({ status: 'confirmation_sent' });
    },
  },
  {
    method: 'post',
    path: '/v1/auth/confirm-email',
    summary: 'Confirm an email change with the token from the link',
    description:
      'For an app that takes the mailed link itself (EMAIL_LINK_BASE_URL). The new address becomes the ' +
      'account’s (and counts as verified), the old one is released, sessions are kept; 409 when the ' +
      'address was taken by another account meanwhile.',
    tag: 'Auth',
    idempotency: 'replay',
    store: true,
    rateLimit: { bucket: 'verify-email', perMinute: 'emailPerMinute' },
    request: { body: jsonBody(ConfirmEmailChangeRequest) },
    responses: { 200: ok('Changed; the token is used up', EmailChangedResponse) },
    problems: ['invalid-or-expired-token', 'conflict'],
    handler: (services) => async (req, res) => {
      const body = ConfirmEmailChangeRequest.parse(req.body);
      await confirmEmailChange(
        services,
        body.token,
        requestContext(req, services, { type: 'user', id: null }),
      );
      res.status(200).json({ email_changed: true });
    },
  },
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

export const selfServiceRoutes = (services: ApiDeps): RouteTable =>
  mountRoutes(SELF_SERVICE_ROUTES, services, services);
