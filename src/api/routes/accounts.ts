import type { RequestHandler } from 'express';
import type { CommandContext } from '../../application/write/handle';
import { changePassword } from '../../application/user/change-password';
import { forgotPassword } from '../../application/user/forgot-password';
import { getProfile } from '../../application/user/profile';
import { registerUser } from '../../application/user/register';
import { resendVerification } from '../../application/user/resend-verification';
import { resetPassword } from '../../application/user/reset-password';
import { verifyEmail } from '../../application/user/verify-email';
import type { ApiDeps } from '../deps';
import { ANONYMOUS, requestContext } from '../account-http';
import { authOf } from '../authenticate';
import { HttpProblem, problem } from '../problem';
import {
  ChangePasswordRequest,
  EmailVerifiedResponse,
  ForgotPasswordRequest,
  RegisterRequest,
  RegistrationAccepted,
  RegistrationCreated,
  RequestAccepted,
  ResendVerificationRequest,
  ResetPasswordRequest,
  VerifyEmailRequest,
} from '../schemas';
import { UniformTiming } from '../uniform-timing';
import { mountRoutes } from './mount';
import { NO_CONTENT, jsonBody, ok, type RouteDef, type RouteSpec } from './route';
import type { RouteTable } from './table';

/** Every account command takes an `Idempotency-Key` and writes to the store. */
const ACCOUNT_COMMAND = {
  tag: 'Auth',
  idempotency: 'replay',
  store: true,
} as const satisfies Partial<RouteSpec>;

// No enumeration: a new address, a pending one and a verified one get the same answer (the mails
// differ, and only the address's owner reads them). REGISTRATION_REVEALS_EXISTING opts out.
const register = (deps: ApiDeps): RequestHandler => {
  const { config } = deps;
  // First guesses of each slow path's cost on a 2-core machine; each floor then learns (uniform-timing.ts).
  const registerTiming = new UniformTiming({ initialMs: 120 });
  return async (req, res) => {
    const body = RegisterRequest.parse(req.body);
    const answer = registerTiming.begin();
    const result = await registerUser(deps, body, requestContext(req, deps, ANONYMOUS));
    if (!config.registrationRevealsExisting) {
      // A new address writes two streams, a known one one: the answers leave alike (uniform-timing.ts).
      await answer.hold(result.outcome === 'registered', res);
      res.status(202).json({ status: 'pending_verification' });
      return;
    }
    if (result.outcome === 'existing') throw problem('conflict', 'The email address is already registered');
    res.status(201).json({ user: await getProfile(deps, result.userId) });
  };
};

// Answered 202 whatever the address (unknown, malformed, verified, throttled), and at the same moment.
const mailRequest =
  (
    schema: typeof ForgotPasswordRequest,
    run: (deps: ApiDeps, email: string, ctx: CommandContext) => Promise<boolean>,
  ) =>
  (deps: ApiDeps): RequestHandler => {
    const timing = new UniformTiming({ initialMs: 25 });
    return async (req, res) => {
      const body = schema.parse(req.body);
      const answer = timing.begin();
      await answer.hold(await run(deps, body.email, requestContext(req, deps, ANONYMOUS)), res);
      res.status(202).json({ status: 'accepted' });
    };
  };

const changePasswordHandler =
  (deps: ApiDeps): RequestHandler =>
  async (req, res) => {
    const body = ChangePasswordRequest.parse(req.body);
    const auth = authOf(res);
    if (auth.session.status === 'none') throw problem('invalid-token');
    const outcome = await changePassword(
      deps,
      {
        userId: auth.userId,
        sessionId: auth.sessionId,
        sessionStartedAtUserRevision: auth.session.startedAtUserRevision,
        currentPassword: body.current_password,
        newPassword: body.new_password,
      },
      requestContext(req, deps, { type: 'user', id: auth.userId }),
    );
    if (outcome !== 'changed') {
      // The contract's one 403 use of this code: the caller is signed in, the proof is what failed.
      throw new HttpProblem(403, 'invalid-credentials', 'The current password is not correct');
    }
    res.status(204).end();
  };

/**
 * Registration, verification and passwords (CONTRACT.md "Accounts"). Login, refresh and logout are in
 * auth.ts. Every handler parses with the strict schema, then runs the command.
 */
