import { randomUUID } from 'node:crypto';
import { isDomainError } from '../domain/shared';
import { isRole, ROLES } from '../domain/user';
import { grantRole, revokeRole, type AdminContext } from '../application/user/admin';
import type { AdminDirectory } from '../application/ports';
import type { AccountDeps } from '../application/user/deps';
import { findAccountByEmail } from '../application/user/find-account';
import { parseCommandArgs, UsageError } from './args';
import type { CliCommand, CliOption } from './command';
import { withServices } from './open';
import { problemLine, REMOTE_OPTIONS, remoteAdmin, remoteUserId, type RemoteAdmin } from './remote';

type RoleAction = 'grant' | 'revoke';

type Output = { out: (line: string) => void; err: (line: string) => void };

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const usage = (action: RoleAction) =>
  `usage: identity roles ${action} <email|user id> <role> --reason "<why>"  (roles: ${ROLES.join(', ')})`;

const ROLE_OPTIONS: Record<string, CliOption> = {
  reason: { type: 'string', value: '"<why>"', description: 'recorded on the event (required)' },
  ...REMOTE_OPTIONS,
};

/** `<target> <role> --reason "..."` or `--reason=...`, in any order; null when something is missing. */
export const parseRoleArgs = (args: string[]): { target: string; role: string; reason: string } | null => {
  try {
    const { values, positionals } = parseCommandArgs(args, ROLE_OPTIONS, { min: 2, max: 2 });
    const reason = (values.reason as string | undefined)?.trim();
    const [target, role] = positionals as [string, string];
    return reason ? { target, role, reason } : null;
  } catch (e) {
    if (e instanceof UsageError) return null;
    throw e;
  }
};

/** Grant or revoke through the admin API of a running service (`--url`): no downtime on any store. */
export const runRemoteRoleCommand = async (
  remote: RemoteAdmin,
  action: RoleAction,
  parsed: { target: string; role: string; reason: string },
  io: Output,
): Promise<number> => {
  if (!isRole(parsed.role)) {
    io.err(`unknown role "${parsed.role}"; roles: ${ROLES.join(', ')}`);
    return 2;
  }
  const userId = await remoteUserId(remote, parsed.target);
  if (userId === null) {
    io.err('no account with that email address');
    return 1;
  }
  const res =
    action === 'grant'
      ? await remote.call('POST', `/v1/admin/users/${userId}/roles`, {
          role: parsed.role,
          reason: parsed.reason,
        })
      : await remote.call('POST', `/v1/admin/users/${userId}/roles/${parsed.role}/revoke`, {
          reason: parsed.reason,
        });
  if (res.status >= 300) {
    io.err(`refused by ${remote.url}: ${problemLine(res.status, res.body)}`);
    return 1;
  }
  io.out(
    `${parsed.role} ${action === 'grant' ? 'granted to' : 'revoked from'} user ${userId} (via ${remote.url})`,
  );
  return 0;
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
  summary: `${action} a role (${ROLES.join(', ')})`,
  usage: '<email | user id> <role>',
  options: ROLE_OPTIONS,
  details: [
    `example: identity roles ${action} ada@example.com admin --reason "on-call lead"`,
    `through a running service: IDENTITY_TOKEN=<admin access token> identity roles ${action} ... --url https://id.example.com`,
  ],
  run: async (args, config) => {
    const parsed = parseRoleArgs(args);
    if (parsed === null) {
      const { values } = parseCommandArgs(args, ROLE_OPTIONS, { min: 2, max: 2 });
      if (!(values.reason as string | undefined)?.trim())
        throw new UsageError('--reason "<why>" is required');
      process.stderr.write(`${usage(action)}\n`);
      return 2;
    }
    const io: Output = {
      out: (line) => process.stdout.write(`${line}\n`),
      err: (line) => process.stderr.write(`${line}\n`),
    };
    const remote = remoteAdmin(parseCommandArgs(args, ROLE_OPTIONS));
    if (remote) return runRemoteRoleCommand(remote, action, parsed, io);
    return withServices(config, (services) => runRoleCommand(services, action, args, io));
  },
});

export const rolesGrant = roleCommand('grant');
export const rolesRevoke = roleCommand('revoke');
