import { handleCommand, type CommandContext } from '../command-handler';
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
import type { AccountDeps } from './deps';

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
  const result = await handleCommand(deps.store, userDecider, userStreamId(userId), command, ctx);
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

export const revokeRole = (deps: Pick<AccountDeps, 'store'>, userId: string, role: Role, ctx: AdminContext) =>
  run(deps, userId, { type: 'RevokeRole', data: { role, now: ctx.now } }, ctx);
