import {
  loadUserHistory,
  loadUserView,
  parseAsOf,
  type HistoryDeps,
} from '../application/history/user-history';
import { timelineLine } from '../application/history/timeline';
import { findAccountByEmail } from '../application/user/find-account';
import type { Clock, EmailKeys } from '../application/ports';
import type { CliCommand } from './command';
import { consoleOutput, takeOption, type CliOutput } from './io';
import { withServices } from './open';

type Deps = HistoryDeps & { emailKeys: EmailKeys; clock: Clock };

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** A user id as given, or the owner of an address (found through its reservation, on the write side). */
const resolveUser = async (deps: Deps, target: string): Promise<string | null> => {
  if (UUID.test(target)) return target.toLowerCase();
  const lookup = await findAccountByEmail(deps, target);
  return lookup?.user?.userId ?? null;
};

/**
 * The account's whole stream as a timeline: time, event, who, key facts, why. Personal data is opened, or
 * reads [erased]; no hash or secret is ever shown (events/present.ts).
 */
export const runHistory = async (deps: Deps, args: string[], io: CliOutput): Promise<number> => {
  if (args.length !== 1 || !args[0]) {
    io.err('usage: identity history <user id | email>');
    return 2;
  }
  const userId = await resolveUser(deps, args[0]);
  if (userId === null) {
    io.err('no account with that address (an erased account is found by its user id only)');
    return 1;
  }
  let fromRevision = 0;
  let shown = 0;
  for (;;) {
    const page = await loadUserHistory(deps, userId, { fromRevision, limit: 500 });
    if (page === null) break;
    for (const event of page.events) io.out(timelineLine(event));
    shown += page.events.length;
    const last = page.events[page.events.length - 1];
    if (page.nextCursor === null || !last) break;
    fromRevision = last.revision + 1;
  }
  if (shown === 0) {
    io.err(`no account ${userId}`);
    return 1;
  }
  return 0;
};

/** The account folded from its stream, now or `--as-of <RFC 3339 time | position>`, as JSON. */
export const runState = async (deps: Deps, args: string[], io: CliOutput): Promise<number> => {
  const { value, rest, missing } = takeOption(args, 'as-of');
  const asOf = value !== undefined ? parseAsOf(value) : undefined;
  if (rest.length !== 1 || !rest[0] || missing || asOf === null) {
    io.err('usage: identity state <user id | email> [--as-of <RFC 3339 time | position>]');
    return 2;
  }
  const userId = await resolveUser(deps, rest[0]);
  const view = userId === null ? null : await loadUserView(deps, userId, { asOf, now: deps.clock.now() });
  if (!view) {
    io.err(asOf ? 'the account did not exist at that point' : 'no such account');
    return 1;
  }
  io.out(JSON.stringify(view, null, 2));
  return 0;
};

export const history: CliCommand = {
  name: 'history',
  summary: "an account's events as a readable timeline: <user id | email>",
  run: (args, config) => withServices(config, (services) => runHistory(services, args, consoleOutput)),
};

export const state: CliCommand = {
  name: 'state',
  summary: 'an account folded from its events: <user id | email> [--as-of <time | position>]',
  run: (args, config) => withServices(config, (services) => runState(services, args, consoleOutput)),
};
