import type { EventFilter, RecordedEvent } from './event-store';
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
};
