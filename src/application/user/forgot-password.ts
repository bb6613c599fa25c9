import type { CommandContext } from '../write/handle';
import { addSeconds, type AccountDeps } from './deps';
import { requestAccountMail } from './mail-request';

/**
 * Starts a password reset; answers only whether a request was recorded (see requestAccountMail). The decider throttles (one request per
 * account a minute) and a newer request supersedes the older token.
 */
export const forgotPassword = (deps: AccountDeps, email: string, ctx: CommandContext): Promise<boolean> =>
  requestAccountMail(deps, email, ctx, (userId, tokenId) => ({
    type: 'RequestPasswordReset',
    data: {
      tokenId,
      tokenHash: deps.oneTimeTokens.issue('reset-password', userId, tokenId).tokenHash,
      expiresAt: addSeconds(ctx.now, deps.config.tokens.resetTtlSeconds),
      now: ctx.now,
    },
  }));
