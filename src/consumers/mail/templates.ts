import type { MailMessage } from '../../application/mail/ports';
import type { Templates } from '../../application/templates';

/**
 * The account emails, rendered from the operator's templates (application/templates.ts). Links are built
 * only from the configured EMAIL_LINK_BASE_URL (default PUBLIC_URL; CONTRACT.md "Pages a person opens"): a
 * link built from a request's Host header would let anyone who can send a request make the service mail a
 * token to a domain of their choosing (password-reset poisoning).
 */

export type TemplateContext = {
  /** EMAIL_LINK_BASE_URL: the base of every link, possibly with a path prefix. */
  linkBaseUrl: string;
  templates: Templates;
};

/** `${base}/${page}` with the token as a query parameter, keeping any path prefix of the base. */
export const buildLink = (base: string, page: string, token?: string): string => {
  const url = new URL(base);
  if (url.protocol !== 'https:' && url.protocol !== 'http:')
    throw new RangeError('the link base must be an http(s) URL');
  url.pathname = `${url.pathname.replace(/\/+$/, '')}/${page}`;
  url.search = '';
  url.hash = '';
  if (token !== undefined) url.searchParams.set('token', token);
  return url.toString();
};

export const formatTime = (at: Date): string => `${at.toISOString().slice(0, 16).replace('T', ' ')} UTC`;

const plural = (n: number, unit: string): string => `${n} ${unit}${n === 1 ? '' : 's'}`;

const mail = (
  ctx: TemplateContext,
  kind: MailMessage['kind'] & Parameters<Templates['mail']>[0],
  to: string,
  extra: { link?: string; validFor?: string; at?: Date },
): MailMessage => ({
  to,
  kind,
  ...ctx.templates.mail(kind, {
    to,
    forgotPasswordLink: buildLink(ctx.linkBaseUrl, 'forgot-password'),
    ...(extra.link !== undefined ? { link: extra.link } : {}),
    ...(extra.validFor !== undefined ? { validFor: extra.validFor } : {}),
    ...(extra.at !== undefined ? { at: formatTime(extra.at) } : {}),
  }),
});

export const verificationEmail = (
  ctx: TemplateContext,
  input: { to: string; token: string; validForHours?: number },
): MailMessage =>
  mail(ctx, 'verification', input.to, {
    link: buildLink(ctx.linkBaseUrl, 'verify-email', input.token),
    validFor: plural(input.validForHours ?? 24, 'hour'),
  });

export const passwordResetEmail = (
  ctx: TemplateContext,
  input: { to: string; token: string; validForMinutes?: number },
): MailMessage =>
  mail(ctx, 'reset', input.to, {
    link: buildLink(ctx.linkBaseUrl, 'reset-password', input.token),
    validFor: plural(input.validForMinutes ?? 30, 'minute'),
  });

/**
 * Sent instead of a verification mail when an already verified address registers again, so the answer to
 * the registration stays the same (no enumeration) while the owner learns of it. It offers nothing to act
 * on but the password-reset page.
 */
export const signupAttemptEmail = (ctx: TemplateContext, input: { to: string; at: Date }): MailMessage =>
  mail(ctx, 'signup-attempt', input.to, { at: input.at });

export const passwordChangedEmail = (ctx: TemplateContext, input: { to: string; at: Date }): MailMessage =>
  mail(ctx, 'password-changed', input.to, { at: input.at });

export const passwordResetNoticeEmail = (
  ctx: TemplateContext,
  input: { to: string; at: Date },
): MailMessage => mail(ctx, 'password-reset', input.to, { at: input.at });
