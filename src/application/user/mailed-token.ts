import type { Position } from '../event-store';
import { isDomainError } from '../../domain/shared';
import { invalidToken } from '../../domain/user';

/**
 * The one use of a mailed token (verification, reset) on the stream of the user it names. A use that
 * recorded nothing (a repeat of the token that already did its work) is refused like any spent token, so
 * concurrent uses give exactly one success; an account that can no longer use it (deactivated) answers
 * the same: the token's holder learns nothing about the account beyond "this link does not work".
 */
export const redeemMailedToken = async (
  userId: string,
  use: () => Promise<{ position: Position | null }>,
): Promise<{ userId: string; position: Position }> => {
  try {
    const { position } = await use();
    if (position === null) throw invalidToken();
    return { userId, position };
  } catch (e) {
    if (isDomainError(e, 'user-deactivated')) throw invalidToken();
    throw e;
  }
};
