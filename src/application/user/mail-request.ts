import { handle, type CommandContext } from '../write/handle';
import { DomainError } from '../../domain/shared';
import { userDecider, userStreamId, type UserCommand } from '../../domain/user';
import type { AccountDeps } from './deps';
import { findAccountByEmail } from './find-account';

/**
 * A request that ends in a mail to an account's address (resend verification, forgot password). It answers
 * nothing: the caller's answer is the same whether the address is unknown, malformed, verified, deactivated,
 * erased or throttled (CONTRACT.md, no enumeration), so a refusal of the decider is swallowed here. The mail
 * goes to the address stored on the account, which the mail consumer opens from the account's own events,
 * never to the string in the request (Django CVE-2019-19844).
 *
 * Resolves true when a request was recorded: the caller's timing floor learns from that path only.
 */
export const requestAccountMail = async (
  deps: AccountDeps,
  email: string,
  ctx: CommandContext,
  command: (userId: string, tokenId: string) => UserCommand,
): Promise<boolean> => {
  const userId = (await findAccountByEmail(deps, email))?.user?.userId;
  if (userId === undefined) return false;
  try {
    const { events } = await handle(
      deps.store,
      userDecider,
      userStreamId(userId),
      command(userId, deps.ids.uuid()),
      ctx,
    );
    return events.length > 0;
  } catch (e) {
    if (e instanceof DomainError) return false;
    throw e;
  }
};
