import { canonicalEmail } from '../canonical-email';
import { handle, loadStream, type CommandContext } from '../write/handle';
import type { Position } from '../event-store';
import { releaseAddress, reservationStreamOf } from '../flows/email-reservation';
import { requireAccount, userDecider, userStreamId } from '../../domain/user';
import type { AccountDeps } from './deps';

/**
 * Erasure by crypto-shredding (docs/design.md, "Personal data"): the history stays and still replays, but
 * every sealed value in it (email, username, password hash, and the sessions' IPs and user agents) reads
 * as `[erased]` once the user's key is deleted.
 *
 * Order, chosen so that a retry after a crash at any step finishes the job:
 * 1. release the address (its key is still there to compute the reservation stream),
 * 2. append UserErased, which also ends every session,
 * 3. delete the key.
 * A repeated erasure of an erased account deletes the key again (idempotent) and records nothing; a
 * registration that meets a reservation still held by an erased account releases it itself.
 */
export const eraseUser = async (
  deps: Pick<AccountDeps, 'store' | 'vault' | 'emailKeys'>,
  userId: string,
  ctx: CommandContext,
): Promise<{ position: Position | null }> => {
  const streamId = userStreamId(userId);
  const loaded = await loadStream(deps.store, userDecider, streamId);
  if (loaded.state.status === 'erased') {
    await deps.vault.erase(userId);
    return { position: null };
  }
  const account = requireAccount(loaded.state);
  const email = await deps.vault.open(userId, account.email);
  const canonical = email === null ? null : canonicalEmail(email);
  if (canonical !== null) {
    await releaseAddress(deps, reservationStreamOf(deps, canonical), userId, ctx);
  }
  const result = await handle(
    deps.store,
    userDecider,
    streamId,
    { type: 'EraseUser', data: { now: ctx.now } },
    ctx,
  );
  await deps.vault.erase(userId);
  return { position: result.position };
};
