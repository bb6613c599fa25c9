import type { EventStore, Position } from '../application/event-store';
import { isPosition } from '../application/event-store';
import { presentEvent } from '../application/events/present';
import { timelineLine } from '../application/history/timeline';
import type { PersonalDataVault } from '../application/ports';
import { parseCommandArgs, UsageError } from './args';
import type { CliCommand, CliOption } from './command';
import { consoleOutput, type CliOutput } from './io';
import { withServices } from './open';

const USAGE = 'usage: identity events tail [--from <position>] [--json] [--reveal-personal-data]';

const OPTIONS: Record<string, CliOption> = {
  from: { type: 'string', value: '<position>', description: 'start after this position (default: now)' },
  json: { type: 'boolean', description: 'one event JSON per line, as the HTTP feed has it' },
  'reveal-personal-data': { type: 'boolean', description: 'open sealed personal data (else "[redacted]")' },
};

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
  let from: string | undefined;
  let json = false;
  let reveal = false;
  try {
    const parsed = parseCommandArgs(args, OPTIONS, { max: 0 });
    from = parsed.values.from as string | undefined;
    json = parsed.values.json === true;
    reveal = parsed.values['reveal-personal-data'] === true;
    if (from !== undefined && !isPosition(from)) {
      throw new UsageError(
        `--from "${from}" is not a position (as in event JSON: 16 hex digits, -, 16 more)`,
      );
    }
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    io.err(`events tail: ${e.message}\n${USAGE}`);
    return 2;
  }
  const start: Position | 'end' = from ?? 'end';
  let waiting = start === 'end';
  io.err(
    start === 'end' ? 'waiting for new events (Ctrl-C to stop)' : `reading from ${start}; Ctrl-C to stop`,
  );
  for await (const message of deps.store.subscribeToAll({ from: start, signal })) {
    if (message.kind === 'caught-up' && !waiting) {
      waiting = true;
      io.err('caught up; waiting for new events');
    }
    if (message.kind !== 'event') continue;
    waiting = false;
    const event = await presentEvent(message.event, {
      revealPersonalData: reveal,
      vault: deps.vault,
    });
    io.out(json ? JSON.stringify(event) : `${event.position}  ${timelineLine(event, { withStream: true })}`);
  }
  return 0;
};

export const eventsTail: CliCommand = {
  name: 'events tail',
  summary: 'follow the global event order live until Ctrl-C',
  options: OPTIONS,
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
