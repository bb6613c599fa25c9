import type { EventFilter, EventStore, Position, RecordedEvent, SubscriptionMessage } from '../event-store';
import type { SqlClient, SqlExecutor } from '../sql';

/**
 * The checkpointed subscription runner shared by projections and side-effect consumers (mail).
 *
 * Delivery guarantee: at-least-once from the store, exactly-once in effect for SQL handlers, because the
 * handler's writes and the new checkpoint commit in ONE transaction, with a compare-and-set on the previous
 * checkpoint so two runners can never both advance it. Only one instance runs a given subscription at a time
 * (a named lock, a PostgreSQL advisory lock on the server); the others stand by and take over when it dies.
 *
 * A handler that throws rolls the batch back; the runner backs off (exponentially, capped) and resumes from
 * the stored checkpoint, retrying one event at a time so one bad event cannot hold back a whole page. It
 * never skips a recorded event: a handler that keeps failing shows as growing lag and failures in
 * /health/ready and /metrics, and an operator decides.
 */

export type SubscriptionHandler = {
  /** Stable name: the checkpoint row and the lock are keyed by it. */
  name: string;
  filter?: EventFilter;
  /** Runs inside the transaction that also stores the checkpoint. Must be idempotent per event. */
  handle: (events: RecordedEvent[], tx: SqlExecutor) => Promise<void>;
  batchSize?: number;
};

export type SubscriptionStatus = {
  name: string;
  running: boolean;
  leader: boolean;
  caughtUp: boolean;
  checkpoint: Position | null;
  lastEventAt: Date | null;
  failures: number;
  consecutiveFailures: number;
  lastError: string | null;
};

export type RunnerLogger = {
  info: (obj: object, msg: string) => void;
  warn: (obj: object, msg: string) => void;
  error: (obj: object, msg: string) => void;
};

export type RunnerOptions = {
  store: EventStore;
  sql: SqlClient;
  logger: RunnerLogger;
  /** Backoff bounds for retries after a failure or a lost store. */
  minBackoffMs?: number;
  maxBackoffMs?: number;
  /** How often a standby instance tries to take the lock. */
  standbyPollMs?: number;
  /**
   * How long a checkpoint that only passes over events outside the filter may stay unstored (default
   * 1000 ms; 0 stores every one). See `consume`.
   */
  idleCheckpointMs?: number;
};

export class CheckpointConflictError extends Error {
  constructor(readonly subscription: string) {
    super(`checkpoint of ${subscription} moved under us`);
    this.name = 'CheckpointConflictError';
  }
}

/**
 * The stored checkpoint lies beyond everything the store holds: the checkpoints outlived the events (an
 * EventStoreDB volume recreated, a backend switched, a database restored from an older backup). Subscribing
 * from there would not fail: EventStoreDB skips, without a word, every event at or below the position it is
 * given, live ones included (Enumerator.AllSubscriptionFiltered), so the read model would silently miss
 * every event until the new store grew past the old checkpoint. The runner refuses instead and keeps
 * refusing (failures, readiness, the log), until an operator rebuilds the subscription or restores the store.
 */
export class CheckpointAheadOfStoreError extends Error {
  readonly code = 'checkpoint-ahead-of-store';
  constructor(
    readonly subscription: string,
    readonly checkpoint: Position,
    readonly head: Position | null,
  ) {
    super(
      `checkpoint ${checkpoint} of ${subscription} is past the end of the event store ` +
        `(${head === null ? 'which is empty' : `whose last position is ${head}`}): the events it was ` +
        'stored for are not in this store; rebuild the subscription or restore the store',
    );
    this.name = 'CheckpointAheadOfStoreError';
  }
}

/** The highest position the store can hand out a message for, or null when it is empty. */
export const storeHead = async (store: EventStore): Promise<Position | null> => {
  const head = store.headPosition
    ? await store.headPosition()
    : (await store.readAll({ direction: 'backwards', maxCount: 1 })).events[0]?.position;
  return head ?? null;
};

export const loadCheckpoint = async (sql: SqlExecutor, name: string): Promise<Position | null> => {
  const r = await sql.query<{ position: string | null }>(
    'select position from subscription_checkpoints where name = $1',
    [name],
  );
  return r.rows[0]?.position ?? null;
};

/** Compare-and-set: advances only from the value this runner last read. */
export const storeCheckpoint = async (
  tx: SqlExecutor,
  name: string,
  previous: Position | null,
  next: Position,
): Promise<void> => {
  const r =
    previous === null
      ? await tx.query(
          `insert into subscription_checkpoints (name, position, updated_at) values ($1, $2, now())
           on conflict (name) do update set position = excluded.position, updated_at = now()
           where subscription_checkpoints.position is null`,
          [name, next],
        )
      : await tx.query(
          'update subscription_checkpoints set position = $3, updated_at = now() where name = $1 and position = $2',
          [name, previous, next],
        );
  if (r.rowCount !== 1) throw new CheckpointConflictError(name);
};

