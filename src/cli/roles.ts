import { randomUUID } from 'node:crypto';
import { isDomainError } from '../domain/shared';
import { isRole, ROLES } from '../domain/user';
import { grantRole, revokeRole, type AdminContext } from '../application/user/admin';
import type { AdminDirectory } from '../application/ports';
import type { AccountDeps } from '../application/user/deps';
import { findAccountByEmail } from '../application/user/find-account';
import type { CliCommand } from './command';
import { withServices } from './open';

type RoleAction = 'grant' | 'revoke';

type Output = { out: (line: string) => void; err: (line: string) => void };

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const usage = (action: RoleAction) =>
  `usage: identity roles ${action} <email|user id> <role> --reason "<why>"  (roles: ${ROLES.join(', ')})`;

/** `<target> <role> --reason "..."` or `--reason=...`, in any order. */
export const parseRoleArgs = (args: string[]): { target: string; role: string; reason: string } | null => {
  const positional: string[] = [];
  let reason: string | undefined;
  for (let i = 0; i < args.length; i += 1) {
    const arg = args[i] as string;
    if (arg === '--reason') {
      reason = args[i + 1];
      i += 1;
    } else if (arg.startsWith('--reason=')) {
      reason = arg.slice('--reason='.length);
    } else {
      positional.push(arg);
    }
  }
  const [target, role, ...extra] = positional;
  if (!target || !role || extra.length > 0 || !reason?.trim()) return null;
  return { target, role, reason: reason.trim() };
};

/**
 * Grants or revokes a role from the command line: how the first admin comes to be when
 * BOOTSTRAP_ADMIN_EMAIL is not used. Recorded like an admin command, with the reason, by the operator at
 * the console (actor `system`, id `cli`: there is no signed-in admin to name). Returns the exit code.
 */
export const runRoleCommand = async (
  deps: AccountDeps & { admins: AdminDirectory },
  action: RoleAction,
  args: string[],
  io: Output,
): Promise<number> => {
  const parsed = parseRoleArgs(args);
  if (parsed === null) {
    io.err(usage(action));
    return 2;
  }
  if (!isRole(parsed.role)) {
    io.err(`unknown role "${parsed.role}"; roles: ${ROLES.join(', ')}`);
    return 2;
  }
  let userId: string | undefined;
  if (UUID.test(parsed.target)) {
    userId = parsed.target.toLowerCase();
  } else {
    const lookup = await findAccountByEmail(deps, parsed.target);
    userId = lookup?.user?.userId;
  }
  if (userId === undefined) {
    io.err('no account with that email address');
    return 1;
  }
  const id = randomUUID();
  const ctx: AdminContext = {
    correlationId: id,
    causationId: id,
    actor: { type: 'system', id: 'cli' },
    reason: parsed.reason,
    now: deps.clock.now(),
  };
  try {
    const run = action === 'grant' ? grantRole : revokeRole;
    const { position } = await run(deps, userId, parsed.role, ctx);
    const done = action === 'grant' ? `granted to user ${userId}` : `revoked from user ${userId}`;
    const unchanged = `user ${userId} ${action === 'grant' ? 'already holds it' : 'does not hold it'}`;
    io.out(`${parsed.role} ${position === null ? `unchanged: ${unchanged}` : done}`);
    return 0;
  } catch (e) {
    if (isDomainError(e, 'user-not-found') || isDomainError(e, 'user-erased')) {
      io.err('no such account');
      return 1;
    }
    if (isDomainError(e, 'conflict')) {
      // The last admin or the bootstrap address: refused and recorded, as through the API.
      io.err(`refused: ${e.message}`);
      return 1;
    }
    throw e;
  }
};

const roleCommand = (action: RoleAction): CliCommand => ({
  name: `roles ${action}`,
  summary: `${action} a role (${ROLES.join(', ')}): <email|user id> <role> --reason "..."`,
  run: async (args, config) => {
    if (parseRoleArgs(args) === null) {
      process.stderr.write(`${usage(action)}\n`);
      return 2;
    }
    return withServices(config, (services) =>
      runRoleCommand(services, action, args, {
        out: (line) => process.stdout.write(`${line}\n`),
        err: (line) => process.stderr.write(`${line}\n`),
      }),
    );
  },
});

export const rolesGrant = roleCommand('grant');
export const rolesRevoke = roleCommand('revoke');
