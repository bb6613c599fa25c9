import { toTimestamp } from '../shared/decider';
import { DomainError } from '../shared/errors';
import type {
  DeactivateUser,
  EraseUser,
  GrantRole,
  ReactivateUser,
  RevokeRole,
  UnlockUser,
} from './commands';
import type { UserEvent } from './events';
import { hasLockoutHistory } from './lockout';
import { isRole, type Role } from './roles';
import { requireAccount, type UserState } from './state';

export const deactivateUser = ({ data }: DeactivateUser, state: UserState): UserEvent[] => {
  const account = requireAccount(state);
  if (account.status === 'deactivated') return [];
  return [{ type: 'UserDeactivated', data: { at: toTimestamp(data.now) } }];
};

/** Sessions ended by the deactivation stay ended: its cut-off remains. */
export const reactivateUser = ({ data }: ReactivateUser, state: UserState): UserEvent[] => {
  const account = requireAccount(state);
  if (account.status !== 'deactivated') return [];
  return [{ type: 'UserReactivated', data: { at: toTimestamp(data.now) } }];
};

/** Also wipes failures below the threshold and the lock level, so the next lock is short again. */
export const unlockUser = ({ data }: UnlockUser, state: UserState): UserEvent[] => {
  const account = requireAccount(state);
  if (!hasLockoutHistory(account.lockout)) return [];
  return [{ type: 'AccountUnlocked', data: { at: toTimestamp(data.now), by: 'admin' } }];
};

/** The application then deletes the user's data key and releases the address (docs/design.md). */
export const eraseUser = ({ data }: EraseUser, state: UserState): UserEvent[] => {
  if (state.status === 'erased') return [];
  requireAccount(state);
  return [{ type: 'UserErased', data: { at: toTimestamp(data.now) } }];
};

/** Roles arrive from the CLI and the API; only the known ones are ever recorded. */
const requireRole = (role: string): Role => {
  if (!isRole(role)) throw new DomainError('unknown-role', 'No such role');
  return role;
};

export const grantRole = ({ data }: GrantRole, state: UserState): UserEvent[] => {
  const role = requireRole(data.role);
  const account = requireAccount(state);
  if (account.roles.includes(role)) return [];
  return [{ type: 'RoleGranted', data: { role } }];
};

export const revokeRole = ({ data }: RevokeRole, state: UserState): UserEvent[] => {
  const role = requireRole(data.role);
  const account = requireAccount(state);
  if (!account.roles.includes(role)) return [];
  return [{ type: 'RoleRevoked', data: { role } }];
};
