import {
  END,
  START,
  eventTypeFilter,
  excludeSystemEvents,
  streamNameFilter,
  type AllStreamResolvedEvent,
  type AllStreamSubscription,
  type EventStoreDBClient,
  type Filter,
  type Position as EsdbPosition,
} from '@eventstore/db-client';
import {
  StoreUnavailableError,
  matchesFilter,
  type EventFilter,
  type Position,
  type SubscribeOptions,
  type SubscriptionMessage,
} from '../../application/event-store';
import { isSystem, toEsdbPosition, toPosition, toRecorded } from './esdb-convert';
import { translate } from './esdb-errors';
import { head as readHead } from './esdb-read-all';

/** The server's default search window (events scanned per catch-up page). */
const CATCH_UP_WINDOW = 32;
/** Subscription messages buffered here before the gRPC stream is paused (and the server held back). */
const HIGH_WATER = 256;

/**
 * Two server subscriptions in a row. The catch-up segment scans with a wide search window, so the server
 * checkpoints rarely; at its `caughtUp` the live segment takes over from the last delivered position with a
 * window of one, so every live event the filter drops still moves the checkpoint. Each segment ends its
 * catch-up with a checkpoint at the head of $all as read just before it started: everything up to there
 * was committed before the segment began, so the server has looked at it by `caughtUp`, while the last
 * catch-up page would otherwise carry no checkpoint at all.
 */
export async function* subscription(
  client: EventStoreDBClient,
  options: SubscribeOptions,
  closed: AbortSignal,
): AsyncGenerator<SubscriptionMessage> {
  const { signal, filter } = options;
  if (signal?.aborted || closed.aborted) return;
  type Item = { segment: number; message: SubscriptionMessage | 'segment-caught-up' };
  const queue: Item[] = [];
  let segment = 0;
  let sub: AllStreamSubscription | undefined;
  let failure: unknown;
  let ended = false;
  let wake: (() => void) | undefined;
  const notify = (): void => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  const enqueue = (item: Item): void => {
    const last = queue[queue.length - 1];
    // A later checkpoint covers an earlier one: a slow consumer gets the newest only.
    const replace =
      typeof item.message === 'object' &&
      item.message.kind === 'checkpoint' &&
      typeof last?.message === 'object' &&
      last.message.kind === 'checkpoint';
    if (replace) queue[queue.length - 1] = item;
    else queue.push(item);
  };
  const open = (from: Position | 'start' | 'end', live: boolean): AllStreamSubscription => {
    const id = ++segment;
    // Checkpoints and caught-up arrive as callbacks while earlier events may still sit in the stream's
    // read buffer; they wait here until that buffer is empty, so a marker never overtakes an event.
    const held: Item[] = [];
    const release = (): void => {
      if (s.readableLength === 0) for (const item of held.splice(0)) enqueue(item);
    };
    const marker = (message: Item['message']): void => {
      if (id !== segment) return;
      held.push({ segment: id, message });
      release();
      notify();
    };
    const s = client.subscribeToAll({
      fromPosition: from === 'start' ? START : from === 'end' ? END : toEsdbPosition(from),
      filter: serverFilter(filter, live, (position) => marker({ kind: 'checkpoint', position })),
    });
    s.on('data', (resolved: AllStreamResolvedEvent) => {
      if (id !== segment) return;
      const e = resolved.event;
      try {
        if (e && !isSystem(e) && matchesFilter(filter, e.streamId, e.type)) {
          enqueue({ segment: id, message: { kind: 'event', event: toRecorded(e) } });
        }
      } catch (error) {
        failure ??= error;
      }
      release();
      if (queue.length >= HIGH_WATER) s.pause();
      notify();
    });
    s.on('caughtUp', () => marker('segment-caught-up'));
    s.on('error', (e: unknown) => {
      if (id !== segment) return;
      failure = e;
      notify();
    });
    s.on('end', () => {
      if (id !== segment) return;
      ended = true;
      notify();
    });
    return s;
  };

  const stopped = (): boolean => !!signal?.aborted || closed.aborted;
  signal?.addEventListener('abort', notify);
  closed.addEventListener('abort', notify);
  /** The last position handed out, event or checkpoint: a new segment starts strictly after it. */
  let delivered: Position | undefined = options.from === 'end' ? undefined : options.from;
  let lastEvent: Position | undefined;
  let live = options.from === 'end';
  let caughtUp = false;
  try {
    let head = await readHead(client);
    sub = open(options.from ?? 'start', live);
    while (!stopped()) {
      const item = queue.shift();
      if (!item) {
        // After the server goes away the client reports a CancelledError and nothing more: the caller
        // has to resubscribe from its checkpoint.
        if (failure !== undefined) throw translate(failure, '$all');
        if (ended) throw new StoreUnavailableError('eventstoredb ended the subscription');
        await new Promise<void>((resolve) => (wake = resolve));
        continue;
      }
      if (item.segment !== segment) continue;
      if (queue.length < HIGH_WATER / 2 && sub.isPaused()) sub.resume();
      const message = item.message;
      if (message === 'segment-caught-up') {
        if (head !== undefined && (delivered === undefined || head > delivered)) {
          delivered = head;
          yield { kind: 'checkpoint', position: head };
        }
        if (live) {
          if (!caughtUp) yield lastEvent ? { kind: 'caught-up', position: lastEvent } : { kind: 'caught-up' };
          caughtUp = true;
          continue;
        }
        live = true;
        segment += 1; // retire the catch-up segment: whatever it still emits is dropped
        await sub.unsubscribe().catch(() => undefined);
        head = await readHead(client);
        sub = open(delivered ?? options.from ?? 'start', true);
        continue;
      }
      if (message.kind === 'event') {
        if (delivered !== undefined && message.event.position <= delivered) continue;
        delivered = lastEvent = message.event.position;
        yield message;
      } else if (message.kind === 'checkpoint' && (delivered === undefined || message.position > delivered)) {
        delivered = message.position;
        yield message;
      }
    }
  } finally {
    signal?.removeEventListener('abort', notify);
    closed.removeEventListener('abort', notify);
    await sub?.unsubscribe().catch(() => undefined);
  }
}

/**
 * The server filters on ONE of stream name or event type; the stream prefix wins when both are given (it is
 * the narrower cut for this service's streams) and the rest is applied client-side. Without a filter the
 * server still drops system events. Catch-up checkpoints come every 32 x 32 events scanned; live ones after
 * every event, which is what lets a filtered subscriber's read-your-writes wait end.
 */
const serverFilter = (
  filter: EventFilter | undefined,
  live: boolean,
  onCheckpoint: (p: Position) => void,
): Filter => {
  const common = {
    maxSearchWindow: live ? 1 : CATCH_UP_WINDOW,
    checkpointInterval: live ? 1 : CATCH_UP_WINDOW,
    checkpointReached: (_: unknown, p: EsdbPosition) => onCheckpoint(toPosition(p)),
  };
  if (filter?.streamPrefixes?.length) return streamNameFilter({ prefixes: filter.streamPrefixes, ...common });
  if (filter?.eventTypePrefixes?.length)
    return eventTypeFilter({ prefixes: filter.eventTypePrefixes, ...common });
  return excludeSystemEvents(common);
};
