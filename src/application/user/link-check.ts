import { loadStream } from '../write/handle';
import { DomainError } from '../../domain/shared';
import { decideResetPassword, decideUser, userDecider, userStreamId } from '../../domain/user';
import type { AccountDeps } from './deps';

/**
 * Whether a mailed link would still work, WITHOUT using it (CONTRACT.md "Pages a person opens": mail
 * scanners prefetch links, so opening one must change nothing). The decider judges the token on the
 * stream as it is now and what it would record is thrown away; only the form's POST goes through the
 * write path. A used, superseded or expired token, a deactivated or erased account: not usable, and the
 * page says no more than that.
 */
type Deps = Pick<AccountDeps, 'store' | 'oneTimeTokens'>;

const judge = async (
  deps: Deps,
  token: string,
  decide: (userId: string, tokenHash: string, state: Parameters<typeof decideUser>[1]) => boolean,
): Promise<boolean> => {
  const claimed = deps.oneTimeTokens.parse(token);
  if (claimed === null) return false;
  const loaded = await loadStream(deps.store, userDecider, userStreamId(claimed.userId));
  try {
    return decide(claimed.userId, deps.oneTimeTokens.hash(token), loaded.state);
  } catch (e) {
    if (e instanceof DomainError) return false;
    throw e;
  }
};

/** A verification link that would verify now (a repeat of the one that verified does not count). */
export const verificationLinkUsable = (deps: Deps, token: string, now: Date): Promise<boolean> =>
  judge(
    deps,
    token,
    (_userId, tokenHash, state) =>
      decideUser({ type: 'VerifyEmail', data: { tokenHash, now } }, state).events.length > 0,
  );

/** A reset link that would accept a new password now. */
export const resetLinkUsable = (deps: Deps, token: string, now: Date): Promise<boolean> =>
  judge(deps, token, (_userId, tokenHash, state) => {
    if (state.status !== 'pending_verification' && state.status !== 'active') return false;
    decideResetPassword({ type: 'ResetPassword', data: { tokenHash, newPasswordHash: '', now } }, state);
    return true;
  });

/** An email-change confirmation link that would confirm now. */
export const emailChangeLinkUsable = (deps: Deps, token: string, now: Date): Promise<boolean> =>
  judge(
    deps,
    token,
    (_userId, tokenHash, state) =>
      decideUser({ type: 'ConfirmEmailChange', data: { tokenHash, now } }, state).events.length > 0,
  );
