import { toTimestamp, type Decision } from '../shared/decider';
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

export const decideDeactivateUser = ({ data }: DeactivateUser, state: UserState): UserEvent[] => {
  const account = requireAccount(state);
  if (account.status === 'deactivated') return [];
  return [{ type: 'UserDeactivated', data: { at: toTimestamp(data.now) } }];
};

/** Sessions ended by the deactivation stay ended: its cut-off remains. */
export const decideReactivateUser = ({ data }: ReactivateUser, state: UserState): UserEvent[] => {
  const account = requireAccount(state);
  if (account.status !== 'deactivated') return [];
  return [{ type: 'UserReactivated', data: { at: toTimestamp(data.now) } }];
};

/** Also wipes failures below the threshold and the lock level, so the next lock is short again. */
export const decideUnlockUser = ({ data }: UnlockUser, state: UserState): UserEvent[] => {
  const account = requireAccount(state);
  if (!hasLockoutHistory(account.lockout)) return [];
  return [{ type: 'AccountUnlocked', data: { at: toTimestamp(data.now), by: 'admin' } }];
};

/** The application then deletes the user's data key and releases the address (docs/design.md). */
export const decideEraseUser = ({ data }: EraseUser, state: UserState): UserEvent[] => {
  if (state.status === 'erased') return [];
  requireAccount(state);
  return [{ type: 'UserErased', data: { at: toTimestamp(data.now) } }];
};

/** Roles arrive from the CLI and the API; only the known ones are ever recorded. */
const requireRole = (role: string): Role => {
  if (!isRole(role)) throw new DomainError('unknown-role', 'No such role');
  return role;
};

export const decideGrantRole = ({ data }: GrantRole, state: UserState): UserEvent[] => {
  const role = requireRole(data.role);
  const account = requireAccount(state);
  if (account.roles.includes(role)) return [];
  return [{ type: 'RoleGranted', data: { role } }];
};

export type RevokeRoleOutcome = 'revoked' | 'unchanged' | 'refused';

/**
 * Revoking `admin` must not leave the service without one (CONTRACT.md "Administration"): not from the
 * bootstrap address (it would come back at the next start, silently), not from the last active admin. A
 * refusal is an outcome whose event is recorded while the caller answers 409; revoking `admin` without
 * the roster is refused as well, so no caller can skip the check by leaving it out.
 */
export const decideRevokeRole = (
  { data }: RevokeRole,
  state: UserState,
): Decision<RevokeRoleOutcome, UserEvent> => {
  const role = requireRole(data.role);
  const account = requireAccount(state);
  if (!account.roles.includes(role)) return { outcome: 'unchanged', events: [] };
  if (role === 'admin') {
    const roster = data.roster ?? { isBootstrapAdmin: false, otherActiveAdmins: 0 };
    const rule = roster.isBootstrapAdmin
      ? 'bootstrap_admin'
      : roster.otherActiveAdmins === 0
        ? 'last_admin'
        : null;
    if (rule !== null) {
      return {
        outcome: 'refused',
        events: [
          {
            type: 'AdminCommandRefused',
            data: { command: 'RevokeRole', role, rule, at: toTimestamp(data.now) },
          },
        ],
      };
    }
  }
  return { outcome: 'revoked', events: [{ type: 'RoleRevoked', data: { role } }] };
};
