import type { EventStore, Position, RecordedEvent, SubscriptionMessage } from '../../application/event-store';
import type { SqlClient } from '../../application/sql';
import type { SubscriptionHandler } from '../../application/subscription-handler';
import {
  CheckpointAheadOfStoreError,
  hasCheckpointRow,
  initCheckpoint,
  loadCheckpoint,
  storeCheckpoint,
  storeHead,
} from './checkpoints';

/** What one leadership term reads and moves on its runner (runner.ts). */
export type ConsumptionHost = {
  readonly handler: SubscriptionHandler;
  readonly store: EventStore;
  readonly sql: SqlClient;
  readonly idleCheckpointMs: number;
  /** The runner's status: `caughtUp`, `lastEventAt` and `consecutiveFailures` are written here. */
  readonly state: { caughtUp: boolean; lastEventAt: Date | null; consecutiveFailures: number };
  /** Set by a failed batch: the next term goes one event at a time to isolate the failing one. */
  readonly retry: { singleStep: boolean };
  /** The position is processed: read-your-writes waiters up to it resolve. */
  advanced(position: Position): void;
};

const idle = Symbol('idle');
const untilIdle = (): Promise<typeof idle> => new Promise((resolve) => setImmediate(() => resolve(idle)));

/**
 * One leadership term of a subscription: from the stored checkpoint to the end of the subscription (a
 * failure, the store going away, a stop). A batch of handled events commits with its checkpoint in one
 * transaction. A checkpoint that only moves past events outside the filter (every other subscription's
 * traffic) changes nothing but the restart point, so it is stored at most once per `idleCheckpointMs`, by
 * one statement without a transaction, and a trailing timer stores the last one when nothing follows. The
 * position still advances in memory at once (this runner's read-your-writes waiters and lag); a restart
 * replays at most that interval of filtered-out events, which cost nothing to pass over again. Under load
 * this removes three statements per subscription per event of the others, the largest share of the
 * service's database round trips.
 */
export class Consumption {
  /** The checkpoint as stored. */
  private stored: Position | null = null;
  private storedAt = Date.now();
  /** The position handed out last: `stored`, or ahead of it by checkpoints not yet written. */
  private checkpoint: Position | null = null;
  private batch: RecordedEvent[] = [];
  private readonly batchSize: number;
  private trailingTimer: NodeJS.Timeout | undefined;
  private trailing: Promise<void> = Promise.resolve();
  private busy = false;
  private signal: AbortSignal = new AbortController().signal;

  constructor(private readonly host: ConsumptionHost) {
    this.batchSize = host.retry.singleStep ? 1 : (host.handler.batchSize ?? 500);
  }

  async run(signal: AbortSignal): Promise<void> {
    this.signal = signal;
    await this.resume();
    // Its own signal too: leaving early (a failed batch) must end a read that is already waiting.
    const local = new AbortController();
    const messages = this.host.store.subscribeToAll({
      from: this.checkpoint ?? undefined,
      filter: this.host.handler.filter,
      signal: AbortSignal.any([signal, local.signal]),
    });
    const iterator = messages[Symbol.asyncIterator]();
    try {
      await this.deliver(iterator);
    } finally {
      local.abort();
      await this.close(iterator);
    }
  }

  /** Starts from the stored checkpoint, refusing one that lies past the end of the store. */
  private async resume(): Promise<void> {
    const { store, sql, handler } = this.host;
    const stored =
      handler.startAt && !(await hasCheckpointRow(sql, handler.name))
        ? await initCheckpoint(sql, handler.name, await handler.startAt())
        : await loadCheckpoint(sql, handler.name);
    if (stored !== null) {
      const head = await storeHead(store);
      if (head === null || stored > head) throw new CheckpointAheadOfStoreError(handler.name, stored, head);
    }
    this.stored = this.checkpoint = stored;
    this.storedAt = Date.now();
    if (stored !== null) this.host.advanced(stored);
  }

  private async deliver(iterator: AsyncIterator<SubscriptionMessage>): Promise<void> {
    let next = iterator.next();
    for (;;) {
      const result = await this.nextMessage(next);
      if (result.done) return;
      next = iterator.next();
      // Read ahead while this message is handled; if handling fails the loop ends and nobody awaits it.
      next.catch(() => undefined);
      await this.onMessage(result.value);
    }
  }

