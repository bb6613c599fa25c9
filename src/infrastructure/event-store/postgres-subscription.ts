import {
  decodePosition,
  type Position,
  type SubscribeOptions,
  type SubscriptionMessage,
} from '../../application/event-store';
import type { SqlClient } from '../../application/sql';
import { readAllPage, readHead, toRecorded } from './postgres-read-all';

/** The channel append_events notifies on commit (migration 0001). */
export const EVENTS_CHANNEL = 'event_store';

// While committed events are held back, the transaction holding them may end without a notification
// (a projection's, another database's): look again soon rather than after a whole poll interval.
const HELD_BACK_POLL_MS = 10;
// How long `caught-up` waits for committed events held back behind an older open transaction (possibly in
// another database of the cluster): bounded, as readAll's wait is, so steady writes cannot hold it off.
const CAUGHT_UP_WAIT_MS = 2_000;

/** Wakes a waiting subscription on a notification, an abort, or after the poll interval. */
class Wakeup {
  private rung = false;
  private wake: (() => void) | null = null;

  ring = (): void => {
    this.rung = true;
    this.wake?.();
  };

  reset(): void {
    this.rung = false;
  }

  wait(ms: number): Promise<void> {
    if (this.rung) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.wake = null;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.wake = done;
    });
  }
}

export type SubscriptionSettings = {
  pageSize: number;
  /** See PostgresEventStoreOptions.pollIntervalMs. */
  pollIntervalMs: number;
  /** Aborted when the store closes: every subscription ends. */
  closing: AbortSignal;
};

/**
 * Catch-up in pages, then live: LISTEN wakes the loop at once, the poll covers what no notification
 * announces. Delivery follows the global order and its horizon, so no event is ever passed over.
 */
export async function* subscribeToAll(
  sql: SqlClient,
  options: SubscribeOptions,
  settings: SubscriptionSettings,
): AsyncGenerator<SubscriptionMessage, void, undefined> {
  const signal = options.signal ? AbortSignal.any([options.signal, settings.closing]) : settings.closing;
  if (options.from !== undefined && options.from !== 'end') decodePosition(options.from);
  if (signal.aborted) return;

  const wakeup = new Wakeup();
  // Listen before the first read: a commit between that read and the LISTEN would otherwise wait a poll.
  const stopListening = await sql.listen(EVENTS_CHANNEL, wakeup.ring);
  signal.addEventListener('abort', wakeup.ring);
  try {
    let cursor: Position | undefined = options.from === 'end' ? await readHead(sql) : options.from;
    let caughtUp = false;
    let caughtUpDeadline: number | undefined;
    while (!signal.aborted) {
      wakeup.reset();
      const page = await readAllPage(sql, {
        after: cursor,
        maxCount: settings.pageSize,
        filter: options.filter,
      });
      for (const row of page.events) {
        if (signal.aborted) return;
        const event = toRecorded(row);
        yield { kind: 'event', event };
        cursor = event.position;
      }
      if (page.checkpoint !== undefined && (cursor === undefined || page.checkpoint > cursor)) {
        if (signal.aborted) return;
        cursor = page.checkpoint;
        yield { kind: 'checkpoint', position: cursor };
      }
      // A short page reached the horizon: everything committed so far has been looked at.
      if (page.events.length === settings.pageSize) continue;
      if (!caughtUp) {
        // `caught-up` promises that everything committed so far was delivered: while committed events are
        // still held back behind the horizon, it waits for them (bounded).
        if (page.heldBack !== undefined) {
          caughtUpDeadline ??= Date.now() + CAUGHT_UP_WAIT_MS;
          if (Date.now() < caughtUpDeadline) {
            await wakeup.wait(HELD_BACK_POLL_MS);
            continue;
          }
        }
        if (signal.aborted) return;
        caughtUp = true;
        yield { kind: 'caught-up', position: cursor };
      }
      await wakeup.wait(page.heldBack === undefined ? settings.pollIntervalMs : HELD_BACK_POLL_MS);
    }
  } finally {
    signal.removeEventListener('abort', wakeup.ring);
    await stopListening().catch(() => undefined);
  }
}
