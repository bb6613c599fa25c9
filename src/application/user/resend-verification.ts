import type { CommandContext } from '../write/handle';
import { addSeconds, type AccountDeps } from './deps';
import { requestAccountMail } from './mail-request';

/**
 * Asks for the verification mail again; answers only whether a request was recorded (see requestAccountMail). The decider repeats the
 * outstanding token while it is valid and throttles to one mail a minute.
 */
export const resendVerification = (deps: AccountDeps, email: string, ctx: CommandContext): Promise<boolean> =>
  requestAccountMail(deps, email, ctx, (userId, tokenId) => ({
    type: 'ResendVerification',
    data: {
      newTokenId: tokenId,
      newTokenHash: deps.oneTimeTokens.issue('verify-email', userId, tokenId).tokenHash,
      newExpiresAt: addSeconds(ctx.now, deps.config.tokens.verificationTtlSeconds),
      now: ctx.now,
    },
  }));
