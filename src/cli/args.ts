import { parseArgs } from 'node:util';
import type { CliCommand, CliOption } from './command';

export type Parsed = { values: Record<string, string | boolean | undefined>; positionals: string[] };

/** A command-line mistake: its message names the bad option or value; the exit code is 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** `--help` / `-h`: every command has them. */
export const HELP_OPTION: Record<string, CliOption> = {
  help: { type: 'boolean', short: 'h', description: 'show this help' },
};

/**
 * Parses a command's arguments with `node:util` parseArgs (strict: an unknown option, a missing value or a
 * value given to a flag is a UsageError naming it). `positionals` bounds how many arguments it takes.
 */
export const parseCommandArgs = (
  args: string[],
  options: Record<string, CliOption> = {},
  positionals: { min?: number; max?: number } = {},
): Parsed => {
  let parsed: Parsed;
  try {
    parsed = parseArgs({
      args,
      options: Object.fromEntries(
        Object.entries({ ...options, ...HELP_OPTION }).map(([name, o]) => [
          name,
          { type: o.type, ...(o.short ? { short: o.short } : {}) },
        ]),
      ),
      allowPositionals: true,
      strict: true,
    }) as Parsed;
  } catch (e) {
    throw new UsageError(parseArgsMessage(e as Error));
  }
  if (parsed.values.help) return parsed;
  const { min = 0, max = Infinity } = positionals;
  if (parsed.positionals.length < min) throw new UsageError('missing argument');
  if (parsed.positionals.length > max) {
    throw new UsageError(`unexpected argument "${parsed.positionals[max]}"`);
  }
  return parsed;
};

/** parseArgs's messages, shortened to what the user typed wrong. */
const parseArgsMessage = (e: Error): string => {
  const m = e.message;
  const unknown = /Unknown option '([^']+)'/.exec(m);
  if (unknown) return `unknown option ${unknown[1]}`;
  const missing = /Option '(?:-\w, )?(--[\w-]+)[^']*' argument missing/.exec(m);
  if (missing) return `${missing[1]} needs a value`;
  const noValue = /Option '(?:-\w, )?(--[\w-]+)' does not take an argument/.exec(m);
  if (noValue) return `${noValue[1]} takes no value`;
  const positional = /Unexpected argument '([^']+)'/.exec(m);
  if (positional) return `unexpected argument "${positional[1]}"`;
  return m.split('\n')[0] ?? m;
};

/** The `--help` text of one command. */
export const commandHelp = (command: CliCommand): string => {
  const options = { ...(command.options ?? {}), ...HELP_OPTION };
  const rows = Object.entries(options).map(([name, o]) => {
    const flag = `${o.short ? `-${o.short}, ` : '    '}--${name}${o.value ? ` ${o.value}` : ''}`;
    return [flag, o.description] as const;
  });
  const width = Math.max(...rows.map(([f]) => f.length)) + 2;
  return [
    `usage: identity ${command.name}${command.usage ? ` ${command.usage}` : ''} [options]`,
    '',
    command.summary,
    '',
    'options:',
    ...rows.map(([f, d]) => `  ${f.padEnd(width)}${d}`),
    ...(command.details?.length ? ['', ...command.details] : []),
  ].join('\n');
};
