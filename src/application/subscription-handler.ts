import type { EventFilter, Position, RecordedEvent } from './event-store';
import type { SqlExecutor } from './sql';

/**
 * What a checkpointed subscription asks of the code it runs: a read model's live side or a side-effect
 * consumer (mail). Declared here, beside the ports, so consumers and projections both depend on it without
 * depending on each other; the runner that calls it is src/projections/runtime/runner.ts.
 */
export type SubscriptionHandler = {
  /** Stable name: the checkpoint row and the lock are keyed by it. */
  name: string;
  filter?: EventFilter;
  /** Runs inside the transaction that also stores the checkpoint. Must be idempotent per event. */
  handle: (events: RecordedEvent[], tx: SqlExecutor) => Promise<void>;
  batchSize?: number;
  /**
   * A side effect outside the database (a broker publish, a webhook): runs BEFORE the transaction of
   * `handle` and the checkpoint, which commit only once it resolved, so the checkpoint moves only after the
   * target confirmed. A throw fails the batch like a throw of `handle` (backoff, then retry from the stored
   * checkpoint); a crash between the two repeats the batch (at least once). Never inside the transaction: on
   * the embedded store a transaction holds every other query of the process.
   */
  deliver?: (events: RecordedEvent[], signal: AbortSignal) => Promise<void>;
  /**
   * Where a subscription seen for the first time starts (no checkpoint row yet): null for the beginning of
   * the store. Without it a new subscription starts at the beginning. Stored once, so a restart never
   * moves the start again.
   */
  startAt?: () => Promise<Position | null>;
};
