import { parseAccountEvent, type AccountEvent } from './events';
import type { CheckpointStore } from './checkpoints';
import { sleep, type FeedSource } from './source';

export type SubscribeOptions = {
  source: FeedSource;
  checkpointStore: CheckpointStore;
  /** Called once per event, in commit order; must be idempotent (delivery is at-least-once). */
  handler: (event: AccountEvent) => Promise<void> | void;
  /** Stops the subscription; `subscribe` then resolves. */
  signal: AbortSignal;
  /** Event type prefixes, e.g. `['User', 'EmailVerified']`; every account event when absent. */
  types?: readonly string[];
  /** Retry delays after a failure: doubling from `minMs` up to `maxMs` (default 200 ms to 30 s). */
  backoff?: { minMs?: number; maxMs?: number };
  /** Told about every failure before the retry (a handler error, a lost connection, a refused request). */
  onError?: (error: unknown, retry: { attempt: number; inMs: number }) => void;
  /**
   * What to do with an event the handler keeps failing on. Absent: retry it for ever (the subscriber
   * waits there, where an operator sees it). With `afterFailures: N`, after N failures in a row on one
   * event: `park` hands it to `onParked` (store it somewhere to replay by hand), counts it, moves the
   * checkpoint past it and goes on; `stop` rejects `subscribe` with a `HandlerGaveUpError`.
   */
  deadLetter?: DeadLetterOptions;
};

export type DeadLetterOptions = {
  afterFailures: number;
  action: 'park' | 'stop';
  /** Called before the checkpoint moves past a parked event; if it throws, the event is not parked. */
  onParked?: (event: AccountEvent, error: unknown, failures: number) => Promise<void> | void;
  /** A counter to count parked events by type (a prom-client Counter with a `type` label fits). */
  counter?: { inc: (labels: { type: string }) => void };
};

/** `deadLetter.action: 'stop'`: the handler failed `failures` times in a row on `event`. */
export class HandlerGaveUpError extends Error {
  readonly code = 'handler-gave-up';
  constructor(
    readonly event: AccountEvent,
    readonly failures: number,
    override readonly cause: unknown,
  ) {
    super(`the handler failed ${failures} times on ${event.type} at ${event.position}; stopped`);
    this.name = 'HandlerGaveUpError';
  }
}

/** A handler's failure on one event, as the retry loop sees it. */
class HandlerFailure {
  constructor(
    readonly event: AccountEvent,
    readonly cause: unknown,
  ) {}
}

/**
 * The stored checkpoint lies past the end of the source: it was stored against another store (an
 * EventStoreDB volume recreated, a backend switched). `subscribe` rejects with it rather than follow a feed
 * that would skip every event up to that position without a word. Start again from a checkpoint of this
 * store (or from the beginning, with idempotent handlers) once you know which events you hold.
 */
export class CheckpointAheadOfFeedError extends Error {
  readonly code = 'checkpoint-ahead-of-feed';
  constructor(
    readonly checkpoint: string,
    readonly head: string | null,
  ) {
    super(
      `the stored checkpoint ${checkpoint} is past the end of the event feed ` +
        `(${head === null ? 'which is empty' : `last position ${head}`}): it belongs to another store`,
    );
    this.name = 'CheckpointAheadOfFeedError';
  }
}

/**
 * Follows the account event feed from the stored checkpoint, for as long as `signal` allows.
 *
 * Delivery is at-least-once: the checkpoint moves only after the handler returned for the event at that
 * position, so a crash, a stop or a failure between the two delivers that event again; nothing is ever
 * skipped. A failing handler or source is retried from the checkpoint with a capped exponential backoff
 * (a server's `Retry-After` is honoured), so one event that keeps failing holds the subscriber there, where
 * an operator sees it, rather than being dropped.
 *
 * Events of a type this library does not know (a newer service) are passed over and the checkpoint moves
 * past them: a tolerant reader, as released event types never change shape. An event of a known type that
 * does not match its schema is a failure like any other.
 *
 * A stored checkpoint past the end of the source (see `CheckpointAheadOfFeedError`) is the one failure not
 * retried: `subscribe` rejects with it.
 */
export const subscribe = async (options: SubscribeOptions): Promise<void> => {
  const { source, checkpointStore, handler, signal, types } = options;
  const minMs = options.backoff?.minMs ?? 200;
  const maxMs = options.backoff?.maxMs ?? 30_000;
  let attempt = 0;
  const deadLetter = options.deadLetter;
  if (deadLetter && !(Number.isInteger(deadLetter.afterFailures) && deadLetter.afterFailures >= 1)) {
    throw new RangeError('deadLetter.afterFailures must be a whole number of at least 1');
  }
  type Failing = { position: string; failures: number };
  let failing = null as Failing | null;
  while (!signal.aborted) {
    try {
      let checkpoint = await checkpointStore.load();
      if (checkpoint !== null && source.head) {
        const head = await source.head(signal);
        if (head === null || checkpoint > head) throw new CheckpointAheadOfFeedError(checkpoint, head);
      }
      for await (const message of source.read({ after: checkpoint, types, signal })) {
        const position = message.kind === 'event' ? positionOf(message.event) : message.position;
        // A source that reconnects may repeat what it already delivered: the checkpoint says it is done.
        if (checkpoint !== null && position <= checkpoint) continue;
        if (message.kind === 'event') {
          const event = parseAccountEvent(message.event);
          if (event) {
            try {
              await handler(event);
            } catch (cause) {
              throw new HandlerFailure(event, cause);
            }
          }
        }
        await checkpointStore.save(position);
        checkpoint = position;
        attempt = 0;
        failing = null;
      }
      // A feed has no end: a source that stops without being asked to has lost its connection.
      if (!signal.aborted) throw new Error('the event source ended unexpectedly');
    } catch (error) {
      if (signal.aborted) break;
      if (error instanceof CheckpointAheadOfFeedError) {
        options.onError?.(error, { attempt: attempt + 1, inMs: 0 });
        throw error;
      }
      let cause = error;
      if (error instanceof HandlerFailure) {
        cause = error.cause;
        const position = error.event.position;
        failing =
          failing?.position === position
            ? { position, failures: failing.failures + 1 }
            : { position, failures: 1 };
        if (deadLetter && failing.failures >= deadLetter.afterFailures) {
          if (deadLetter.action === 'stop')
            throw new HandlerGaveUpError(error.event, failing.failures, cause);
          try {
            await deadLetter.onParked?.(error.event, cause, failing.failures);
            deadLetter.counter?.inc({ type: error.event.type });
            await checkpointStore.save(position);
            failing = null;
            attempt = 0;
            continue;
          } catch (parkError) {
            cause = parkError; // not parked: retried like any failure
          }
        }
      }
      attempt += 1;
      // Equal jitter: subscribers that failed together do not all retry together.
      const nominal = Math.min(maxMs, minMs * 2 ** Math.min(attempt - 1, 20));
      const backoff = Math.round(nominal / 2 + (nominal / 2) * Math.random());
      const inMs = Math.max(backoff, retryAfterOf(cause));
      options.onError?.(cause, { attempt, inMs });
      await sleep(inMs, signal);
    }
  }
};

const positionOf = (event: unknown): string => {
  const position = (event as { position?: unknown } | null)?.position;
  if (typeof position !== 'string') throw new Error('an event without a position');
  return position;
};

const retryAfterOf = (error: unknown): number => {
  const ms = (error as { retryAfterMs?: unknown } | null)?.retryAfterMs;
  return typeof ms === 'number' && Number.isFinite(ms) ? ms : 0;
};
