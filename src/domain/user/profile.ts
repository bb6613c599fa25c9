import { toTimestamp } from '../shared/decider';
import type { EndAllSessions, UpdateProfile } from './commands';
import type { UserEvent } from './events';
import { requireAccount, requireUsableAccount, type UserState } from './state';

/**
 * Sealed values are compared as they are: the application passes the stored sealed username when the
 * name did not change, and a fresh sealing of the same name records one harmless extra event.
 */
export const decideUpdateProfile = ({ data }: UpdateProfile, state: UserState): UserEvent[] => {
  const account = requireUsableAccount(state);
  if (account.username === data.username) return [];
  return [{ type: 'UserProfileUpdated', data: { username: data.username } }];
};

/**
 * Always recorded for a usable account, also right after another logout-all: a login at the cut-off's own
 * revision started a session that is still alive. A deactivated account has no living session.
 */
export const endAllSessions = ({ data }: EndAllSessions, state: UserState): UserEvent[] => {
  const account = requireAccount(state);
  if (account.status === 'deactivated') return [];
  return [{ type: 'AllSessionsEnded', data: { at: toTimestamp(data.now), reason: 'logout_all' } }];
};
