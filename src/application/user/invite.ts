import { setTimeout as sleep } from 'node:timers/promises';
import { canonicalEmail } from '../canonical-email';
import { WrongExpectedVersionError, type Position } from '../event-store';
import { reserveAddress } from '../flows/email-reservation';
import { handle, type CommandContext } from '../write/handle';
import { DomainError, isDomainError } from '../../domain/shared';
import { userDecider, userStreamId, type Role } from '../../domain/user';
import type { AdminContext } from './admin';
import { addSeconds, InvalidEmailError, type AccountDeps } from './deps';
import { eraseUser } from './erase';
import { findAccountByEmail } from './find-account';
import { setPasswordWithMailedToken } from './reset-password';

/**
 * Admin invitations (CONTRACT.md "Pages a person opens"): the account is created through the address's
 * reservation, as a registration is, holding its roles and an unusable password; the invitee chooses the
 * password with the set-password link (`${EMAIL_LINK_BASE_URL}/set-password?token=`), which works once and
 * expires (INVITATION_TTL_SECONDS, 7 days). A revoked invitation erases the account it made, so the
 * address is free again and the link dead.
 */
export const inviteUser = async (
  deps: AccountDeps,
  input: { email: string; roles: readonly Role[] },
  ctx: AdminContext,
): Promise<{ userId: string; position: Position | null }> => {
  const canonical = canonicalEmail(input.email);
  if (canonical === null) throw new InvalidEmailError();
  // Nobody holds this password: a placeholder, so every password check works unchanged and fails.
  const placeholder = await deps.hasher.hash(`${deps.ids.uuid()}${deps.ids.uuid()}`);
  for (let attempt = 0; ; attempt += 1) {
    const lookup = await findAccountByEmail(deps, canonical);
    if (lookup === null) throw new InvalidEmailError();
    if (lookup.user !== null && lookup.user.state.status !== 'erased') {
      throw new DomainError('email-taken', 'The address already belongs to an account');
    }
    const userId = deps.ids.uuid();
    try {
      await reserveAddress(deps, lookup.reservationStreamId, lookup.reservation, userId, ctx);
    } catch (e) {
      const raced = e instanceof WrongExpectedVersionError || isDomainError(e, 'conflict');
      if (!raced || attempt >= 20) throw e;
      await sleep(10 + Math.floor(Math.random() * 40));
      continue;
    }
    await deps.vault.createKey(userId);
    const tokenId = deps.ids.uuid();
    const result = await handle(
      deps.store,
      userDecider,
      userStreamId(userId),
      {
        type: 'InviteUser',
        data: {
          userId,
          email: await deps.vault.seal(userId, canonical),
          passwordHash: await deps.vault.seal(userId, placeholder),
          tokenId,
          tokenHash: deps.oneTimeTokens.issue('set-password', userId, tokenId).tokenHash,
          expiresAt: addSeconds(ctx.now, deps.config.tokens.invitationTtlSeconds),
          roles: [...new Set(input.roles)],
          now: ctx.now,
        },
      },
      ctx,
    );
    return { userId, position: result.position };
  }
};

/** The invitee's password: checked against the policy before anything is written (the link stays good). */
export const acceptInvitation = (
  deps: AccountDeps,
  input: { token: string; newPassword: string },
  ctx: CommandContext,
): Promise<{ userId: string; position: Position }> =>
  setPasswordWithMailedToken(deps, 'AcceptInvitation', input, ctx);

/** Withdraws an open invitation: its link stops working, and the account it made is erased. */
export const revokeInvitation = async (
  deps: AccountDeps,
  userId: string,
  ctx: AdminContext,
): Promise<{ position: Position | null }> => {
  const result = await handle(
    deps.store,
    userDecider,
    userStreamId(userId),
    { type: 'RevokeInvitation', data: { now: ctx.now } },
    ctx,
  );
  if (result.state.status === 'erased') return { position: result.position };
  return eraseUser(deps, userId, ctx);
};
