import {
  BACKWARDS,
  END,
  FORWARDS,
  START,
  type EventStoreDBClient,
  type StreamingRead,
} from '@eventstore/db-client';
import {
  matchesFilter,
  type Position,
  type ReadAllOptions,
  type ReadAllResult,
  type RecordedEvent,
} from '../../application/event-store';
import { isSystem, toEsdbPosition, toPosition, toRecorded } from './esdb-convert';
import { translate } from './esdb-errors';

const PAGE = 500;

/**
 * Reads a bounded read to its end, always. Leaving a read early destroys the client's wrapper and unpipes
 * the gRPC call under it; when the server's end of that call arrives afterwards nobody reads it, the call
 * never emits `end`, and the client's `dispose()` then waits for it forever (a shutdown that hangs under
 * load). Every read here is bounded by its `maxCount`, so reading the rest costs at most one page.
 */
export const drain = async <T>(
  read: StreamingRead<T>,
  streamId: string,
  each: (item: T) => void,
): Promise<void> => {
  try {
    for await (const item of read) each(item);
  } catch (e) {
    throw translate(e, streamId);
  }
};

/**
 * The 6.2 client filters $all reads on the server only in subscriptions, so `readAll` filters here, page by
 * page, and its checkpoint is the last event it actually scanned. A read from a position includes the event
 * AT it (forwards), so `after` is an exclusive bound enforced here; paging reuses the same bound with the
 * last scanned position. Checkpoints of the form (X, 0) that subscriptions hand out sort just before the
 * event at (X, X), so reading after one starts exactly at that event.
 */
export const readAll = async (
  client: EventStoreDBClient,
  options: ReadAllOptions,
): Promise<ReadAllResult> => {
  const forwards = options.direction !== 'backwards';
  const wanted = options.maxCount ?? Number.POSITIVE_INFINITY;
  const events: RecordedEvent[] = [];
  let checkpoint: Position | undefined;
  let bound = options.after;
  while (events.length < wanted) {
    const pageSize =
      Number.isFinite(wanted) && !options.filter ? Math.min(wanted - events.length + 2, PAGE) : PAGE;
    const read = client.readAll({
      direction: forwards ? FORWARDS : BACKWARDS,
      fromPosition: bound ? toEsdbPosition(bound) : forwards ? START : END,
      maxCount: pageSize,
    });
    let scanned = 0;
    let pageLast: Position | undefined;
    await drain(read, '$all', (resolved) => {
      scanned += 1;
      const e = resolved.event;
      // Past the last wanted event the rest of the page is read but neither kept nor checkpointed.
      if (!e || events.length >= wanted) return;
      const position = toPosition(e.position);
      if (bound && (forwards ? position <= bound : position >= bound)) return;
      pageLast = position;
      checkpoint = position;
      if (isSystem(e) || !matchesFilter(options.filter, e.streamId, e.type)) return;
      events.push(toRecorded(e));
    });
    if (scanned < pageSize || pageLast === undefined) break;
    bound = pageLast;
  }
  return { events, checkpoint };
};

/** The position of the last record in $all, system events included. */
export const head = async (client: EventStoreDBClient): Promise<Position | undefined> => {
  let last: Position | undefined;
  await drain(client.readAll({ direction: BACKWARDS, fromPosition: END, maxCount: 1 }), '$all', (r) => {
    if (r.event) last ??= toPosition(r.event.position);
  });
  return last;
};
