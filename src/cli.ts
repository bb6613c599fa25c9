#!/usr/bin/env node
import 'reflect-metadata';
import { commands } from './cli/commands';
import { ConfigError, loadConfig } from './infrastructure/config';

/**
 * The command line: `npm run cli -- <command> [args]` or the installed `identity` bin. It opens the same
 * stores as the service, with the same configuration. On the embedded store the service must be stopped
 * first (one process per data directory).
 */
const usage = (): string =>
  [
    'usage: identity <command> [args]',
    '',
    ...commands.map((c) => `  ${c.name.padEnd(28)} ${c.summary}`),
  ].join('\n');

const main = async (): Promise<number> => {
  const argv = process.argv.slice(2);
  if (argv.length === 0 || argv[0] === '--help' || argv[0] === 'help') {
    process.stdout.write(`${usage()}\n`);
    return argv.length === 0 ? 2 : 0;
  }
  // Longest match first: "projections rebuild" before "projections".
  const command = [...commands]
    .sort((a, b) => b.name.split(' ').length - a.name.split(' ').length)
    .find((c) => c.name.split(' ').every((word, i) => argv[i] === word));
  if (!command) {
    process.stderr.write(`unknown command: ${argv.join(' ')}\n${usage()}\n`);
    return 2;
  }
  let config;
  try {
    config = loadConfig();
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`identity: ${e.message}\n`);
      return 2;
    }
    throw e;
  }
  return command.run(argv.slice(command.name.split(' ').length), config);
};

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`identity: ${(e as Error)?.message ?? String(e)}\n`);
    process.exit(1);
  },
);
