import type { CommandContext } from '../write/handle';
import type { Position } from '../event-store';
import { confirmPassword } from './confirm-password';
import type { AccountDeps } from './deps';
import { eraseUser } from './erase';

/**
 * Self-service deletion (CONTRACT.md "Pages a person opens", account self-service): the same erasure as
 * the admin's (erase.ts: address released, UserErased ending every session, key shredded), with the user
 * as the actor, after the password was proven again.
 */
export const deleteOwnAccount = async (
  deps: Pick<AccountDeps, 'store' | 'vault' | 'hasher' | 'emailKeys'>,
  userId: string,
  password: string,
  ctx: CommandContext,
): Promise<{ outcome: 'deleted'; position: Position | null } | { outcome: 'invalid_credentials' }> => {
  if ((await confirmPassword(deps, userId, password, ctx)) !== 'confirmed') {
    return { outcome: 'invalid_credentials' };
  }
  const { position } = await eraseUser(deps, userId, ctx);
  return { outcome: 'deleted', position };
};
