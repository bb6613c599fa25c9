import type { Config } from '../infrastructure/config';

/** One CLI command. `name` may have several words ("projections rebuild"); `run` returns the exit code. */
export type CliCommand = {
  name: string;
  summary: string;
  run: (args: string[], config: Config) => Promise<number>;
};
