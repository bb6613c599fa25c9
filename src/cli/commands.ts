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
  // Opening the services migrates (safe when several instances start at once).
  run: async (_args, config) => withServices(config, async () => (process.stdout.write('migrated\n'), 0)),
};

/** Every CLI command; each feature adds its own. */
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
