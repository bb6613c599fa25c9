import { handle, loadStream, type CommandContext } from '../write/handle';
import type { Position } from '../event-store';
import {
  userDecider,
  userStreamId,
  type DeactivateUser,
  type GrantRole,
  type ReactivateUser,
  type RevokeRole,
  type Role,
  type UnlockUser,
} from '../../domain/user';
import { DomainError } from '../../domain/shared';
import type { AdminDirectory } from '../ports';
import { bootstrapAddress } from './bootstrap-admin';
import type { AccountDeps } from './deps';
import { findAccountByEmail } from './find-account';

/**
 * The administration commands (CONTRACT.md "Administration"). Each needs a reason, recorded with the
 * acting admin in the metadata of every event it writes. Repeating one that is already in effect records
 * nothing and succeeds.
 */
export type AdminContext = CommandContext & { reason: string };

type AdminCommand = DeactivateUser | ReactivateUser | UnlockUser | GrantRole | RevokeRole;

const run = async (
  deps: Pick<AccountDeps, 'store'>,
  userId: string,
  command: AdminCommand,
  ctx: AdminContext,
): Promise<{ position: Position | null }> => {
  const result = await handle(deps.store, userDecider, userStreamId(userId), command, ctx);
  return { position: result.position };
};

/** Every session ends at once: the event sets the user stream's cut-off (docs/design.md, "Sessions"). */
export const deactivateUser = (deps: Pick<AccountDeps, 'store'>, userId: string, ctx: AdminContext) =>
  run(deps, userId, { type: 'DeactivateUser', data: { now: ctx.now } }, ctx);

/** Sessions ended by the deactivation stay ended. */
export const reactivateUser = (deps: Pick<AccountDeps, 'store'>, userId: string, ctx: AdminContext) =>
  run(deps, userId, { type: 'ReactivateUser', data: { now: ctx.now } }, ctx);

export const unlockUser = (deps: Pick<AccountDeps, 'store'>, userId: string, ctx: AdminContext) =>
  run(deps, userId, { type: 'UnlockUser', data: { now: ctx.now } }, ctx);

export const grantRole = (deps: Pick<AccountDeps, 'store'>, userId: string, role: Role, ctx: AdminContext) =>
  run(deps, userId, { type: 'GrantRole', data: { role, now: ctx.now } }, ctx);

export type RevokeRoleDeps = Pick<AccountDeps, 'store' | 'emailKeys' | 'config'> & { admins: AdminDirectory };

/** Other accounts that hold `admin` and are active, each checked on its own stream. */
const otherActiveAdmins = async (deps: RevokeRoleDeps, userId: string): Promise<number> => {
  const candidates = (await deps.admins.adminCandidates()).filter((id) => id !== userId);
  const states = await Promise.all(
    candidates.map((id) => loadStream(deps.store, userDecider, userStreamId(id)).then((l) => l.state)),
  );
  return states.filter((s) => s.status === 'active' && s.roles.includes('admin')).length;
};

/**
 * Revoking `admin` from the bootstrap address, or from the last active admin, is refused with 409
 * `conflict`, and the attempt is recorded (AdminCommandRefused). Revocations of `admin` run one at a time
 * across instances; the candidates come from the read model, so one granted a moment ago may not be
 * counted yet (the safe direction: a refusal, never a service without an admin).
 */
export const revokeRole = async (
  deps: RevokeRoleDeps,
  userId: string,
  role: Role,
  ctx: AdminContext,
): Promise<{ position: Position | null }> => {
  if (role !== 'admin') return run(deps, userId, { type: 'RevokeRole', data: { role, now: ctx.now } }, ctx);
  return deps.admins.exclusive(async () => {
    const bootstrap = bootstrapAddress(deps);
    const bootstrapUserId =
      bootstrap === null ? null : (await findAccountByEmail(deps, bootstrap))?.user?.userId;
    const roster = {
      isBootstrapAdmin: bootstrapUserId === userId,
      otherActiveAdmins: await otherActiveAdmins(deps, userId),
    };
    const result = await handle(
      deps.store,
      userDecider,
      userStreamId(userId),
      { type: 'RevokeRole', data: { role, now: ctx.now, roster } },
      ctx,
    );
    const refused = result.events.find((e) => e.type === 'AdminCommandRefused');
    if (refused?.type === 'AdminCommandRefused') {
      throw new DomainError(
        'conflict',
        refused.data.rule === 'bootstrap_admin'
          ? 'This account is the BOOTSTRAP_ADMIN_EMAIL address: its admin role cannot be revoked'
          : 'This is the last active admin: grant admin to another account first',
      );
    }
    return { position: result.position };
  });
};
