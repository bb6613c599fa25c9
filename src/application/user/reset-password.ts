import { asUser, handle, loadStream, type CommandContext } from '../write/handle';
import type { Position } from '../event-store';
import {
  decideUser,
  invalidToken,
  userDecider,
  userStreamId,
  type AcceptInvitation,
  type ResetPassword,
} from '../../domain/user';
import { openSealed, WeakPasswordError, type AccountDeps } from './deps';
import { redeemMailedToken } from './mailed-token';

/**
 * A new password chosen through a mailed link: the reset mail (`ResetPassword`) or an invitation
 * (`AcceptInvitation`). The token is checked BEFORE the policy, and the policy before anything is written,
 * so a weak new password is refused (422) without using the token up. Single use is the expected-revision
 * append: of N concurrent uses one writes, the others re-read a stream whose token is gone and are refused.
 */
export const setPasswordWithMailedToken = async (
  deps: AccountDeps,
  type: 'ResetPassword' | 'AcceptInvitation',
  input: { token: string; newPassword: string },
  ctx: CommandContext,
): Promise<{ userId: string; position: Position }> => {
  const claimed = deps.oneTimeTokens.parse(input.token);
  if (claimed === null) throw invalidToken();
  const { userId } = claimed;
  const tokenHash = deps.oneTimeTokens.hash(input.token);
  const streamId = userStreamId(userId);
  return redeemMailedToken(userId, async () => {
    const loaded = await loadStream(deps.store, userDecider, streamId);
    const probe: ResetPassword | AcceptInvitation = {
      type,
      data: { tokenHash, newPasswordHash: '', now: ctx.now },
    };
    // The decider itself judges the token; what it would record is thrown away.
    decideUser(probe, loaded.state);
    if (loaded.state.status !== 'pending_verification' && loaded.state.status !== 'active') {
      throw invalidToken();
    }
    const email = (await openSealed(deps, userId, loaded.state.email)) ?? '';
    const reasons = deps.policy.check(input.newPassword, { email });
    if (reasons.length > 0) throw new WeakPasswordError('new_password', reasons);
    const sealedHash = await deps.vault.seal(userId, await deps.hasher.hash(input.newPassword));
    return handle(
      deps.store,
      userDecider,
      streamId,
      { ...probe, data: { ...probe.data, newPasswordHash: sealedHash } },
      asUser(ctx, userId),
    );
  });
};

/**
 * Sets a new password with the token from the reset mail. The completed reset clears the lockout and,
 * through the user stream's cut-off, ends every session; the notice mail follows from the event.
 */
export const resetPassword = (
  deps: AccountDeps,
  input: { token: string; newPassword: string },
  ctx: CommandContext,
): Promise<{ userId: string; position: Position }> =>
  setPasswordWithMailedToken(deps, 'ResetPassword', input, ctx);