  /**
   * Live, the events already read go into one batch, committed as soon as nothing more is ready, so a
   * burst of commits costs one transaction rather than one per event.
   */
  private async nextMessage(
    next: Promise<IteratorResult<SubscriptionMessage>>,
  ): Promise<IteratorResult<SubscriptionMessage>> {
    const last = this.batch[this.batch.length - 1];
    if (!last || !this.host.state.caughtUp) return next;
    const raced = await Promise.race([next, untilIdle()]);
    if (raced !== idle) return raced;
    await this.flush(last.position);
    return next;
  }

  private async onMessage(message: SubscriptionMessage): Promise<void> {
    if (message.kind === 'event') {
      this.batch.push(message.event);
      if (this.batch.length >= this.batchSize) await this.flush(message.event.position);
    } else if (message.kind === 'checkpoint') {
      await this.flush(message.position);
    } else {
      const last = this.batch[this.batch.length - 1];
      if (last) await this.flush(last.position);
      if (message.position) await this.flush(message.position);
      this.host.state.caughtUp = true;
    }
  }

  /**
   * Whatever triggered the flush (a full page, a checkpoint, caught-up), a failed batch of several events
   * is retried one event at a time, so the failing event is isolated and the ones before it commit.
   */
  private async flush(through: Position): Promise<void> {
    try {
      await this.commit(through);
    } catch (e) {
      if (this.batch.length > 1) this.host.retry.singleStep = true;
      throw e;
    }
  }

  private async commit(through: Position): Promise<void> {
    if (this.checkpoint !== null && through <= this.checkpoint) return;
    const events = this.batch;
    this.busy = true;
    try {
      await this.trailing;
      if (events.length === 0) await this.passOver(through);
      else await this.commitBatch(events, through);
    } finally {
      this.busy = false;
    }
    this.host.advanced(through);
  }

  /** The handler's writes and the checkpoint, in one transaction. */
  private async commitBatch(events: RecordedEvent[], through: Position): Promise<void> {
    const { sql, handler, state } = this.host;
    const previous = this.stored;
    if (handler.deliver) await handler.deliver(events, this.signal);
    await sql.transaction(async (tx) => {
      await handler.handle(events, tx);
      await storeCheckpoint(tx, handler.name, previous, through);
    });
    this.stored = this.checkpoint = through;
    this.storedAt = Date.now();
    this.batch = [];
    state.lastEventAt = events[events.length - 1]!.createdAt;
    // A batch went through: any earlier failure is behind us, back to full pages.
    this.host.retry.singleStep = false;
    state.consecutiveFailures = 0;
  }

  /** A checkpoint past events outside the filter: stored now if the last store is old enough, else later. */
  private async passOver(through: Position): Promise<void> {
    this.checkpoint = through;
    if (Date.now() - this.storedAt >= this.host.idleCheckpointMs) await this.storeIdle();
    else this.scheduleTrailing();
  }

  /** Writes `checkpoint` if it is ahead of `stored`; one statement (the compare-and-set). */
  private async storeIdle(): Promise<void> {
    const through = this.checkpoint;
    if (through === null || (this.stored !== null && through <= this.stored)) return;
    await storeCheckpoint(this.host.sql, this.host.handler.name, this.stored, through);
    this.stored = through;
    this.storedAt = Date.now();
  }

  private scheduleTrailing(): void {
    if (this.trailingTimer) return;
    this.trailingTimer = setTimeout(() => {
      this.trailingTimer = undefined;
      if (this.busy) return this.scheduleTrailing();
      // A failure here is left for the next commit: its compare-and-set sees any real conflict.
      this.trailing = this.storeIdle().catch(() => undefined);
    }, this.host.idleCheckpointMs);
    this.trailingTimer.unref?.();
  }

  private async close(iterator: AsyncIterator<SubscriptionMessage>): Promise<void> {
    await iterator.return?.(undefined).catch(() => undefined);
    this.host.state.caughtUp = false;
    clearTimeout(this.trailingTimer);
    await this.trailing;
    // Best effort: an unstored checkpoint only means passing over the same filtered events again.
    await this.storeIdle().catch(() => undefined);
  }
}
