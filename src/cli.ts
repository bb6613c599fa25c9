#!/usr/bin/env node
import 'reflect-metadata';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { commandHelp, parseCommandArgs, UsageError } from './cli/args';
import { commands, findCommand } from './cli/commands';
import { ConfigError, loadConfig } from './infrastructure/config';

/**
 * The command line: `npm run cli -- <command> [args]` or the installed `identity` bin. It opens the same
 * stores as the service, with the same configuration. On the embedded store the service must be stopped
 * first (one process per data directory), or the command goes through the admin API with `--url`.
 */
const usage = (): string =>
  [
    'usage: identity <command> [args]     identity <command> --help     identity --version',
    '',
    ...commands.map((c) => `  ${c.name.padEnd(22)} ${c.summary}`),
  ].join('\n');

/** The package's version, from the package.json above this file (src/ under tsx, dist/src/ when built). */
const version = (): string => {
  for (let dir = __dirname; dir !== path.dirname(dir); dir = path.dirname(dir)) {
    try {
      const pkg = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as {
        name?: string;
        version?: string;
      };
      if (pkg.name === 'identity-service' && pkg.version) return pkg.version;
    } catch {
      // not here; look further up
    }
  }
  return 'unknown';
};

const main = async (): Promise<number> => {
  const argv = process.argv.slice(2);
  if (argv[0] === '--version' || argv[0] === '-V') {
    process.stdout.write(`identity ${version()}\n`);
    return 0;
  }
  if (argv.length === 0 || argv[0] === '--help' || argv[0] === '-h') {
    process.stdout.write(`${usage()}\n`);
    return argv.length === 0 ? 2 : 0;
  }
  const helpFor = argv[0] === 'help' ? argv.slice(1) : null;
  const command = findCommand(helpFor ?? argv);
  if (helpFor) {
    if (helpFor.length === 0) return (process.stdout.write(`${usage()}\n`), 0);
    if (!command) return (process.stderr.write(`unknown command: ${helpFor.join(' ')}\n${usage()}\n`), 2);
    return (process.stdout.write(`${commandHelp(command)}\n`), 0);
  }
  if (!command) {
    process.stderr.write(`unknown command: ${argv.join(' ')}\n${usage()}\n`);
    return 2;
  }
  const args = argv.slice(command.name.split(' ').length);
  if (args.includes('--help') || args.includes('-h')) {
    process.stdout.write(`${commandHelp(command)}\n`);
    return 0;
  }
  // Options are checked before any store is opened: a typo costs nothing and is named.
  if (command.options) {
    try {
      parseCommandArgs(args, command.options);
    } catch (e) {
      if (!(e instanceof UsageError)) throw e;
      process.stderr.write(`identity ${command.name}: ${e.message}\n${commandHelp(command)}\n`);
      return 2;
    }
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
  try {
    return await command.run(args, config);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    process.stderr.write(`identity ${command.name}: ${e.message}\n(identity ${command.name} --help)\n`);
    return 2;
  }
};

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`identity: ${(e as Error)?.message ?? String(e)}\n`);
    process.exit(1);
  },
);
