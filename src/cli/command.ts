import type { Config } from '../infrastructure/config';

/** One option of a command, for `parseArgs` and for its `--help`. */
export type CliOption = {
  type: 'string' | 'boolean';
  short?: string;
  /** The value's placeholder in the help (`<time | position>`). */
  value?: string;
  description: string;
};

/**
 * One CLI command. `name` may have several words ("projections rebuild"); `run` returns the exit code and
 * gets the arguments after the name as given. `usage` (the positional arguments) and `options` make its
 * `--help`, and the dispatcher checks the options with `node:util` parseArgs before `run`, so an unknown or
 * valueless option is refused naming it. A new command is one object in the list of commands.ts.
 */
export type CliCommand = {
  name: string;
  summary: string;
  /** Positional arguments, e.g. `<user id | email>`. */
  usage?: string;
  options?: Record<string, CliOption>;
  /** Lines after the options in `--help`: examples, notes. */
  details?: string[];
  run: (args: string[], config: Config) => Promise<number>;
};
