import { setTimeout as sleep } from 'node:timers/promises';
import { canonicalEmail } from '../canonical-email';
import { WrongExpectedVersionError, type Position } from '../event-store';
import { releaseAddress, reservationStreamOf } from '../flows/email-reservation';
import { handle, loadStream, type CommandContext } from '../write/handle';
import { emailReservationDecider } from '../../domain/email-reservation';
import { DomainError, isDomainError } from '../../domain/shared';
import {
  decideUser,
  invalidToken,
  requireUsableAccount,
  userDecider,
  userStreamId,
  type Account,
} from '../../domain/user';
import { confirmPassword } from './confirm-password';
import { addSeconds, InvalidEmailError, openSealed, type AccountDeps } from './deps';
import { findAccountByEmail } from './find-account';

/**
 * Changing the address (CONTRACT.md "Pages a person opens", account self-service).
 *
 * The request proves the password, records the new address (sealed) with a token, and answers the same
 * whether the address is free or taken: it does not even look (enumeration-safe, and uniform in timing by
 * construction). The mail consumer looks when it sends: a free address gets the confirmation link
 * (`/confirm-email?token=`), a taken one a notice to its owner that someone tried; the current address
 * gets a notice either way.
 *
 * The confirmation takes the new address's reservation (`email-<hmac>`) at the revision it read, as a
 * registration does, so of a confirmation and a registration racing for one address exactly one
 * reserves; then it records EmailChanged on the user stream, and only after that releases the old
 * address. Sessions are kept: the person proved both the password and the new mailbox.
 */

export type RequestEmailChangeOutcome = 'requested' | 'invalid_credentials';

export const requestEmailChange = async (
  deps: AccountDeps,
  input: { userId: string; newEmail: string; password: string },
  ctx: CommandContext,
): Promise<RequestEmailChangeOutcome> => {
  const canonical = canonicalEmail(input.newEmail);
  if (canonical === null) throw new InvalidEmailError();
  if ((await confirmPassword(deps, input.userId, input.password, ctx)) !== 'confirmed') {
    return 'invalid_credentials';
  }
  const streamId = userStreamId(input.userId);
  const account = requireUsableAccount((await loadStream(deps.store, userDecider, streamId)).state);
  // Its own address already: nothing to confirm, and the answer is the same.
  if ((await openSealed(deps, input.userId, account.email)) === canonical) return 'requested';
  const tokenId = deps.ids.uuid();
  await handle(
    deps.store,
    userDecider,
    streamId,
    {
      type: 'RequestEmailChange',
      data: {
        tokenId,
        tokenHash: deps.oneTimeTokens.issue('confirm-email', input.userId, tokenId).tokenHash,
        expiresAt: addSeconds(ctx.now, deps.config.tokens.verificationTtlSeconds),
        newEmail: await deps.vault.seal(input.userId, canonical),
        now: ctx.now,
      },
    },
    ctx,
  );
  return 'requested';
};

/** The address of the confirmation already belongs to another account (409 to the one confirming). */
export const emailTaken = (): DomainError =>
  new DomainError('email-taken', 'The address already belongs to an account');

const RACE_DEADLINE_MS = 10_000;

/**
 * Takes the new address for `userId`, at the reservation as read: one attempt per read, so a racing
 * registration that reserved first makes this read again and find the address taken.
 */
const reserveNewAddress = async (
  deps: AccountDeps,
  userId: string,
  canonical: string,
  ctx: CommandContext,
): Promise<void> => {
  const deadline = Date.now() + RACE_DEADLINE_MS;
  for (let attempt = 0; ; attempt += 1) {
    const lookup = await findAccountByEmail(deps, canonical);
    if (lookup === null) throw new InvalidEmailError();
    const owner = lookup.user;
    try {
      if (owner !== null && owner.userId !== userId && owner.state.status === 'erased') {
        // An erasure that stopped before releasing the address: finish that step for it.
        await releaseAddress(deps, lookup.reservationStreamId, owner.userId, ctx, lookup.reservation);
        continue;
      }
      if (owner !== null && owner.userId !== userId) throw emailTaken();
      await handle(
        deps.store,
        emailReservationDecider,
        lookup.reservationStreamId,
        { type: 'ReserveEmail', data: { userId, ownerExists: false, now: ctx.now } },
        ctx,
        { initial: lookup.reservation, attempts: 1 },
      );
      return;
    } catch (e) {
      const raced =
        e instanceof WrongExpectedVersionError ||
        isDomainError(e, 'conflict') ||
        isDomainError(e, 'user-erased');
      if (!raced || Date.now() > deadline) throw e;
      await sleep(10 + Math.floor(Math.random() * 20 * Math.min(attempt + 1, 5)));
    }
  }
};

export const confirmEmailChange = async (
  deps: AccountDeps,
  token: string,
  ctx: CommandContext,
): Promise<{ userId: string; position: Position }> => {
  const claimed = deps.oneTimeTokens.parse(token);
  if (claimed === null) throw invalidToken();
  const { userId } = claimed;
  const streamId = userStreamId(userId);
  const tokenHash = deps.oneTimeTokens.hash(token);
  const command = { type: 'ConfirmEmailChange', data: { tokenHash, now: ctx.now } } as const;
  const as = { ...ctx, actor: { type: 'user', id: userId } } as const;
  try {
    const loaded = await loadStream(deps.store, userDecider, streamId);
    // The decider judges the token first; what it would record is thrown away.
    decideUser(command, loaded.state);
    const account = loaded.state as Account;
    const pending = account.pendingEmailChange!;
    const next = canonicalEmail((await openSealed(deps, userId, pending.newEmail)) ?? '');
    const previous = canonicalEmail((await openSealed(deps, userId, account.email)) ?? '');
    if (next === null) throw invalidToken();
    await reserveNewAddress(deps, userId, next, as);
    let position: Position | null;
    try {
      position = (await handle(deps.store, userDecider, streamId, command, as)).position;
    } catch (e) {
      // Superseded or used meanwhile: the address taken for it goes back.
      await releaseAddress(deps, reservationStreamOf(deps, next), userId, as);
      throw e;
    }
    if (position === null) throw invalidToken();
    if (previous !== null && previous !== next) {
      await releaseAddress(deps, reservationStreamOf(deps, previous), userId, as);
    }
    return { userId, position };
  } catch (e) {
    if (isDomainError(e, 'user-deactivated')) throw invalidToken();
    throw e;
  }
};
