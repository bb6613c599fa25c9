import { handle, loadStream, type CommandContext, type LoadedStream } from '../write/handle';
import { DomainError } from '../../domain/shared';
import {
  isAccount,
  isLocked,
  requireUsableAccount,
  userDecider,
  userStreamId,
  decideChangePassword,
  type UserState,
} from '../../domain/user';
import { openSealed, WeakPasswordError, type AccountDeps } from './deps';

export type ChangePasswordInput = {
  userId: string;
  /** The session making the change: it survives, every other session of the user ends. */
  sessionId: string;
  sessionStartedAtUserRevision: number;
  currentPassword: string;
  newPassword: string;
};

/** `invalid_credentials` covers a wrong current password and a locked account alike (403 to the caller). */
export type ChangePasswordOutcome = 'changed' | 'invalid_credentials';

/**
 * Changes the password of a signed-in user. A wrong current password is recorded like a failed login and
 * counts toward the lockout; while locked, the password is not even checked (as on login). The new
 * password meets the policy before either argon2 run, so a typo in it costs nothing and counts nothing.
 */
export const changePassword = async (
  deps: AccountDeps,
  input: ChangePasswordInput,
  ctx: CommandContext,
): Promise<ChangePasswordOutcome> => {
  const streamId = userStreamId(input.userId);
  const loaded = await loadStream(deps.store, userDecider, streamId);
  const account = requireUsableAccount(loaded.state);
  if (isLocked(account.lockout, ctx.now)) return 'invalid_credentials';

  const email = (await openSealed(deps, input.userId, account.email)) ?? '';
  const reasons = deps.policy.check(input.newPassword, { email });
  if (reasons.length > 0) throw new WeakPasswordError('new_password', reasons);

  const storedHash = await openSealed(deps, input.userId, account.passwordHash);
  const verified = storedHash !== null && (await deps.hasher.verify(storedHash, input.currentPassword));
  const newPasswordHash = verified
    ? await deps.vault.seal(input.userId, await deps.hasher.hash(input.newPassword))
    : '';

  const result = await handle(
    deps.store,
    userDecider,
    streamId,
    ({ state }: LoadedStream<UserState>) => {
      // The check above proved the password that was current then; a concurrent change voids it.
      if (isAccount(state) && state.passwordHash !== account.passwordHash) {
        throw new DomainError('conflict', 'The password was changed meanwhile; retry');
      }
      return decideChangePassword(
        {
          type: 'ChangePassword',
          data: {
            currentPasswordVerified: verified,
            newPasswordHash,
            sessionId: input.sessionId,
            sessionStartedAtUserRevision: input.sessionStartedAtUserRevision,
            now: ctx.now,
          },
        },
        state,
      );
    },
    ctx,
  );
  return result.outcome === 'changed' ? 'changed' : 'invalid_credentials';
};
