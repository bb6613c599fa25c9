import type { Request, RequestHandler } from 'express';
import type { PageData, PageName } from '../application/templates';
import { forgotPassword } from '../application/user/forgot-password';
import { confirmEmailChange } from '../application/user/change-email';
import {
  emailChangeLinkUsable,
  resetLinkUsable,
  verificationLinkUsable,
} from '../application/user/link-check';
import { resendVerification } from '../application/user/resend-verification';
import { resetPassword } from '../application/user/reset-password';
import { verifyEmail } from '../application/user/verify-email';
import { WeakPasswordError } from '../application/user/deps';
import type { CommandContext } from '../application/write/handle';
import { isDomainError } from '../domain/shared';
import { requestContext, weakPasswordReasonText } from '../api/account-http';
import { UniformTiming } from '../api/uniform-timing';
import { ForgotPasswordRequest } from '../api/schemas';
import { sendPage } from './http';
import type { PageDef, PageDeps } from './route';

const anonymous = { type: 'user', id: null } as const;

const EMAIL_LIMIT = 'emailPerMinute' as const;

const field = (req: Request, name: string): string => {
  const value = (req.body as Record<string, unknown> | undefined)?.[name];
  return typeof value === 'string' ? value : '';
};

const queryToken = (req: Request): string => (typeof req.query.token === 'string' ? req.query.token : '');

const render = (deps: PageDeps, name: PageName, data: PageData = {}): string =>
  deps.templates.page(name, { continueUrl: deps.http.appUrl ?? null, ...data });

const invalidLink = (deps: PageDeps, purpose: 'verify-email' | 'reset-password' | 'confirm-email') =>
  render(deps, 'link-invalid', { purpose });

const isInvalidToken = (e: unknown): boolean => isDomainError(e, 'invalid-or-expired-token');

/**
 * The forms that mail a link (forgot password, new verification link): answered alike whatever the
 * address, at the same moment (api/uniform-timing.ts), as the JSON API does.
 */
const mailForm = (
  form: PageName,
  sent: PageName,
  run: (deps: PageDeps, email: string, ctx: CommandContext) => Promise<boolean>,
) => {
  return (deps: PageDeps): RequestHandler => {
    const timing = new UniformTiming({ initialMs: 25 });
    return async (req, res) => {
      const email = field(req, 'email').trim();
      if (email === '' || !ForgotPasswordRequest.safeParse({ email }).success) {
        const message =
          email === '' ? 'Enter your email address.' : 'Enter an email address like name@example.com.';
        return sendPage(res, 400, render(deps, form, { errors: [{ field: 'email', message }] }));
      }
      const answer = timing.begin();
      await answer.hold(await run(deps, email, requestContext(req, deps, anonymous)), res);
      sendPage(res, 200, render(deps, sent));
    };
  };
};

/**
 * The pages a mailed link opens (CONTRACT.md "Pages a person opens"). A GET only shows: it judges the
 * link without using it (mail scanners open links); the form POSTs to the same path, and only that runs
 * the command, through the same application handler as the JSON API, so the events are the same.
 */
