import { parkedDeliveries } from '../consumers/relay/parking';
import { replayParked } from '../consumers/relay/replay';
import { relayStatuses } from '../infrastructure/relay/status';
import type { Services } from '../infrastructure/services';
import type { CliCommand } from './command';
import { consoleOutput, type CliOutput } from './io';
import { withServices } from './open';

type Deps = Pick<Services, 'sql' | 'store' | 'clock' | 'vault' | 'relay'>;

/** Per target: its position, lag and parked deliveries (as stored: it works beside running instances). */
export const runRelayStatus = async (deps: Deps, io: CliOutput): Promise<number> => {
  if (deps.relay.length === 0) {
    io.out('no relay targets (set RELAY_CONFIG)');
    return 0;
  }
  for (const t of await relayStatuses(deps)) {
    io.out(
      `${t.name} (${t.type}): position ${t.position ?? 'start'}, lag ${t.lagSeconds.toFixed(1)} s, ` +
        `parked ${t.parked}`,
    );
    for (const p of t.parked ? await parkedDeliveries(deps.sql, t.name) : []) {
      io.out(
        `  parked ${p.type} ${p.eventId} at ${p.position}: ${p.attempts} attempts since ` +
          `${p.firstFailedAt.toISOString()}, last error: ${p.lastError ?? '-'}`,
      );
    }
  }
  return 0;
};

export const runRelayReplay = async (deps: Deps, args: string[], io: CliOutput): Promise<number> => {
  const name = args[0];
  const channel = deps.relay.find((c) => c.target.name === name);
  if (!name || !channel) {
    io.err(
      `usage: relay replay <target>; targets: ${deps.relay.map((c) => c.target.name).join(', ') || 'none'}`,
    );
    return 2;
  }
  const r = await replayParked(channel, deps, new AbortController().signal);
  io.out(`${name}: ${r.delivered} delivered, ${r.missing} no longer in the store, ${r.failed} failed`);
  if (r.failed) io.err(`${name}: stopped at a failure (the rest stay parked): ${r.lastError}`);
  return r.failed ? 1 : 0;
};

export const relayStatus: CliCommand = {
  name: 'relay status',
  summary: "each relay target's position, lag and parked deliveries",
  options: {},
  run: (_args, config) => withServices(config, (services) => runRelayStatus(services, consoleOutput)),
};

export const relayReplay: CliCommand = {
  name: 'relay replay',
  summary: "deliver a target's parked webhook deliveries again, oldest first",
  usage: '<target>',
  options: {},
  run: (args, config) => withServices(config, (services) => runRelayReplay(services, args, consoleOutput)),
};
