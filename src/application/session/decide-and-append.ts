import {
  eventMetadata,
  loadStream,
  type CommandContext,
  type Decider,
  type DomainEvent,
  type LoadedStream,
} from '../command-handler';
import { WrongExpectedVersionError, type EventStore, type Position } from '../event-store';

/** One attempt's decision: what to answer, what to record, and on whose behalf. */
export type Decided<O, E> = { outcome: O; events: E[]; ctx: CommandContext };

export type Appended<O, S> = {
  outcome: O;
  /** The state after the events, and the stream revision it is at. */
  state: S;
  revision: number;
  position: Position | null;
};

/**
 * `handleCommand` for decisions that answer with an outcome beside their events (a failed login still
 * records the failure; a tolerated refresh answers the current successor). Loads, decides, appends with the
 * expected revision, and on a concurrent write decides again on the fresh stream: that is what counts
 * failed logins atomically and makes N concurrent refreshes of one token agree on ONE successor.
 *
 * `decide` may be async (argon2 runs before the decision) and is re-run per attempt, so it must cache its
 * slow work. `initial` spares the first read when the caller has just folded the stream.
 */
export const decideAndAppend = async <E extends DomainEvent, S, O>(
  store: EventStore,
  decider: Pick<Decider<unknown, E, S>, 'initialState' | 'evolve'>,
  streamId: string,
  decide: (loaded: LoadedStream<S>) => Decided<O, E> | Promise<Decided<O, E>>,
  options: { attempts?: number; initial?: LoadedStream<S> } = {},
): Promise<Appended<O, S>> => {
  const attempts = options.attempts ?? 4;
  let loaded = options.initial ?? (await loadStream(store, decider, streamId));
  for (let attempt = 1; ; attempt++) {
    const { outcome, events, ctx } = await decide(loaded);
    if (events.length === 0)
      return { outcome, state: loaded.state, revision: loaded.revision, position: null };
    try {
      const metadata = eventMetadata(ctx);
      const result = await store.appendToStream(
        streamId,
        events.map((e) => ({ type: e.type, data: e.data, metadata })),
        { expectedRevision: loaded.revision === -1 ? 'no_stream' : loaded.revision },
      );
      return {
        outcome,
        state: events.reduce(decider.evolve, loaded.state),
        revision: result.nextExpectedRevision,
        position: result.position,
      };
    } catch (e) {
      if (!(e instanceof WrongExpectedVersionError) || attempt >= attempts) throw e;
      loaded = await loadStream(store, decider, streamId);
    }
  }
};
