import type { EventStore, Position } from '../application/event-store';
import { isPosition } from '../application/event-store';
import { presentEvent } from '../application/events/present';
import { timelineLine } from '../application/history/timeline';
import type { PersonalDataVault } from '../application/ports';
import type { CliCommand } from './command';
import { consoleOutput, takeFlag, takeOption, type CliOutput } from './io';
import { withServices } from './open';

const USAGE = 'usage: identity events tail [--from <position>] [--json] [--reveal-personal-data]';

/**
 * Follows the global event order live until `signal` aborts (Ctrl-C): from `--from` (exclusive), or from
 * now. Personal data is redacted unless `--reveal-personal-data`; hashes and secrets never show.
 * `--json`: one event JSON per line, as the HTTP feed has it.
 */
export const runEventsTail = async (
  deps: { store: EventStore; vault: PersonalDataVault },
  args: string[],
  io: CliOutput,
  signal: AbortSignal,
): Promise<number> => {
  const from = takeOption(args, 'from');
  const json = takeFlag(from.rest, 'json');
  const reveal = takeFlag(json.rest, 'reveal-personal-data');
  if (reveal.rest.length > 0 || from.missing || (from.value !== undefined && !isPosition(from.value))) {
    io.err(USAGE);
    return 2;
  }
  const start: Position | 'end' = from.value ?? 'end';
  for await (const message of deps.store.subscribeToAll({ from: start, signal })) {
    if (message.kind !== 'event') continue;
    const event = await presentEvent(message.event, {
      revealPersonalData: reveal.present,
      vault: deps.vault,
    });
    io.out(
      json.present
        ? JSON.stringify(event)
        : `${event.position}  ${timelineLine(event, { withStream: true })}`,
    );
  }
  return 0;
};

export const eventsTail: CliCommand = {
  name: 'events tail',
  summary: 'follow events live until Ctrl-C: [--from <position>] [--json] [--reveal-personal-data]',
  run: (args, config) =>
    withServices(config, async (services) => {
      const controller = new AbortController();
      const stop = () => controller.abort();
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      try {
        return await runEventsTail(services, args, consoleOutput, controller.signal);
      } finally {
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
      }
    }),
};
