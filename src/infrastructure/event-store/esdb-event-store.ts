import {
  ANY,
  BACKWARDS,
  CancelledError,
  DeadlineExceededError,
  END,
  EventStoreDBClient,
  FORWARDS,
  NO_STREAM,
  START,
  STREAM_EXISTS,
  StreamDeletedError as EsdbStreamDeletedError,
  StreamNotFoundError as EsdbStreamNotFoundError,
  UnavailableError,
  WrongExpectedVersionError as EsdbWrongExpectedVersionError,
  eventTypeFilter,
  excludeSystemEvents,
  jsonEvent,
  streamNameFilter,
  type AllStreamResolvedEvent,
  type AllStreamSubscription,
  type AppendExpectedRevision,
  type Filter,
  type JSONType,
  type ExpectedRevision as EsdbExpectedRevision,
  type Position as EsdbPosition,
  type RecordedEvent as EsdbRecordedEvent,
  type StreamingRead,
} from '@eventstore/db-client';
import {
  StoreUnavailableError,
  StreamDeletedError,
  StreamNotFoundError,
  WrongExpectedVersionError,
  decodePosition,
  encodePosition,
  matchesFilter,
  type AppendResult,
  type EventFilter,
  type EventStore,
  type ExpectedRevision,
  type NewEvent,
  type Position,
  type ReadAllOptions,
  type ReadAllResult,
  type ReadStreamOptions,
  type RecordedEvent,
  type SubscribeOptions,
  type SubscriptionMessage,
} from '../../application/event-store';

const PAGE = 500;
/** The server's default search window (events scanned per catch-up page). */
const CATCH_UP_WINDOW = 32;
/** Subscription messages buffered here before the gRPC stream is paused (and the server held back). */
const HIGH_WATER = 256;

/**
 * The event store port on EventStoreDB (client 6.2.x; server 22.6 or later for positions on stream reads,
 * 23.10 or later for `caughtUp`). Every client type stays in this file: the successor client renames expected
 * revisions and error fields.
 *
 * - $all positions are the server's (commit, prepare) pair, encoded with `encodePosition`.
 * - System events (types or streams starting with `$`) never leave the adapter.
 * - The 6.2 client filters $all on the server only in subscriptions, and there on ONE of stream name or event
 *   type (see `serverFilter`); the port's whole filter is applied again here. `readAll` filters here, page by
 *   page, so its checkpoint is the last event it actually scanned.
 */
export class EventStoreDbEventStore implements EventStore {
  private readonly client: EventStoreDBClient;
  /** Aborted by close(): open subscriptions end as if their own signal had aborted. */
  private readonly closed = new AbortController();

  constructor(connectionString: string) {
    this.client = EventStoreDBClient.connectionString(connectionString);
  }

  async appendToStream(
    streamId: string,
    events: NewEvent[],
    options: { expectedRevision?: ExpectedRevision } = {},
  ): Promise<AppendResult> {
    const expected = options.expectedRevision ?? 'any';
    const data = events.map((e) =>
      jsonEvent({
        id: e.id,
        type: e.type,
        data: e.data as JSONType,
        metadata: e.metadata as JSONType | undefined,
      }),
    );
    let result;
    try {
      result = await this.client.appendToStream(streamId, data, {
        expectedRevision: toEsdbExpected(expected),
      });
    } catch (e) {
      // The server refuses `stream_exists` on a SOFT-deleted stream as "deleted"; for the port that stream
      // merely does not exist, and only a tombstone is a deleted stream.
      if (
        e instanceof EsdbStreamDeletedError &&
        expected === 'stream_exists' &&
        !(await this.isTombstoned(streamId))
      ) {
        throw new WrongExpectedVersionError(streamId, expected, 'no_stream');
      }
      throw translate(e, streamId, expected);
    }
    const last = Number(result.nextExpectedRevision);
    // The server answers the commit position of the whole write, which is where its FIRST event sits; the
    // port promises the last event's position (read-your-writes waits for it), so a batch reads it back.
    const position =
      events.length > 1 || !result.position
        ? ((await this.positionOf(streamId, last)) ?? (result.position && toPosition(result.position)))
        : toPosition(result.position);
    return { nextExpectedRevision: last, position: position ?? encodePosition(0n, 0n) };
  }

  async readStream(streamId: string, options: ReadStreamOptions = {}): Promise<RecordedEvent[]> {
    const direction = options.direction === 'backwards' ? BACKWARDS : FORWARDS;
    const wanted = options.maxCount ?? Number.MAX_SAFE_INTEGER;
    const events: RecordedEvent[] = [];
    const read = this.client.readStream(streamId, {
      direction,
      fromRevision:
        options.fromRevision !== undefined
          ? BigInt(options.fromRevision)
          : direction === FORWARDS
            ? START
            : END,
      // A zero-count read still has to say whether the stream exists.
      maxCount: Math.max(wanted, 1),
    });
    await drain(read, streamId, (resolved) => {
      if (resolved.event && events.length < wanted) events.push(toRecorded(resolved.event));
    });
    return events;
  }

