import { handle, loadStream, type CommandContext } from '../write/handle';
import { isLocked, requireUsableAccount, userDecider, userStreamId } from '../../domain/user';
import { openSealed, type AccountDeps } from './deps';

export type ConfirmOutcome = 'confirmed' | 'invalid_credentials';

/**
 * The password of a signed-in user, asked again before a step that cannot be undone (deleting the
 * account, changing its address). A wrong one is recorded as a failed login and counts toward the
 * lockout; while locked, the password is not even checked, as on login. (The contract's "recent
 * authentication" will take this place once reauthentication exists.)
 */
export const confirmPassword = async (
  deps: Pick<AccountDeps, 'store' | 'vault' | 'hasher'>,
  userId: string,
  password: string,
  ctx: CommandContext,
): Promise<ConfirmOutcome> => {
  const streamId = userStreamId(userId);
  const loaded = await loadStream(deps.store, userDecider, streamId);
  const account = requireUsableAccount(loaded.state);
  if (isLocked(account.lockout, ctx.now)) return 'invalid_credentials';
  const stored = await openSealed(deps, userId, account.passwordHash);
  const passwordVerified = stored !== null && (await deps.hasher.verify(stored, password));
  const result = await handle(
    deps.store,
    userDecider,
    streamId,
    { type: 'ConfirmPassword', data: { passwordVerified, now: ctx.now } },
    ctx,
  );
  return result.outcome === 'confirmed' ? 'confirmed' : 'invalid_credentials';
};
