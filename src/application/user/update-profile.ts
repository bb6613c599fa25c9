import { handle, loadStream, type CommandContext } from '../write/handle';
import type { Position } from '../event-store';
import { requireUsableAccount, userDecider, userStreamId } from '../../domain/user';
import { openSealed, type AccountDeps } from './deps';

/** `username`: absent leaves it as it is, null removes it. */
export type ProfileChanges = { username?: string | null };

/**
 * Updates the signed-in user's profile. A name equal to the current one records nothing: each sealing
 * uses a fresh IV, so the decider cannot see equality in sealed values and the comparison happens here.
 */
export const updateProfile = async (
  deps: Pick<AccountDeps, 'store' | 'vault'>,
  userId: string,
  changes: ProfileChanges,
  ctx: CommandContext,
): Promise<{ position: Position | null }> => {
  if (changes.username === undefined) return { position: null };
  const streamId = userStreamId(userId);
  const account = requireUsableAccount((await loadStream(deps.store, userDecider, streamId)).state);
  const current = await openSealed(deps, userId, account.username);
  if (current === changes.username) return { position: null };
  const username = changes.username === null ? null : await deps.vault.seal(userId, changes.username);
  const result = await handle(
    deps.store,
    userDecider,
    streamId,
    { type: 'UpdateProfile', data: { username, now: ctx.now } },
    ctx,
  );
  return { position: result.position };
};
