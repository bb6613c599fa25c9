/** A fact recorded in a stream: a PascalCase, past-tense `type` and the business facts in `data`. */
export type DomainEvent<Type extends string = string, Data = unknown> = Readonly<{
  type: Type;
  data: Readonly<Data>;
}>;

/** An intention: a PascalCase, imperative `type` and everything the decision needs in `data`. */
export type DomainCommand<Type extends string = string, Data = unknown> = Readonly<{
  type: Type;
  data: Readonly<Data>;
}>;

/**
 * The answer of a decision: `events` to append (none: nothing to do, e.g. a repeat) and `outcome` to
 * answer with. Most commands answer only whether they recorded anything; some answer more beside their
 * events (a login that failed still records the failure, a tolerated refresh names the successor).
 */
export type Decision<Outcome, Event> = Readonly<{ outcome: Outcome; events: Event[] }>;

/** The outcome of a command that answers nothing but whether it changed the stream. */
export type Recorded = 'recorded' | 'unchanged';

export const recorded = <Event>(events: Event[]): Decision<Recorded, Event> => ({
  outcome: events.length > 0 ? 'recorded' : 'unchanged',
  events,
});

/**
 * `decide` returns the decision that records the command, or throws a DomainError for a broken rule.
 * `evolve` never throws: events are facts, and a fact that does not fit the state leaves it unchanged.
 * Both are pure; time, ids, hashes and verification results come in on the command.
 */
export type Decider<Command, Event, State, Outcome = Recorded> = Readonly<{
  initialState: State;
  evolve: (state: State, event: Event) => State;
  decide: (command: Command, state: State) => Decision<Outcome, Event>;
}>;

export const fold = <Event, State>(
  decider: Pick<Decider<unknown, Event, State, unknown>, 'initialState' | 'evolve'>,
  events: readonly Event[],
  from: State = decider.initialState,
): State => events.reduce((state, event) => decider.evolve(state, event), from);

/**
 * Event data travels as JSON, where a Date would come back as a string; event timestamps are therefore
 * ISO 8601 UTC strings, made here and read back with `fromTimestamp`.
 */
export type Timestamp = string;

export const toTimestamp = (date: Date): Timestamp => date.toISOString();

export const fromTimestamp = (timestamp: Timestamp): Date => new Date(timestamp);

export const addMs = (date: Date, ms: number): Date => new Date(date.getTime() + ms);

/** The `default` of an exhaustive switch: a new union member that is not handled fails to compile. */
export const unreachable = (value: never): never => {
  throw new Error(`unhandled case: ${JSON.stringify(value)}`);
};

/**
 * The `default` of an exhaustive switch over events in `evolve`: it does not compile while a known event
 * is unhandled, and at run time an event this code does not know (written by a newer version) changes
 * nothing instead of breaking the fold.
 */
export const unknownEvent = <State>(_event: never, state: State): State => state;
