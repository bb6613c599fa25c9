/**
 * Where events come from. A source delivers the feed strictly after a position, in global commit order,
 * until the signal aborts; on any failure it throws, and `subscribe` opens it again from the checkpoint.
 */
export type SourceMessage =
  /** The event JSON as the service's HTTP feed shows it; `subscribe` validates it against the schemas. */
  | { kind: 'event'; event: unknown }
  /** Everything up to `position` has been looked at, filtered-out events included. */
  | { kind: 'checkpoint'; position: string };

export type ReadRequest = {
  /** Exclusive; null reads from the beginning. */
  after: string | null;
  /** Event type prefixes to keep; all types when absent. */
  types?: readonly string[];
  signal: AbortSignal;
};

export type FeedSource = {
  read(request: ReadRequest): AsyncIterable<SourceMessage>;
  /**
   * The highest position the source holds (null: nothing at all). `subscribe` refuses a stored checkpoint
   * beyond it, which belongs to another store: EventStoreDB skips every event up to a position it is given,
   * silently, so following from there would miss events. Sources without it cannot be checked.
   */
  head?(signal: AbortSignal): Promise<string | null>;
};

/** Resolves after `ms`, or at once when the signal aborts. */
export const sleep = (ms: number, signal: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = (): void => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
