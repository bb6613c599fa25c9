import type { MailMessage } from '../../application/mail/ports';

/**
 * The account emails, each as plain text and HTML. Links are built only from the configured PUBLIC_URL
 * (CONTRACT.md "Accounts"): a link built from a request's Host header would let anyone who can send a
 * request make the service mail a token to a domain of their choosing (password-reset poisoning).
 * Every interpolated value is HTML-escaped, attribute values included.
 */

export type TemplateContext = {
  /** PUBLIC_URL: the base of every link, possibly with a path prefix. */
  publicUrl: string;
  /** How the service names itself in subjects and greetings. */
  serviceName?: string;
};

const DEFAULT_SERVICE_NAME = 'Identity';

const HTML_ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

export const escapeHtml = (value: string): string => value.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c] ?? c);

/** `${publicUrl}/${page}` with the token as a query parameter, keeping any path prefix of the base. */
export const buildLink = (publicUrl: string, page: string, token?: string): string => {
  const url = new URL(publicUrl);
  if (url.protocol !== 'https:' && url.protocol !== 'http:')
    throw new RangeError('PUBLIC_URL must be an http(s) URL');
  url.pathname = `${url.pathname.replace(/\/+$/, '')}/${page}`;
  url.search = '';
  url.hash = '';
  if (token !== undefined) url.searchParams.set('token', token);
  return url.toString();
};

const formatTime = (at: Date): string => `${at.toISOString().slice(0, 16).replace('T', ' ')} UTC`;

type Paragraph = string | { link: string; label: string };

/** One layout for all mails: paragraphs, where a link paragraph becomes a button plus the bare URL. */
const render = (service: string, paragraphs: Paragraph[]): { text: string; html: string } => {
  const text = paragraphs
    .map((p) => (typeof p === 'string' ? p : `${p.label}:\n${p.link}`))
    .concat(`-- \n${service}`)
    .join('\n\n');
  const body = paragraphs
    .map((p) =>
      typeof p === 'string'
        ? `<p>${escapeHtml(p)}</p>`
        : `<p><a href="${escapeHtml(p.link)}" style="display:inline-block;padding:10px 16px;background:#1a56db;color:#ffffff;text-decoration:none;border-radius:4px">${escapeHtml(p.label)}</a></p>\n<p style="font-size:12px;color:#555555">If the button does not work, copy this address into your browser:<br>${escapeHtml(p.link)}</p>`,
    )
    .join('\n');
  const html = `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width"><title>${escapeHtml(service)}</title></head>
<body style="font-family:Arial,Helvetica,sans-serif;font-size:15px;line-height:1.5;color:#111111">
${body}
<p style="font-size:12px;color:#555555">${escapeHtml(service)}</p>
</body>
</html>
`;
  return { text, html };
};

const nameOf = (ctx: TemplateContext): string => ctx.serviceName ?? DEFAULT_SERVICE_NAME;

const forgotLink = (ctx: TemplateContext): string => buildLink(ctx.publicUrl, 'forgot-password');

export const verificationEmail = (
  ctx: TemplateContext,
  input: { to: string; token: string; validForHours?: number },
): MailMessage => {
  const service = nameOf(ctx);
  const hours = input.validForHours ?? 24;
  return {
    to: input.to,
    kind: 'verification',
    subject: `${service}: verify your email address`,
    ...render(service, [
      `Please confirm that ${input.to} is your email address by opening the link below.`,
      { link: buildLink(ctx.publicUrl, 'verify-email', input.token), label: 'Verify your email' },
      `The link works once and expires in ${hours} hours. If you did not create an account, ignore this email: nothing happens without the link.`,
    ]),
  };
};

export const passwordResetEmail = (
  ctx: TemplateContext,
  input: { to: string; token: string; validForMinutes?: number },
): MailMessage => {
  const service = nameOf(ctx);
  const minutes = input.validForMinutes ?? 30;
  return {
    to: input.to,
    kind: 'reset',
    subject: `${service}: reset your password`,
    ...render(service, [
      `Someone asked to reset the password of the account for ${input.to}. To choose a new password, open the link below.`,
      { link: buildLink(ctx.publicUrl, 'reset-password', input.token), label: 'Reset your password' },
      `The link works once and expires in ${minutes} minutes; a newer request replaces it. If you did not ask for this, ignore this email: your password stays as it is.`,
    ]),
  };
};

/**
 * Sent instead of a verification mail when an already verified address registers again, so the answer to
 * the registration stays the same (no enumeration) while the owner learns of it. It offers nothing to act
 * on but the password-reset page.
 */
export const signupAttemptEmail = (ctx: TemplateContext, input: { to: string; at?: Date }): MailMessage => {
  const service = nameOf(ctx);
  return {
    to: input.to,
    kind: 'signup-attempt',
    subject: `${service}: someone tried to sign up with your address`,
    ...render(service, [
      `Someone tried to create a new account with ${input.to}${input.at ? ` on ${formatTime(input.at)}` : ''}. You already have an account with this address, so no new account was created and nothing was changed.`,
      'If that was you, sign in with your existing account. If it was not you, your account is unaffected and you do not need to do anything.',
      'If you have forgotten your password, or want to change it to be safe, you can reset it here:',
      { link: forgotLink(ctx), label: 'Reset your password' },
    ]),
  };
};

export const passwordChangedEmail = (ctx: TemplateContext, input: { to: string; at: Date }): MailMessage => {
  const service = nameOf(ctx);
  return {
    to: input.to,
    kind: 'password-changed',
    subject: `${service}: your password was changed`,
    ...render(service, [
      `The password of the account for ${input.to} was changed on ${formatTime(input.at)}. Your other sessions were signed out.`,
      'If you made this change, you do not need to do anything. If you did not, reset your password now:',
      { link: forgotLink(ctx), label: 'Reset your password' },
    ]),
  };
};

export const passwordResetNoticeEmail = (
  ctx: TemplateContext,
  input: { to: string; at: Date },
): MailMessage => {
  const service = nameOf(ctx);
  return {
    to: input.to,
    kind: 'password-reset',
    subject: `${service}: your password was reset`,
    ...render(service, [
      `The password of the account for ${input.to} was reset on ${formatTime(input.at)}. All sessions were signed out.`,
      'If you did this, you do not need to do anything. If you did not, reset your password again now:',
      { link: forgotLink(ctx), label: 'Reset your password' },
    ]),
  };
};
