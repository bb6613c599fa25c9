import { setTimeout as sleep } from 'node:timers/promises';
import { canonicalEmail } from '../canonical-email';
import { handle, type CommandContext } from '../write/handle';
import { releaseAddress, reserveAddress } from '../flows/email-reservation';
import { WrongExpectedVersionError } from '../event-store';
import { isDomainError } from '../../domain/shared';
import { userDecider, userStreamId, type Account, type RegisterUser } from '../../domain/user';
import { hashNewPassword } from './new-password';
import { grantBootstrapAdminIfDue } from './bootstrap-admin';
import { addSeconds, InvalidEmailError, WeakPasswordError, type AccountDeps } from './deps';
import { findAccountByEmail } from './find-account';

export type RegisterInput = { email: string; password: string; username?: string };

/**
 * `registered`: a new account. `replaced`: the address was pending verification and this registration's
 * password replaced the earlier one. `existing`: the address belongs to a verified account; its owner
 * gets a notice. The caller answers all three alike unless the deployment reveals existing addresses.
 */
export type RegisterOutcome = 'registered' | 'replaced' | 'existing';

export type RegisterResult = { outcome: RegisterOutcome; userId: string };

/** How long a registration waits for a racing one that holds the address to write its account. */
const RACE_DEADLINE_MS = 10_000;

/**
 * Registration through the address's reservation stream (docs/design.md, "Email uniqueness"): reserve
 * `email-<hmac>` at the revision just read, then write `user-<id>` with `no_stream`. Of N racing
 * registrations exactly one reserves; the others read again and take the "already registered" path.
 *
 * The password is checked against the policy and hashed FIRST, on every path, so a new and a known
 * address cost the same (no enumeration by timing) and nothing weak is ever hashed.
 */
export const registerUser = async (
  deps: AccountDeps,
  input: RegisterInput,
  ctx: CommandContext,
): Promise<RegisterResult> => {
  const canonical = canonicalEmail(input.email);
  if (canonical === null) throw new InvalidEmailError();
  const hashed = await hashNewPassword(deps.policy, deps.hasher, input.password, { email: canonical });
  if (!hashed.ok) throw new WeakPasswordError('password', hashed.reasons);

  const deadline = Date.now() + RACE_DEADLINE_MS;
  for (let attempt = 0; ; attempt += 1) {
    const lookup = await findAccountByEmail(deps, canonical);
    if (lookup === null) throw new InvalidEmailError();
    const owner = lookup.user;
    let result: RegisterResult | null = null;
    try {
      if (owner !== null && owner.state.status === 'erased') {
        // An erasure that stopped before releasing the address: finish that step for it.
        await releaseAddress(
          deps,
          lookup.reservationStreamId,
          owner.userId,
          { ...ctx, actor: { type: 'system', id: 'registration' } },
          lookup.reservation,
        );
      } else if (owner !== null) {
        result = await registerAgain(deps, owner.userId, owner.state as Account, hashed.hash, input, ctx);
      } else {
        const userId = deps.ids.uuid();
        await reserveAddress(deps, lookup.reservationStreamId, lookup.reservation, userId, ctx);
        result = await registerNew(deps, userId, canonical, hashed.hash, input, ctx);
      }
    } catch (e) {
      // Lost a race: someone reserved first, is still writing the account, or erased it meanwhile.
      const raced =
        e instanceof WrongExpectedVersionError ||
        isDomainError(e, 'conflict') ||
        isDomainError(e, 'email-taken') ||
        isDomainError(e, 'user-erased');
      if (!raced || Date.now() > deadline) throw e;
      await sleep(10 + Math.floor(Math.random() * 20 * Math.min(attempt + 1, 5)));
      continue;
    }
    if (result === null) continue;
    await grantBootstrapAdminIfDue(deps, canonical, result.userId, ctx);
    return result;
  }
};

const verificationToken = (deps: AccountDeps, userId: string, now: Date) => {
  const tokenId = deps.ids.uuid();
  return {
    verificationTokenId: tokenId,
    verificationTokenHash: deps.oneTimeTokens.issue('verify-email', userId, tokenId).tokenHash,
    verificationExpiresAt: addSeconds(now, deps.config.tokens.verificationTtlSeconds),
  };
};

const registerNew = async (
  deps: AccountDeps,
  userId: string,
  canonical: string,
  passwordHash: string,
  input: RegisterInput,
  ctx: CommandContext,
): Promise<RegisterResult> => {
  // Sealed under the new user's own key before anything enters an event (docs/design.md, "Personal data").
  await deps.vault.createKey(userId);
  const command: RegisterUser = {
    type: 'RegisterUser',
    data: {
      userId,
      email: await deps.vault.seal(userId, canonical),
      ...(input.username !== undefined ? { username: await deps.vault.seal(userId, input.username) } : {}),
      passwordHash: await deps.vault.seal(userId, passwordHash),
      ...verificationToken(deps, userId, ctx.now),
      requireVerification: deps.config.requireVerifiedEmail,
      now: ctx.now,
    },
  };
  await handle(deps.store, userDecider, userStreamId(userId), command, {
    ...ctx,
    actor: { type: 'user', id: userId },
  });
  return { outcome: 'registered', userId };
};

/**
 * The address has an account: the decider replaces a pending registration's password (the latest wins)
 * or records a duplicate attempt on a verified one. Many registrations of one address may land here at
 * once, so conflicts are retried generously: each round lets at least one of them through.
 */
const registerAgain = async (
  deps: AccountDeps,
  userId: string,
  account: Account,
  passwordHash: string,
  input: RegisterInput,
  ctx: CommandContext,
): Promise<RegisterResult> => {
  const command: RegisterUser = {
    type: 'RegisterUser',
    data: {
      userId,
      email: account.email,
      ...(input.username !== undefined ? { username: await deps.vault.seal(userId, input.username) } : {}),
      passwordHash: await deps.vault.seal(userId, passwordHash),
      ...verificationToken(deps, userId, ctx.now),
      requireVerification: deps.config.requireVerifiedEmail,
      now: ctx.now,
    },
  };
  const result = await handle(deps.store, userDecider, userStreamId(userId), command, ctx, { attempts: 31 });
  return {
    outcome: result.state.status === 'pending_verification' ? 'replaced' : 'existing',
    userId,
  };
};
