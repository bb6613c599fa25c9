import { asUser, handle, type CommandContext } from '../write/handle';
import type { Position } from '../event-store';
import { invalidToken, userDecider, userStreamId } from '../../domain/user';
import type { AccountDeps } from './deps';
import { redeemMailedToken } from './mailed-token';

/**
 * Verifies the address with the token from the verification mail. The token names its user, so the
 * account is found without a lookup table (docs/design.md, "One-time tokens").
 *
 * Single use (CONTRACT.md): the decider treats a repeat of the token that verified the address as "done
 * already" and records nothing; here that repeat is refused like any spent token, so two concurrent uses
 * give exactly one success. A client that lost the answer retries with its Idempotency-Key.
 */
export const verifyEmail = async (
  deps: Pick<AccountDeps, 'store' | 'oneTimeTokens'>,
  token: string,
  ctx: CommandContext,
): Promise<{ userId: string; position: Position }> => {
  const claimed = deps.oneTimeTokens.parse(token);
  if (claimed === null) throw invalidToken();
  const { userId } = claimed;
  return redeemMailedToken(userId, () =>
    handle(
      deps.store,
      userDecider,
      userStreamId(userId),
      { type: 'VerifyEmail', data: { tokenHash: deps.oneTimeTokens.hash(token), now: ctx.now } },
      asUser(ctx, userId),
    ),
  );
};
