import { loadStream } from '../../application/write/handle';
import type { EventStore } from '../../application/event-store';
import type { MailMessage } from '../../application/mail/ports';
import type { EmailKeys, OneTimeTokens, PersonalDataVault } from '../../application/ports';
import { findAccountByEmail } from '../../application/user/find-account';
import type { Templates } from '../../application/templates';
import { isAccount, userDecider, userStreamId, type Account } from '../../domain/user';
import {
  buildLink,
  formatTime,
  passwordChangedEmail,
  passwordResetEmail,
  passwordResetNoticeEmail,
  signupAttemptEmail,
  verificationEmail,
  type TemplateContext,
} from './templates';

/** What the outbox holds for one mail: whom it concerns, which mail, and the token it carries. */
export type MailRequest = {
  userId: string;
  kind: string;
  tokenId: string | null;
  tokenExpiresAt: Date | null;
  occurredAt: Date;
};

export type DropReason = 'token-expired' | 'stale' | 'erased' | 'no-account' | 'unknown-kind';

export type ComposeDeps = {
  store: EventStore;
  vault: Pick<PersonalDataVault, 'open'>;
  oneTimeTokens: OneTimeTokens;
  emailKeys: EmailKeys;
  templates: Templates;
  /** EMAIL_LINK_BASE_URL (default PUBLIC_URL): the base of every mailed link. */
  linkBaseUrl: string;
  /** A notice older than this when it could first be sent is dropped rather than sent late. */
  staleAfterMs: number;
};

/**
 * The mail a request becomes NOW, or why it is not sent: a token that expired meanwhile, a notice too old
 * to be useful, an account erased since. The address is the one stored on the account, opened from its
 * events at sending time, never one from a request (Django CVE-2019-19844); the token is derived again from
 * its id, the same one the event's hash was made from (docs/design.md, "One-time tokens"), so no token is
 * ever written down.
 */
export const composeMail = async (
  deps: ComposeDeps,
  request: MailRequest,
  now: Date,
): Promise<{ message: MailMessage } | { drop: DropReason }> => {
  if (request.tokenExpiresAt !== null && request.tokenExpiresAt.getTime() <= now.getTime()) {
    return { drop: 'token-expired' };
  }
  if (request.tokenId === null && now.getTime() - request.occurredAt.getTime() > deps.staleAfterMs) {
    return { drop: 'stale' };
  }
  const user = await loadStream(deps.store, userDecider, userStreamId(request.userId));
  if (user.state.status === 'erased') return { drop: 'erased' };
  if (!isAccount(user.state)) return { drop: 'no-account' };
  if (request.kind === 'email-change') return emailChangeMail(deps, request, user.state, now);
  const to = await deps.vault.open(request.userId, user.state.email);
  if (to === null) return { drop: 'erased' };
  const message = messageFor(deps, request, to, now);
  return message === null ? { drop: 'unknown-kind' } : { message };
};

const messageFor = (deps: ComposeDeps, request: MailRequest, to: string, now: Date): MailMessage | null => {
  const ctx: TemplateContext = { linkBaseUrl: deps.linkBaseUrl, templates: deps.templates };
  const at = request.occurredAt;
  const left = request.tokenExpiresAt ? request.tokenExpiresAt.getTime() - now.getTime() : 0;
  const token = (kind: 'verify-email' | 'reset-password') =>
    deps.oneTimeTokens.issue(kind, request.userId, request.tokenId as string).token;
  switch (request.kind) {
    case 'verification':
      return verificationEmail(ctx, {
        to,
        token: token('verify-email'),
        validForHours: Math.max(1, Math.round(left / 3600_000)),
      });
    case 'reset':
      return passwordResetEmail(ctx, {
        to,
        token: token('reset-password'),
        validForMinutes: Math.max(1, Math.round(left / 60_000)),
      });
    case 'signup-attempt':
      return signupAttemptEmail(ctx, { to, at });
    case 'password-changed':
      return passwordChangedEmail(ctx, { to, at });
    case 'password-reset':
      return passwordResetNoticeEmail(ctx, { to, at });
    case 'email-change-notice':
      return {
        to,
        kind: 'email-change-notice',
        ...deps.templates.mail('email-change-notice', {
          to,
          at: formatTime(at),
          forgotPasswordLink: forgot(deps),
        }),
      };
    default:
      return null;
  }
};

const forgot = (deps: ComposeDeps): string => buildLink(deps.linkBaseUrl, 'forgot-password');

/**
 * The mail to the NEW address of an email change: the confirmation link, or, when the address already
 * belongs to another account, a notice to its owner that someone tried (no link). The one asking gets the
 * same answer either way (enumeration-safe); only the mailbox's owner learns which it was. Superseded or
 * confirmed meanwhile: dropped, as a dead link would be.
 */
const emailChangeMail = async (
  deps: ComposeDeps,
  request: MailRequest,
  account: Account,
  now: Date,
): Promise<{ message: MailMessage } | { drop: DropReason }> => {
  const pending = account.pendingEmailChange;
  if (pending === null || pending.tokenId !== request.tokenId) return { drop: 'stale' };
  const to = await deps.vault.open(request.userId, pending.newEmail);
  if (to === null) return { drop: 'erased' };
  const owner = (await findAccountByEmail(deps, to))?.user;
  if (owner && owner.userId !== request.userId && isAccount(owner.state)) {
    const at = formatTime(request.occurredAt);
    return {
      message: {
        to,
        kind: 'email-change',
        ...deps.templates.mail('email-change-taken', { to, at, forgotPasswordLink: forgot(deps) }),
      },
    };
  }
  const { token } = deps.oneTimeTokens.issue('confirm-email', request.userId, pending.tokenId);
  const hours = Math.max(1, Math.round((pending.expiresAt.getTime() - now.getTime()) / 3600_000));
  return {
    message: {
      to,
      kind: 'email-change',
      ...deps.templates.mail('email-change', {
        to,
        link: buildLink(deps.linkBaseUrl, 'confirm-email', token),
        validFor: `${hours} hour${hours === 1 ? '' : 's'}`,
        forgotPasswordLink: forgot(deps),
      }),
    },
  };
};