  async readAll(options: ReadAllOptions = {}): Promise<ReadAllResult> {
    const forwards = options.direction !== 'backwards';
    const wanted = options.maxCount ?? Number.POSITIVE_INFINITY;
    const events: RecordedEvent[] = [];
    let checkpoint: Position | undefined;
    // A read from a position includes the event AT it (forwards), so `after` is an exclusive bound enforced
    // here; paging reuses the same bound with the last scanned position.
    let bound = options.after;
    while (events.length < wanted) {
      const pageSize =
        Number.isFinite(wanted) && !options.filter ? Math.min(wanted - events.length + 2, PAGE) : PAGE;
      const read = this.client.readAll({
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
  }

  subscribeToAll(options: SubscribeOptions = {}): AsyncIterable<SubscriptionMessage> {
    return { [Symbol.asyncIterator]: () => this.subscription(options) };
  }

  async deleteStream(streamId: string, options: { expectedRevision?: ExpectedRevision } = {}): Promise<void> {
    const expected = options.expectedRevision ?? 'any';
    // The 6.2 client cannot send `stream_exists` on a soft delete: pin the current revision instead, and
    // retry when an append slips in between.
    for (let attempt = 1; ; attempt++) {
      const revision = expected === 'stream_exists' ? await this.lastRevision(streamId, expected) : expected;
      try {
        await this.client.deleteStream(streamId, {
          expectedRevision: toEsdbExpected(revision) as EsdbExpectedRevision,
        });
        return;
      } catch (e) {
        if (expected === 'stream_exists' && e instanceof EsdbWrongExpectedVersionError && attempt < 3)
          continue;
        throw translate(e, streamId, expected);
      }
    }
  }

  async tombstoneStream(
    streamId: string,
    options: { expectedRevision?: ExpectedRevision } = {},
  ): Promise<void> {
    const expected = options.expectedRevision ?? 'any';
    try {
      // The client's types leave STREAM_EXISTS out for tombstones; its wire mapping and the server take it.
      await this.client.tombstoneStream(streamId, {
        expectedRevision: toEsdbExpected(expected) as EsdbExpectedRevision,
      });
    } catch (e) {
      throw translate(e, streamId, expected);
    }
  }

  async ping(): Promise<void> {
    try {
      await this.head();
    } catch (e) {
      throw e instanceof StoreUnavailableError
        ? e
        : new StoreUnavailableError('eventstoredb ping failed', { cause: e });
    }
  }

  async close(): Promise<void> {
    this.closed.abort();
    await this.client.dispose();
  }

  /**
   * Two server subscriptions in a row. The catch-up segment scans with a wide search window, so the server
   * checkpoints rarely; at its `caughtUp` the live segment takes over from the last delivered position with a
   * window of one, so every live event the filter drops still moves the checkpoint. Each segment ends its
   * catch-up with a checkpoint at the head of $all as read just before it started: everything up to there
   * was committed before the segment began, so the server has looked at it by `caughtUp`, while the last
   * catch-up page would otherwise carry no checkpoint at all.
   */
  private async *subscription(options: SubscribeOptions): AsyncGenerator<SubscriptionMessage> {
    const { signal, filter } = options;
    if (signal?.aborted || this.closed.signal.aborted) return;
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
      const s = this.client.subscribeToAll({
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

    const stopped = (): boolean => !!signal?.aborted || this.closed.signal.aborted;
    signal?.addEventListener('abort', notify);
    this.closed.signal.addEventListener('abort', notify);
    /** The last position handed out, event or checkpoint: a new segment starts strictly after it. */
    let delivered: Position | undefined = options.from === 'end' ? undefined : options.from;
    let lastEvent: Position | undefined;
    let live = options.from === 'end';
    let caughtUp = false;
    try {
      let head = await this.head();
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
            if (!caughtUp)
              yield lastEvent ? { kind: 'caught-up', position: lastEvent } : { kind: 'caught-up' };
            caughtUp = true;
            continue;
          }
          live = true;
          segment += 1; // retire the catch-up segment: whatever it still emits is dropped
          await sub.unsubscribe().catch(() => undefined);
          head = await this.head();
          sub = open(delivered ?? options.from ?? 'start', true);
          continue;
        }
        if (message.kind === 'event') {
          if (delivered !== undefined && message.event.position <= delivered) continue;
          delivered = lastEvent = message.event.position;
          yield message;
        } else if (
          message.kind === 'checkpoint' &&
          (delivered === undefined || message.position > delivered)
        ) {
          delivered = message.position;
          yield message;
        }
      }
    } finally {
      signal?.removeEventListener('abort', notify);
      this.closed.signal.removeEventListener('abort', notify);
      await sub?.unsubscribe().catch(() => undefined);
    }
  }

  /** The position of the last record in $all, system events included. */
  private async head(): Promise<Position | undefined> {
    let head: Position | undefined;
    await drain(
      this.client.readAll({ direction: BACKWARDS, fromPosition: END, maxCount: 1 }),
      '$all',
      (r) => {
        if (r.event) head ??= toPosition(r.event.position);
      },
    );
    return head;
  }

  private async lastRevision(streamId: string, expected: ExpectedRevision): Promise<bigint> {
    const [last] = await this.readStream(streamId, { direction: 'backwards', maxCount: 1 }).catch(
      (e: unknown) => {
        throw e instanceof StreamNotFoundError
          ? new WrongExpectedVersionError(streamId, expected, 'no_stream')
          : e;
      },
    );
    if (!last) throw new WrongExpectedVersionError(streamId, expected, 'no_stream');
    return BigInt(last.revision);
  }

  private async positionOf(streamId: string, revision: number): Promise<Position | undefined> {
    if (revision < 0) return undefined;
    const [event] = await this.readStream(streamId, { fromRevision: revision, maxCount: 1 }).catch(() => []);
    return event?.position;
  }

  private async isTombstoned(streamId: string): Promise<boolean> {
    return this.readStream(streamId, { maxCount: 1 }).then(
      () => false,
      (e: unknown) => e instanceof StreamDeletedError,
    );
  }
}

/**
 * Reads a bounded read to its end, always. Leaving a read early destroys the client's wrapper and unpipes
 * the gRPC call under it; when the server's end of that call arrives afterwards nobody reads it, the call
 * never emits `end`, and the client's `dispose()` then waits for it forever (a shutdown that hangs under
 * load). Every read here is bounded by its `maxCount`, so reading the rest costs at most one page.
 */
const drain = async <T>(read: StreamingRead<T>, streamId: string, each: (item: T) => void): Promise<void> => {
  try {
    for await (const item of read) each(item);
  } catch (e) {
    throw translate(e, streamId);
  }
};

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

const isSystem = (e: { streamId: string; type: string }): boolean =>
  e.type.startsWith('$') || e.streamId.startsWith('$');

const toPosition = (p: EsdbPosition): Position => encodePosition(p.commit, p.prepare);

const toEsdbPosition = (p: Position): EsdbPosition => {
  const [commit, prepare] = decodePosition(p);
  return { commit, prepare };
};

const toEsdbExpected = (expected: ExpectedRevision | bigint): AppendExpectedRevision => {
  switch (expected) {
    case 'any':
      return ANY;
    case 'no_stream':
      return NO_STREAM;
    case 'stream_exists':
      return STREAM_EXISTS;
    default:
      return BigInt(expected);
  }
};

const toRecorded = (e: EsdbRecordedEvent): RecordedEvent => {
  if (!e.position)
    throw new Error('eventstoredb returned an event without its $all position (server 22.6 or later needed)');
  return {
    id: e.id,
    streamId: e.streamId,
    revision: Number(e.revision),
    position: toPosition(e.position),
    type: e.type,
    data: e.data,
    metadata:
      e.metadata && !(e.metadata instanceof Uint8Array) && typeof e.metadata === 'object'
        ? (e.metadata as Record<string, unknown>)
        : {},
    // Client 6.2 turns the server's `created` ticks into a Date.
    createdAt: e.created,
  };
};

const UNAVAILABLE_CODES = new Set([1, 4, 14]); // gRPC CANCELLED, DEADLINE_EXCEEDED, UNAVAILABLE

const translate = (e: unknown, streamId: string, expected: ExpectedRevision = 'any'): unknown => {
  if (e instanceof EsdbWrongExpectedVersionError) {
    const actual = e.actualVersion;
    return new WrongExpectedVersionError(
      streamId,
      expected,
      typeof actual === 'bigint' && actual >= 0n ? Number(actual) : 'no_stream',
    );
  }
  if (e instanceof EsdbStreamNotFoundError) return new StreamNotFoundError(streamId);
  if (e instanceof EsdbStreamDeletedError) return new StreamDeletedError(streamId);
  if (
    e instanceof UnavailableError ||
    e instanceof CancelledError ||
    e instanceof DeadlineExceededError ||
    (e instanceof Error && UNAVAILABLE_CODES.has((e as { code?: unknown }).code as number))
  ) {
    return new StoreUnavailableError(`eventstoredb unavailable: ${e.message}`, { cause: e });
  }
  return e;
};
