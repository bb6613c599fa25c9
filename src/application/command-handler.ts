import {
  StreamNotFoundError,
  WrongExpectedVersionError,
  type EventStore,
  type Position,
  type RecordedEvent,
} from './event-store';

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

export type DomainEvent = { type: string; data: object };

export type Decider<C, E extends DomainEvent, S> = {
  initialState: S;
  evolve: (state: S, event: E) => S;
  decide: (command: C, state: S) => E[];
};

/** Schema version 1 needs no upcasting: the recorded type and data are the domain event. */
export const asDomainEvent = <E extends DomainEvent>(recorded: RecordedEvent): E =>
  ({ type: recorded.type, data: recorded.data }) as unknown as E;

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
  decider: Pick<Decider<unknown, E, S>, 'initialState' | 'evolve'>,
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

export type HandleResult<E, S> = {
  events: E[];
  state: S;
  /** Stream revision after the command (unchanged when it produced no events). */
  revision: number;
  /** Position of the last event written, for read-your-writes; null when nothing was written. */
  position: Position | null;
};

/**
 * load -> decide -> append(expected revision), retried a bounded number of times on a concurrent write.
 * decide is pure, so re-running it on the fresh state is safe. `command` may be a function of the state,
 * for commands whose inputs depend on it (a token whose id must be new, say).
 */
export const handleCommand = async <C, E extends DomainEvent, S>(
  store: EventStore,
  decider: Decider<C, E, S>,
  streamId: string,
  command: C | ((state: S) => C),
  ctx: CommandContext,
  toDomain: (e: RecordedEvent) => E = asDomainEvent,
  options: { retries?: number; schemaVersion?: number } = {},
): Promise<HandleResult<E, S>> => {
  const retries = options.retries ?? 3;
  for (let attempt = 0; ; attempt++) {
    const loaded = await loadStream(store, decider, streamId, toDomain);
    const cmd = typeof command === 'function' ? (command as (s: S) => C)(loaded.state) : command;
    const events = decider.decide(cmd, loaded.state);
    if (events.length === 0)
      return { events, state: loaded.state, revision: loaded.revision, position: null };
    try {
      const metadata = eventMetadata(ctx, options.schemaVersion);
      const result = await store.appendToStream(
        streamId,
        events.map((e) => ({ type: e.type, data: e.data, metadata })),
        { expectedRevision: loaded.revision === -1 ? 'no_stream' : loaded.revision },
      );
      const state = events.reduce(decider.evolve, loaded.state);
      return { events, state, revision: result.nextExpectedRevision, position: result.position };
    } catch (e) {
      if (e instanceof WrongExpectedVersionError && attempt < retries) continue;
      throw e;
    }
  }
};
