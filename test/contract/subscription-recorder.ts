import type {
  EventStore,
  RecordedEvent,
  SubscribeOptions,
  SubscriptionMessage,
} from '../../src/application/event-store';

/**
 * Runs a subscription in the background and records its messages, so a test can append while it runs and
 * wait for what it expects. `stop()` aborts the signal and waits for the iteration to end.
 */
export class SubscriptionRecorder {
  readonly messages: SubscriptionMessage[] = [];
  /** Settles when the iteration ends; rejects with what the subscription threw. */
  readonly done: Promise<void>;
  private readonly controller = new AbortController();
  private readonly listeners = new Set<() => void>();
  private failure: unknown;
  private ended = false;

  constructor(store: EventStore, options: Omit<SubscribeOptions, 'signal'> = {}) {
    this.done = (async () => {
      try {
        for await (const message of store.subscribeToAll({ ...options, signal: this.controller.signal })) {
          this.messages.push(message);
          this.notify();
        }
      } catch (e) {
        this.failure = e;
        throw e;
      } finally {
        this.ended = true;
        this.notify();
      }
    })();
    this.done.catch(() => undefined);
  }

  events(keep: (e: RecordedEvent) => boolean = () => true): RecordedEvent[] {
    return this.messages.flatMap((m) => (m.kind === 'event' && keep(m.event) ? [m.event] : []));
  }

  get caughtUp(): boolean {
    return this.messages.some((m) => m.kind === 'caught-up');
  }

  /** Waits until `condition` holds; fails with the messages so far when it does not within the timeout. */
  async until(condition: (r: this) => boolean, what: string, timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!condition(this)) {
      if (this.failure) throw this.failure;
      if (this.ended) throw new Error(`subscription ended before ${what}`);
      const left = deadline - Date.now();
      if (left <= 0) {
        const events = this.events().length;
        const last = this.messages.slice(-10).map(summarize);
        throw new Error(
          `timed out waiting for ${what}: ${events} events so far, ending ${JSON.stringify(last)}`,
        );
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(wake, Math.min(left, 100));
        function wake() {
          clearTimeout(timer);
          resolve();
        }
        this.listeners.add(wake);
      });
    }
  }

  async stop(): Promise<void> {
    this.controller.abort();
    await this.done;
  }

  private notify(): void {
    for (const wake of this.listeners) wake();
    this.listeners.clear();
  }
}

const summarize = (m: SubscriptionMessage): string =>
  m.kind === 'event' ? `event ${m.event.streamId}@${m.event.revision}` : `${m.kind} ${m.position ?? ''}`;
