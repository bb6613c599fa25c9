import {
  StreamNotFoundError,
  WrongExpectedVersionError,
  type EventStore,
  type Position,
  type RecordedEvent,
} from '../event-store';
import type { Decider, Decision } from '../../domain/shared/decider';

/**
 * Who did what, and why: attached to every event as metadata (CONTRACT "Events").
 * `occurred_at` is the decision time the command carried, not the store's clock.
 */
export type Actor = { type: 'user' | 'admin' | 'system'; id: string | null };

export type CommandContext = {
  correlationId: string;
  /** The id of the request or event that caused this command. */
  causationId: string;
  actor: Actor;
  /** Required for admin commands; recorded on every event they produce. */
  reason?: string;
  now: Date;
};

/**
 * The same request, acting as the user it turned out to concern: login and refresh learn whose account
 * or session it is only once they have read it.
 */
export const asUser = (ctx: CommandContext, userId: string | null): CommandContext => ({
  ...ctx,
  actor: { type: 'user', id: userId },
});

export const SCHEMA_VERSION = 1;

export const eventMetadata = (
  ctx: CommandContext,
  schemaVersion = SCHEMA_VERSION,
): Record<string, unknown> => ({
  occurred_at: ctx.now.toISOString(),
  correlation_id: ctx.correlationId,
  causation_id: ctx.causationId,
  actor: ctx.actor,
  schema_version: schemaVersion,
  ...(ctx.reason !== undefined ? { reason: ctx.reason } : {}),
});

/** What a stream's events look like to the write path: a type tag and business facts. */
export type DomainEvent = { type: string; data: object };

/** Schema version 1 needs no upcasting: the recorded type and data are the domain event. */
export const asDomainEvent = <E extends DomainEvent>(recorded: RecordedEvent): E =>
  ({ type: recorded.type, data: recorded.data }) as unknown as E;

/** The part of a decider that folds a stream. */
export type Folds<E, S> = Pick<Decider<unknown, E, S, unknown>, 'initialState' | 'evolve'>;

export type LoadedStream<S> = {
  state: S;
  /** Revision of the last event, or -1 when the stream does not exist. */
  revision: number;
  /** The stream's last event, or null when it does not exist. */
  last: RecordedEvent | null;
};

type CachedFold = { state: unknown; revision: number; last: RecordedEvent | null };

/** Folded states per store and decider, most recently used last (Map keeps insertion order). */
const folds = new WeakMap<EventStore, WeakMap<object, Map<string, CachedFold>>>();
const MAX_CACHED_STREAMS = 10_000;

const cacheFor = (store: EventStore, decider: object): Map<string, CachedFold> => {
  let byDecider = folds.get(store);
  if (!byDecider) folds.set(store, (byDecider = new WeakMap()));
  let cache = byDecider.get(decider);
  if (!cache) byDecider.set(decider, (cache = new Map()));
  return cache;
};

const remember = (cache: Map<string, CachedFold>, streamId: string, fold: CachedFold): void => {
  const known = cache.get(streamId);
  if (known && known.revision > fold.revision) return;
  cache.delete(streamId);
  cache.set(streamId, fold);
  if (cache.size > MAX_CACHED_STREAMS) cache.delete(cache.keys().next().value as string);
};

/**
 * Folds a stream from the store. Events are upcast by `toDomain` (the one place a changed event shape is
 * translated). EVERY recorded event reaches `evolve`, unknown types included: the deciders count revisions
 * in their state, and a skipped event would shift every revision after it.
 *
 * Streams are append-only, so the fold of a stream this process has seen is kept and only the events after
 * its revision are read: still one read of the store per load (never stale, on any number of instances),
 * but a session that rotated its refresh token thousands of times costs what a new one does. A stream that
 * vanished is read again from the start. (Account, session and reservation streams are never deleted; a
 * stream deleted and then written again would need its cache entry dropped.)
 */
export const loadStream = async <E extends DomainEvent, S>(
  store: EventStore,
  decider: Folds<E, S>,
  streamId: string,
  toDomain: (e: RecordedEvent) => E = asDomainEvent,
): Promise<LoadedStream<S>> => {
  // Only the plain schema-version-1 reading is cached; a custom upcaster folds from the start.
  const cache = toDomain === asDomainEvent ? cacheFor(store, decider) : null;
  const cached = cache?.get(streamId);
  let events: RecordedEvent[];
  try {
    events = cached
      ? await store.readStream(streamId, { fromRevision: cached.revision + 1 })
      : await store.readStream(streamId);
  } catch (e) {
    if (!(e instanceof StreamNotFoundError)) throw e;
    cache?.delete(streamId);
    if (cached) return loadStream(store, decider, streamId, toDomain);
    return { state: decider.initialState, revision: -1, last: null };
  }
  let state = (cached ? cached.state : decider.initialState) as S;
  for (const recorded of events) state = decider.evolve(state, toDomain(recorded));
  const last = events[events.length - 1] ?? cached?.last ?? null;
  const revision = last ? last.revision : -1;
  if (cache && last) remember(cache, streamId, { state, revision, last });
  return { state, revision, last };
};

