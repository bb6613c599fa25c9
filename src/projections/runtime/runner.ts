import type { EventStore, Position } from '../../application/event-store';
import type { SqlClient } from '../../application/sql';
import type { SubscriptionHandler } from '../../application/subscription-handler';
import { CheckpointAheadOfStoreError, loadCheckpoint } from './checkpoints';
import { Consumption } from './consume';

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
   * 1000 ms; 0 stores every one). See `Consumption` (consume.ts).
   */
  idleCheckpointMs?: number;
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
export class SubscriptionRunner {
  private readonly abort = new AbortController();
  private loop: Promise<void> | null = null;
  private readonly waiters = new Set<{ position: Position; resolve: (ok: boolean) => void }>();
  private readonly state: SubscriptionStatus;
  /** Set by a failed batch: the next attempt goes one event at a time to isolate the failing one. */
  private readonly retry = { singleStep: false };

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
        // Exponential, capped, with jitter (half to all of it), so instances and targets that failed
        // together do not all come back in the same instant.
        const ceiling = Math.min(
          maxBackoff,
          minBackoff * 2 ** Math.min(this.state.consecutiveFailures - 1, 16),
        );
        const backoff = Math.round(ceiling / 2 + Math.random() * (ceiling / 2));
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

  /** One leadership term: consume from the stored checkpoint until the subscription ends (consume.ts). */
  private consume(signal: AbortSignal): Promise<void> {
    return new Consumption({
      handler: this.handler,
      store: this.options.store,
      sql: this.options.sql,
      idleCheckpointMs: this.options.idleCheckpointMs ?? 1000,
      state: this.state,
      retry: this.retry,
      advanced: (position) => this.advanced(position),
    }).run(signal);
  }
}
