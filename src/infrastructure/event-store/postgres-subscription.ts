import {
  decodePosition,
  matchesFilter,
  type EventFilter,
  type Position,
  type SubscribeOptions,
  type SubscriptionMessage,
} from '../../application/event-store';
import type { SqlClient } from '../../application/sql';
import { readAllPage, readHead, toRecorded, type Page } from './postgres-read-all';
import { SameTurnBatch } from './same-turn';

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

/** A page of one subscription; `full` says the read stopped at its size, not at the horizon. */
export type LivePage = Page & { full: boolean };

type LiveRequest = {
  after: Position | undefined;
  filter: EventFilter | undefined;
  resolve: (page: LivePage) => void;
  reject: (error: unknown) => void;
};

/**
 * The live reads of a store's subscriptions, shared. Every subscription of the process wakes on the same
 * notification, and live ones that have looked at the same events stand at the same position: their reads
 * of one turn of the event loop that start after the same position become ONE unfiltered read, whose rows
 * each subscription then filters for itself. Each gets what its own filtered read would have given: the
 * events it wants, and as its checkpoint the last event looked at. `full` tells the reader the shared page
 * stopped at its size, so there may be more to read though few rows matched. A read from a position no
 * other reader shares goes alone, filtered in SQL. With a projection, the mail outbox and a feed all
 * following the log, this turns one read per subscription per commit into one read per commit.
 */
export class SharedLiveReads {
  private readonly pending = new SameTurnBatch<LiveRequest>((requests) => this.flush(requests));

  constructor(
    private readonly sql: SqlClient,
    private readonly pageSize: number,
  ) {}

  read(after: Position | undefined, filter: EventFilter | undefined): Promise<LivePage> {
    return new Promise((resolve, reject) => this.pending.add({ after, filter, resolve, reject }));
  }

  private flush(requests: LiveRequest[]): void {
    const groups = new Map<string, LiveRequest[]>();
    for (const r of requests) {
      const key = r.after ?? '';
      groups.set(key, [...(groups.get(key) ?? []), r]);
    }
    for (const group of groups.values()) void this.answer(group[0]!.after, group);
  }

  private async answer(after: Position | undefined, requests: LiveRequest[]): Promise<void> {
    const only = requests.length === 1 ? requests[0] : undefined;
    try {
      const page = await readAllPage(this.sql, {
        after,
        maxCount: this.pageSize,
        ...(only?.filter ? { filter: only.filter } : {}),
      });
      const full = page.events.length === this.pageSize;
      for (const r of requests) {
        const events =
          r === only ? page.events : page.events.filter((e) => matchesFilter(r.filter, e.stream_id, e.type));
        r.resolve({ ...page, events, full });
      }
    } catch (e) {
      for (const r of requests) r.reject(e);
    }
  }
}

export type SubscriptionSettings = {
  pageSize: number;
  /** See PostgresEventStoreOptions.pollIntervalMs. */
  pollIntervalMs: number;
  /** Aborted when the store closes: every subscription ends. */
  closing: AbortSignal;
  /** Where caught-up subscriptions read, together. */
  live: SharedLiveReads;
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
      const page: LivePage = caughtUp
        ? await settings.live.read(cursor, options.filter)
        : await readAllPage(sql, { after: cursor, maxCount: settings.pageSize, filter: options.filter }).then(
            (p) => ({ ...p, full: p.events.length === settings.pageSize }),
          );
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
      if (page.full) continue;
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