const sleep = (ms: number, signal: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });

export class SubscriptionRunner {
  private readonly abort = new AbortController();
  private loop: Promise<void> | null = null;
  private readonly waiters = new Set<{ position: Position; resolve: (ok: boolean) => void }>();
  private state: SubscriptionStatus;
  /** Set by a failed batch: the next attempt goes one event at a time to isolate the failing one. */
  private singleStep = false;

  constructor(
    private readonly handler: SubscriptionHandler,
    private readonly options: RunnerOptions,
  ) {
    this.state = {
      name: handler.name,
      running: false,
      leader: false,
      caughtUp: false,
      checkpoint: null,
      lastEventAt: null,
      failures: 0,
      consecutiveFailures: 0,
      lastError: null,
    };
  }

  get name(): string {
    return this.handler.name;
  }

  status(): SubscriptionStatus {
    return { ...this.state };
  }

  start(): void {
    if (this.loop) return;
    this.state.running = true;
    this.loop = this.run().finally(() => {
      this.state.running = false;
    });
  }

  async stop(): Promise<void> {
    this.abort.abort();
    await this.loop;
    for (const w of this.waiters) w.resolve(false);
    this.waiters.clear();
  }

  /**
   * Read-your-writes: resolves true once the subscription has processed `position` (or everything up to
   * it), false on timeout. Works on a standby instance too, by polling the stored checkpoint.
   */
  async waitFor(position: Position, timeoutMs: number): Promise<boolean> {
    if (this.state.checkpoint !== null && this.state.checkpoint >= position) return true;
    if (!this.state.leader) {
      const deadline = Date.now() + timeoutMs;
      while (Date.now() < deadline && !this.abort.signal.aborted) {
        const cp = await loadCheckpoint(this.options.sql, this.handler.name).catch(() => null);
        if (cp !== null && cp >= position) return true;
        if (this.state.leader) break;
        await sleep(15, this.abort.signal);
      }
      if (!this.state.leader) return false;
    }
    return new Promise<boolean>((resolve) => {
      const waiter = {
        position,
        resolve: (ok: boolean) => {
          clearTimeout(timer);
          this.waiters.delete(waiter);
          resolve(ok);
        },
      };
      const timer = setTimeout(() => waiter.resolve(false), timeoutMs);
      this.waiters.add(waiter);
      if (this.state.checkpoint !== null && this.state.checkpoint >= position) waiter.resolve(true);
    });
  }

  private advanced(position: Position): void {
    this.state.checkpoint = position;
    for (const w of [...this.waiters]) if (w.position <= position) w.resolve(true);
  }

  private async run(): Promise<void> {
    const { sql, logger } = this.options;
    const minBackoff = this.options.minBackoffMs ?? 100;
    const maxBackoff = this.options.maxBackoffMs ?? 30_000;
    const signal = this.abort.signal;
    while (!signal.aborted) {
      let release: (() => Promise<void>) | null = null;
      try {
        release = await sql.tryLock(`subscription:${this.handler.name}`);
      } catch (e) {
        this.fail(e);
      }
      if (!release) {
        this.state.leader = false;
        await sleep(this.options.standbyPollMs ?? 1000, signal);
        continue;
      }
      this.state.leader = true;
      try {
        await this.consume(signal);
        this.state.consecutiveFailures = 0;
      } catch (e) {
        this.fail(e);
        if (e instanceof CheckpointAheadOfStoreError) {
          logger.error({ subscription: this.handler.name, err: e.message }, 'subscription refused to start');
        }
        const backoff = Math.min(
          maxBackoff,
          minBackoff * 2 ** Math.min(this.state.consecutiveFailures - 1, 16),
        );
        logger.warn(
          { subscription: this.handler.name, err: this.state.lastError, retry_in_ms: backoff },
          'subscription failed; resuming from its checkpoint',
        );
        await sleep(backoff, signal);
      } finally {
        this.state.leader = false;
        this.state.caughtUp = false;
        await release().catch(() => undefined);
      }
    }
  }

  private fail(e: unknown): void {
    this.state.failures += 1;
    this.state.consecutiveFailures += 1;
    this.state.lastError = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
  }

