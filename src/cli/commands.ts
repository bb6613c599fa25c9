import type { CliCommand } from './command';
import { eventsTail } from './events-tail';
import { history, state } from './history';
import { keysRotate } from './keys';
import { withServices } from './open';
import { projectionsRebuild, projectionsStatus } from './projections';
import { relayReplay, relayStatus } from './relay';
import { rolesGrant, rolesRevoke } from './roles';

const migrate: CliCommand = {
  name: 'migrate',
  summary: 'apply the schema migrations and exit',
  options: {},
  // Opening the services migrates (safe when several instances start at once).
  run: async (_args, config) => withServices(config, async () => (process.stdout.write('migrated\n'), 0)),
};

/**
 * Every CLI command; each feature adds its own: one `CliCommand` in a file of its own under src/cli/, and
 * one entry here. Help, `--version` and option checking come from the dispatcher (src/cli.ts).
 */
export const commands: CliCommand[] = [
  migrate,
  keysRotate,
  rolesGrant,
  rolesRevoke,
  projectionsStatus,
  projectionsRebuild,
  history,
  state,
  eventsTail,
  relayStatus,
  relayReplay,
];

/** The command an argument list names, longest name first ("projections rebuild" before "projections"). */
export const findCommand = (argv: readonly string[]): CliCommand | undefined =>
  [...commands]
    .sort((a, b) => b.name.split(' ').length - a.name.split(' ').length)
    .find((c) => c.name.split(' ').every((word, i) => argv[i] === word));