export const ACCOUNT_ROUTES: RouteDef<ApiDeps>[] = [
  {
    ...ACCOUNT_COMMAND,
    method: 'post',
    path: '/v1/auth/register',
    summary: 'Register an account',
    description:
      'A new address, one pending verification and one already registered get the same answer (no ' +
      'enumeration); the mails differ. With `REGISTRATION_REVEALS_EXISTING=true`: 201 or 409 instead.',
    rateLimit: { bucket: 'register', perMinute: 'registerPerMinute' },
    request: { body: jsonBody(RegisterRequest) },
    responses: {
      202: ok('Accepted; a verification email is on its way', RegistrationAccepted),
      201: ok('Created (only with `REGISTRATION_REVEALS_EXISTING=true`)', RegistrationCreated),
    },
    problems: ['weak-password', 'conflict'],
    handler: register,
  },
  {
    ...ACCOUNT_COMMAND,
    method: 'post',
    path: '/v1/auth/verify-email',
    summary: 'Verify the email address with the token from the link',
    rateLimit: { bucket: 'verify-email', perMinute: 'emailPerMinute' },
    request: { body: jsonBody(VerifyEmailRequest) },
    responses: { 200: ok('Verified; the token is used up', EmailVerifiedResponse) },
    problems: ['invalid-or-expired-token'],
    handler: (deps) => async (req, res) => {
      const body = VerifyEmailRequest.parse(req.body);
      await verifyEmail(deps, body.token, requestContext(req, deps, ANONYMOUS));
      res.status(200).json({ email_verified: true });
    },
  },
  {
    ...ACCOUNT_COMMAND,
    method: 'post',
    path: '/v1/auth/resend-verification',
    summary: 'Send the verification email again',
    description: 'Always 202, also for an unknown or malformed address (then nothing is sent).',
    rateLimit: { bucket: 'resend-verification', perMinute: 'emailPerMinute' },
    request: { body: jsonBody(ResendVerificationRequest) },
    responses: { 202: ok('Accepted', RequestAccepted) },
    handler: mailRequest(ResendVerificationRequest, resendVerification),
  },
  {
    ...ACCOUNT_COMMAND,
    method: 'post',
    path: '/v1/auth/forgot-password',
    summary: 'Send a password reset link',
    description: 'Always 202, also for an unknown or malformed address (then nothing is sent).',
    rateLimit: { bucket: 'forgot-password', perMinute: 'emailPerMinute' },
    request: { body: jsonBody(ForgotPasswordRequest) },
    responses: { 202: ok('Accepted', RequestAccepted) },
    handler: mailRequest(ForgotPasswordRequest, forgotPassword),
  },
  {
    ...ACCOUNT_COMMAND,
    method: 'post',
    path: '/v1/auth/reset-password',
    summary: 'Set a new password with the token from the reset link',
    description: 'Every session ends and the lockout is cleared. A weak password does not use up the token.',
    rateLimit: { bucket: 'reset-password', perMinute: 'emailPerMinute' },
    request: { body: jsonBody(ResetPasswordRequest) },
    responses: { 204: NO_CONTENT },
    problems: ['invalid-or-expired-token', 'weak-password'],
    handler: (deps) => async (req, res) => {
      const body = ResetPasswordRequest.parse(req.body);
      await resetPassword(
        deps,
        { token: body.token, newPassword: body.new_password },
        requestContext(req, deps, ANONYMOUS),
      );
      res.status(204).end();
    },
  },
  {
    ...ACCOUNT_COMMAND,
    method: 'post',
    path: '/v1/auth/change-password',
    summary: 'Change the password',
    description: 'Every OTHER session ends. A wrong current password is 403 and counts toward the lockout.',
    bearer: true,
    request: { body: jsonBody(ChangePasswordRequest) },
    responses: { 204: NO_CONTENT },
    problems: [{ code: 'invalid-credentials', status: 403 }, 'weak-password', 'conflict'],
    handler: changePasswordHandler,
  },
];

export const accountRoutes = (deps: ApiDeps): RouteTable => mountRoutes(ACCOUNT_ROUTES, deps, deps);
