import {
  loadUserHistory,
  loadUserView,
  parseAsOf,
  type AsOf,
  type HistoryDeps,
} from '../application/history/user-history';
import { timelineLine } from '../application/history/timeline';
import { findAccountByEmail } from '../application/user/find-account';
import type { Clock, EmailKeys } from '../application/ports';
import { parseCommandArgs, UsageError } from './args';
import type { CliCommand, CliOption } from './command';
import { consoleOutput, type CliOutput } from './io';
import { withServices } from './open';
import { problemLine, REMOTE_OPTIONS, remoteAdmin, remoteUserId, type RemoteAdmin } from './remote';

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
  let target: string;
  try {
    target = parseCommandArgs(args, HISTORY_OPTIONS, { min: 1, max: 1 }).positionals[0]!;
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    io.err(`history: ${e.message}; usage: identity history <user id | email>`);
    return 2;
  }
  const userId = await resolveUser(deps, target);
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

const HISTORY_OPTIONS: Record<string, CliOption> = {};

const STATE_OPTIONS: Record<string, CliOption> = {
  'as-of': {
    type: 'string',
    value: '<time | position>',
    description: 'the moment: an RFC 3339 time (2026-05-01T12:00:00Z) or a position from event JSON',
  },
  ...REMOTE_OPTIONS,
};

const STATE_USAGE = 'usage: identity state <user id | email> [--as-of <RFC 3339 time | position>]';

/** `--as-of`'s value, checked: a UsageError names a value that is neither a time nor a position. */
const asOfOption = (value: string | undefined): AsOf | undefined => {
  if (value === undefined) return undefined;
  const asOf = parseAsOf(value);
  if (asOf === null) {
    throw new UsageError(
      `--as-of "${value}" is neither an RFC 3339 time (e.g. 2026-05-01T12:00:00Z) nor a position`,
    );
  }
  return asOf;
};

/** The account folded from its stream, now or `--as-of <RFC 3339 time | position>`, as JSON. */
export const runState = async (deps: Deps, args: string[], io: CliOutput): Promise<number> => {
  let target: string;
  let asOf: ReturnType<typeof asOfOption>;
  try {
    const parsed = parseCommandArgs(args, STATE_OPTIONS, { min: 1, max: 1 });
    target = parsed.positionals[0]!;
    asOf = asOfOption(parsed.values['as-of'] as string | undefined);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    io.err(`state: ${e.message}\n${STATE_USAGE}`);
    return 2;
  }
  const userId = await resolveUser(deps, target);
  const view = userId === null ? null : await loadUserView(deps, userId, { asOf, now: deps.clock.now() });
  if (!view) {
    io.err(asOf ? 'the account did not exist at that point' : 'no such account');
    return 1;
  }
  io.out(JSON.stringify(view, null, 2));
  return 0;
};

/** `state` through the admin API (`GET /v1/admin/users/{id}?as_of=`). */
export const runRemoteState = async (remote: RemoteAdmin, args: string[], io: CliOutput): Promise<number> => {
  const parsed = parseCommandArgs(args, STATE_OPTIONS, { min: 1, max: 1 });
  const asOfValue = parsed.values['as-of'] as string | undefined;
  asOfOption(asOfValue);
  const userId = await remoteUserId(remote, parsed.positionals[0]!);
  if (userId === null) {
    io.err('no account with that address');
    return 1;
  }
  const query = asOfValue !== undefined ? `?as_of=${encodeURIComponent(asOfValue)}` : '';
  const res = await remote.call('GET', `/v1/admin/users/${userId}${query}`);
  if (res.status !== 200) {
    io.err(problemLine(res.status, res.body));
    return 1;
  }
  io.out(JSON.stringify(res.body, null, 2));
  return 0;
};

export const history: CliCommand = {
  name: 'history',
  summary: "an account's events as a readable timeline",
  usage: '<user id | email>',
  options: HISTORY_OPTIONS,
  run: (args, config) => withServices(config, (services) => runHistory(services, args, consoleOutput)),
};

export const state: CliCommand = {
  name: 'state',
  summary: 'an account folded from its events, now or at a past moment',
  usage: '<user id | email>',
  options: STATE_OPTIONS,
  details: ['example: identity state ada@example.com --as-of 2026-05-01T12:00:00Z'],
  run: async (args, config) => {
    // A bad value is named before any store is opened.
    const parsed = parseCommandArgs(args, STATE_OPTIONS, { min: 1, max: 1 });
    asOfOption(parsed.values['as-of'] as string | undefined);
    const remote = remoteAdmin(parsed);
    if (remote) return runRemoteState(remote, args, consoleOutput);
    return withServices(config, (services) => runState(services, args, consoleOutput));
  },
};
