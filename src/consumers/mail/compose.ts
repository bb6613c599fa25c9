import { loadStream } from '../../application/write/handle';
import type { EventStore } from '../../application/event-store';
import type { MailMessage } from '../../application/mail/ports';
import type { OneTimeTokens, PersonalDataVault } from '../../application/ports';
import type { Templates } from '../../application/templates';
import { isAccount, userDecider, userStreamId } from '../../domain/user';
import {
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
    default:
      return null;
  }
};