  /**
   * A batch of handled events commits with its checkpoint in one transaction. A checkpoint that only moves
   * past events outside the filter (every other subscription's traffic) changes nothing but the restart
   * point, so it is stored at most once per `idleCheckpointMs`, by one statement without a transaction, and
   * a trailing timer stores the last one when nothing follows. The position still advances in memory at
   * once (this runner's read-your-writes waiters and lag); a restart replays at most that interval of
   * filtered-out events, which cost nothing to pass over again. Under load this removes three statements
   * per subscription per event of the others, the largest share of the service's database round trips.
   */
  private async consume(signal: AbortSignal): Promise<void> {
    const { store, sql } = this.options;
    const idleInterval = this.options.idleCheckpointMs ?? 1000;
    let stored = await loadCheckpoint(sql, this.handler.name);
    if (stored !== null) {
      const head = await storeHead(store);
      if (head === null || stored > head) {
        throw new CheckpointAheadOfStoreError(this.handler.name, stored, head);
      }
    }
    let storedAt = Date.now();
    if (stored !== null) this.advanced(stored);
    /** The position handed out last: `stored`, or ahead of it by checkpoints not yet written. */
    let checkpoint = stored;
    const batchSize = this.singleStep ? 1 : (this.handler.batchSize ?? 500);
    let batch: RecordedEvent[] = [];
    let trailingTimer: NodeJS.Timeout | undefined;
    let trailing: Promise<void> = Promise.resolve();
    let busy = false;

    /** Writes `checkpoint` if it is ahead of `stored`; one statement (the compare-and-set). */
    const storeIdle = async (): Promise<void> => {
      const through = checkpoint;
      if (through === null || (stored !== null && through <= stored)) return;
      await storeCheckpoint(sql, this.handler.name, stored, through);
      stored = through;
      storedAt = Date.now();
    };
    const scheduleTrailing = (): void => {
      if (trailingTimer) return;
      trailingTimer = setTimeout(() => {
        trailingTimer = undefined;
        if (busy) return scheduleTrailing();
        // A failure here is left for the next commit: its compare-and-set sees any real conflict.
        trailing = storeIdle().catch(() => undefined);
      }, idleInterval);
      trailingTimer.unref?.();
    };

    const commit = async (through: Position): Promise<void> => {
      if (checkpoint !== null && through <= checkpoint) return;
      const events = batch;
      busy = true;
      try {
        await trailing;
        if (events.length === 0) {
          checkpoint = through;
          if (Date.now() - storedAt >= idleInterval) await storeIdle();
          else scheduleTrailing();
        } else {
          const previous = stored;
          await sql.transaction(async (tx) => {
            await this.handler.handle(events, tx);
            await storeCheckpoint(tx, this.handler.name, previous, through);
          });
          stored = checkpoint = through;
          storedAt = Date.now();
          batch = [];
          this.state.lastEventAt = events[events.length - 1]!.createdAt;
          // A batch went through: any earlier failure is behind us, back to full pages.
          this.singleStep = false;
          this.state.consecutiveFailures = 0;
        }
      } finally {
        busy = false;
      }
      this.advanced(through);
    };
    // Whatever triggered the flush (a full page, a checkpoint, caught-up), a failed batch of several events
    // is retried one event at a time, so the failing event is isolated and the ones before it commit.
    const flush = async (through: Position): Promise<void> => {
      try {
        await commit(through);
      } catch (e) {
        if (batch.length > 1) this.singleStep = true;
        throw e;
      }
    };

    // Its own signal too: leaving early (a failed batch) must end a read that is already waiting.
    const local = new AbortController();
    const messages = store.subscribeToAll({
      from: checkpoint ?? undefined,
      filter: this.handler.filter,
      signal: AbortSignal.any([signal, local.signal]),
    });
    const iterator = messages[Symbol.asyncIterator]();
    const idle = Symbol('idle');
    const untilIdle = (): Promise<typeof idle> => new Promise((resolve) => setImmediate(() => resolve(idle)));
    try {
      let next = iterator.next();
      for (;;) {
        let result: IteratorResult<SubscriptionMessage>;
        if (batch.length > 0 && this.state.caughtUp) {
          // Live: the events already read go into one batch, committed as soon as nothing more is ready,
          // so a burst of commits costs one transaction rather than one per event.
          const raced = await Promise.race([next, untilIdle()]);
          if (raced === idle) {
            await flush(batch[batch.length - 1]!.position);
            result = await next;
          } else {
            result = raced;
          }
        } else {
          result = await next;
        }
        if (result.done) break;
        const message = result.value;
        next = iterator.next();
        // Read ahead while this message is handled; if handling fails the loop ends and nobody awaits it.
        next.catch(() => undefined);
        if (message.kind === 'event') {
          batch.push(message.event);
          if (batch.length >= batchSize) await flush(message.event.position);
        } else if (message.kind === 'checkpoint') {
          await flush(message.position);
        } else {
          const last = batch[batch.length - 1];
          if (last) await flush(last.position);
          if (message.position) await flush(message.position);
          this.state.caughtUp = true;
        }
      }
    } finally {
      local.abort();
      await iterator.return?.(undefined).catch(() => undefined);
      this.state.caughtUp = false;
      clearTimeout(trailingTimer);
      await trailing;
      // Best effort: an unstored checkpoint only means passing over the same filtered events again.
      await storeIdle().catch(() => undefined);
    }
  }
}