/** One attempt's decision on the stream as loaded; may be async (argon2 runs before the decision). */
export type Decide<O, E, S> = (loaded: LoadedStream<S>) => Decision<O, E> | Promise<Decision<O, E>>;

export type Handled<O, E, S> = {
  outcome: O;
  /** The events written (none when the decision recorded nothing). */
  events: E[];
  /** The state after them. */
  state: S;
  /** Stream revision after the command (unchanged when it produced no events). */
  revision: number;
  /** Position of the last event written, for read-your-writes; null when nothing was written. */
  position: Position | null;
};

export type HandleOptions<E, S> = {
  /** Appends tried before a version conflict is given up (each one loads and decides again). */
  attempts?: number;
  /** The stream as the caller has just folded it: spares the first read. */
  initial?: LoadedStream<S>;
  schemaVersion?: number;
  toDomain?: (e: RecordedEvent) => E;
};

/**
 * The one write path (STYLE.md "Application"): load -> decide -> append with the expected revision, and on
 * a concurrent write, load and decide again, a bounded number of times. decide is pure, so re-running it
 * on the fresh state is safe; that is also what counts failed logins atomically and makes N concurrent
 * refreshes of one token agree on ONE successor.
 *
 * `command` is a command for the decider, or a `Decide` function of the loaded stream for decisions whose
 * inputs depend on it (the password check of the hash the stream holds, a token id that must be new). A
 * `Decide` that does slow work must cache it: it runs again on every attempt. `ctx` may depend on the
 * stream too (a session's user is the actor of its events).
 */
// Overloads (hence `function`): a command for the decider answers the decider's outcome; a `Decide` of its
// own answers whatever it returns, which is narrower for the commands whose outcome the caller acts on.
export function handle<C, E extends DomainEvent, S, O>(
  store: EventStore,
  decider: Decider<C, E, S, O>,
  streamId: string,
  command: C,
  ctx: CommandContext | ((loaded: LoadedStream<S>) => CommandContext),
  options?: HandleOptions<E, S>,
): Promise<Handled<O, E, S>>;
export function handle<E extends DomainEvent, S, O>(
  store: EventStore,
  decider: Folds<E, S>,
  streamId: string,
  decide: Decide<O, E, S>,
  ctx: CommandContext | ((loaded: LoadedStream<S>) => CommandContext),
  options?: HandleOptions<E, S>,
): Promise<Handled<O, E, S>>;
export async function handle<E extends DomainEvent, S, O>(
  store: EventStore,
  decider: Folds<E, S> & { decide?: (command: unknown, state: S) => Decision<O, E> },
  streamId: string,
  command: unknown,
  ctx: CommandContext | ((loaded: LoadedStream<S>) => CommandContext),
  options: HandleOptions<E, S> = {},
): Promise<Handled<O, E, S>> {
  const attempts = options.attempts ?? 4;
  const toDomain = options.toDomain ?? asDomainEvent;
  const decide: Decide<O, E, S> =
    typeof command === 'function'
      ? (command as Decide<O, E, S>)
      : (loaded) => {
          if (!decider.decide) throw new Error('handle: a command needs a decider that decides');
          return decider.decide(command, loaded.state);
        };
  let loaded = options.initial ?? (await loadStream(store, decider, streamId, toDomain));
  for (let attempt = 1; ; attempt++) {
    const { outcome, events } = await decide(loaded);
    if (events.length === 0)
      return { outcome, events, state: loaded.state, revision: loaded.revision, position: null };
    try {
      const metadata = eventMetadata(typeof ctx === 'function' ? ctx(loaded) : ctx, options.schemaVersion);
      const result = await store.appendToStream(
        streamId,
        events.map((e) => ({ type: e.type, data: e.data, metadata })),
        { expectedRevision: loaded.revision === -1 ? 'no_stream' : loaded.revision },
      );
      return {
        outcome,
        events,
        state: events.reduce(decider.evolve, loaded.state),
        revision: result.nextExpectedRevision,
        position: result.position,
      };
    } catch (e) {
      if (!(e instanceof WrongExpectedVersionError) || attempt >= attempts) throw e;
      loaded = await loadStream(store, decider, streamId, toDomain);
    }
  }
}
