import type { CommandContext } from '../application/write/handle';
import { changePassword } from '../application/user/change-password';
import { forgotPassword } from '../application/user/forgot-password';
import { getProfile } from '../application/user/profile';
import { registerUser } from '../application/user/register';
import { resendVerification } from '../application/user/resend-verification';
import { resetPassword } from '../application/user/reset-password';
import { verifyEmail } from '../application/user/verify-email';
import type { Services } from '../infrastructure/services';
import { command, onceOnly, perIpLimit, requestContext } from './account-http';
import { authenticate, authOf } from './authenticate';
import { parseBody } from './body';
import { HttpProblem, problem } from './problem';
import { createRouteTable, type RouteTable } from './routes';
import { UniformTiming } from './uniform-timing';
import {
  ChangePasswordRequest,
  ForgotPasswordRequest,
  RegisterRequest,
  ResendVerificationRequest,
  ResetPasswordRequest,
  VerifyEmailRequest,
} from './schemas';

const anonymous = { type: 'user', id: null } as const;

/**
 * Registration, verification and passwords (CONTRACT.md "Accounts"). Login, refresh and logout live in
 * sessions.ts. Every route: per-IP limit, then the body (415 for another media type, 413 over 16 KiB),
 * then the Idempotency-Key, then the strict schema, then the command.
 */
export const authRoutes = (services: Services): RouteTable => {
  const { config } = services;
  const table = createRouteTable();
  const json = parseBody('json');
  const anonymousOnce = onceOnly(services, false);
  const mailLimit = (bucket: string) => perIpLimit(services, bucket, config.rateLimits.emailPerMinute);
  // First guesses of each slow path's cost on a 2-core machine; each floor then learns (uniform-timing.ts).
  const registerTiming = new UniformTiming({ initialMs: 120 });

  // No enumeration: a new address, a pending one and a verified one get the same answer (the mails
  // differ, and only the address's owner reads them). REGISTRATION_REVEALS_EXISTING opts out.
  table.add(
    'post',
    '/v1/auth/register',
    perIpLimit(services, 'register', config.rateLimits.registerPerMinute),
    json,
    anonymousOnce,
    command(async (req, res) => {
      const body = RegisterRequest.parse(req.body);
      const answer = registerTiming.begin();
      const result = await registerUser(services, body, requestContext(req, services, anonymous));
      if (!config.registrationRevealsExisting) {
        // A new address writes two streams, a known one one: the answers leave alike (uniform-timing.ts).
        await answer.hold(result.outcome === 'registered', res);
        res.status(202).json({ status: 'pending_verification' });
        return;
      }
      if (result.outcome === 'existing') throw problem('conflict', 'The email address is already registered');
      res.status(201).json({ user: await getProfile(services, result.userId) });
    }),
  );

  table.add(
    'post',
    '/v1/auth/verify-email',
    mailLimit('verify-email'),
    json,
    anonymousOnce,
    command(async (req, res) => {
      const body = VerifyEmailRequest.parse(req.body);
      await verifyEmail(services, body.token, requestContext(req, services, anonymous));
      res.status(200).json({ email_verified: true });
    }),
  );

  // Answered 202 whatever the address (unknown, malformed, verified, throttled), and at the same moment.
  const mailRequest = (
    path: string,
    bucket: string,
    schema: typeof ForgotPasswordRequest,
    run: (deps: Services, email: string, ctx: CommandContext) => Promise<boolean>,
  ) => {
    const timing = new UniformTiming({ initialMs: 25 });
    table.add(
      'post',
      path,
      mailLimit(bucket),
      json,
      anonymousOnce,
      command(async (req, res) => {
        const body = schema.parse(req.body);
        const answer = timing.begin();
        await answer.hold(await run(services, body.email, requestContext(req, services, anonymous)), res);
        res.status(202).json({ status: 'accepted' });
      }),
    );
  };
  mailRequest(
    '/v1/auth/resend-verification',
    'resend-verification',
    ResendVerificationRequest,
    resendVerification,
  );
  mailRequest('/v1/auth/forgot-password', 'forgot-password', ForgotPasswordRequest, forgotPassword);

  table.add(
    'post',
    '/v1/auth/reset-password',
    mailLimit('reset-password'),
    json,
    anonymousOnce,
    command(async (req, res) => {
      const body = ResetPasswordRequest.parse(req.body);
      await resetPassword(
        services,
        { token: body.token, newPassword: body.new_password },
        requestContext(req, services, anonymous),
      );
      res.status(204).end();
    }),
  );

  table.add(
    'post',
    '/v1/auth/change-password',
    authenticate(services),
    json,
    onceOnly(services, true),
    command(async (req, res) => {
      const body = ChangePasswordRequest.parse(req.body);
      const auth = authOf(res);
      if (auth.session.status === 'none') throw problem('invalid-token');
      const outcome = await changePassword(
        services,
        {
          userId: auth.userId,
          sessionId: auth.sessionId,
          sessionStartedAtUserRevision: auth.session.startedAtUserRevision,
          currentPassword: body.current_password,
          newPassword: body.new_password,
        },
        requestContext(req, services, { type: 'user', id: auth.userId }),
      );
      if (outcome !== 'changed') {
        // The contract's one 403 use of this code: the caller is signed in, the proof is what failed.
        throw new HttpProblem(403, 'invalid-credentials', 'The current password is not correct');
      }
      res.status(204).end();
    }),
  );

  return table;
};