export const PAGE_ROUTES: PageDef[] = [
  {
    method: 'get',
    path: '/verify-email',
    summary: 'The page a verification link opens: a button that verifies',
    handler: (deps) => async (req, res) => {
      const token = queryToken(req);
      if (!(await verificationLinkUsable(deps, token, deps.clock.now()))) {
        return sendPage(res, 400, invalidLink(deps, 'verify-email'));
      }
      sendPage(res, 200, render(deps, 'verify-email', { token }));
    },
  },
  {
    method: 'post',
    path: '/verify-email',
    summary: 'Verifies the address (the form of the verification page)',
    rateLimit: { bucket: 'verify-email', perMinute: EMAIL_LIMIT },
    form: true,
    handler: (deps) => async (req, res) => {
      try {
        await verifyEmail(deps, field(req, 'token'), requestContext(req, deps, anonymous));
      } catch (e) {
        if (isInvalidToken(e)) return sendPage(res, 400, invalidLink(deps, 'verify-email'));
        throw e;
      }
      sendPage(res, 200, render(deps, 'verify-email-done'));
    },
  },
  {
    method: 'get',
    path: '/reset-password',
    summary: 'The page a reset link opens: a form for the new password',
    handler: (deps) => async (req, res) => {
      const token = queryToken(req);
      if (!(await resetLinkUsable(deps, token, deps.clock.now()))) {
        return sendPage(res, 400, invalidLink(deps, 'reset-password'));
      }
      sendPage(res, 200, render(deps, 'reset-password', { token }));
    },
  },
  {
    method: 'post',
    path: '/reset-password',
    summary: 'Sets the new password (the form of the reset page)',
    rateLimit: { bucket: 'reset-password', perMinute: EMAIL_LIMIT },
    form: true,
    handler: (deps) => async (req, res) => {
      const token = field(req, 'token');
      try {
        await resetPassword(
          deps,
          { token, newPassword: field(req, 'new_password') },
          requestContext(req, deps, anonymous),
        );
      } catch (e) {
        if (isInvalidToken(e)) return sendPage(res, 400, invalidLink(deps, 'reset-password'));
        if (e instanceof WeakPasswordError) {
          // The token is not used up (resetPassword checks the policy before it writes): the form again.
          const message = e.reasons.map(weakPasswordReasonText).join(', and ');
          const errors = [{ field: 'new_password', message }];
          return sendPage(res, 422, render(deps, 'reset-password', { token, errors }));
        }
        throw e;
      }
      sendPage(res, 200, render(deps, 'reset-password-done'));
    },
  },
  {
    method: 'get',
    path: '/confirm-email',
    summary: 'The page an email-change link opens: a button that confirms the new address',
    handler: (deps) => async (req, res) => {
      const token = queryToken(req);
      if (!(await emailChangeLinkUsable(deps, token, deps.clock.now()))) {
        return sendPage(res, 400, invalidLink(deps, 'confirm-email'));
      }
      sendPage(res, 200, render(deps, 'confirm-email', { token }));
    },
  },
  {
    method: 'post',
    path: '/confirm-email',
    summary: 'Confirms the new address (the form of the confirmation page)',
    rateLimit: { bucket: 'verify-email', perMinute: EMAIL_LIMIT },
    form: true,
    handler: (deps) => async (req, res) => {
      try {
        await confirmEmailChange(deps, field(req, 'token'), requestContext(req, deps, anonymous));
      } catch (e) {
        if (isInvalidToken(e)) return sendPage(res, 400, invalidLink(deps, 'confirm-email'));
        throw e;
      }
      sendPage(res, 200, render(deps, 'confirm-email-done'));
    },
  },
  {
    method: 'get',
    path: '/forgot-password',
    summary: 'A form that mails a password reset link',
    handler: (deps) => (_req, res) => sendPage(res, 200, render(deps, 'forgot-password')),
  },
  {
    method: 'post',
    path: '/forgot-password',
    summary: 'Mails a reset link (the form of the forgot-password page)',
    rateLimit: { bucket: 'forgot-password', perMinute: EMAIL_LIMIT },
    form: true,
    handler: mailForm('forgot-password', 'forgot-password-sent', forgotPassword),
  },
  {
    method: 'get',
    path: '/resend-verification',
    summary: 'A form that mails a new verification link',
    handler: (deps) => (_req, res) => sendPage(res, 200, render(deps, 'resend-verification')),
  },
  {
    method: 'post',
    path: '/resend-verification',
    summary: 'Mails a new verification link (the form of the page)',
    rateLimit: { bucket: 'resend-verification', perMinute: EMAIL_LIMIT },
    form: true,
    handler: mailForm('resend-verification', 'resend-verification-sent', resendVerification),
  },
  {
    method: 'get',
    path: '/assets/pages.css',
    summary: "The pages' stylesheet",
    handler: (deps) => {
      const css = deps.templates.stylesheet;
      return (_req, res) => {
        res.setHeader('Cache-Control', 'public, max-age=300');
        res.status(200).type('text/css; charset=utf-8').send(css);
      };
    },
  },
];
