import {
  BACKWARDS,
  END,
  EventStoreDBClient,
  FORWARDS,
  START,
  WrongExpectedVersionError as EsdbWrongExpectedVersionError,
  type ExpectedRevision as EsdbExpectedRevision,
} from '@eventstore/db-client';
import {
  StoreUnavailableError,
  StreamNotFoundError,
  WrongExpectedVersionError,
  type AppendResult,
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
import { appendEvents } from './esdb-append';
import { toEsdbExpected, toRecorded } from './esdb-convert';
import { UnsupportedEventStoreError, isTransient, translate } from './esdb-errors';
import { drain, head, readAll } from './esdb-read-all';
import { subscription } from './esdb-subscription';

export { UnsupportedEventStoreError } from './esdb-errors';

/** `caughtUp` came with 23.10; the adapter's subscriptions cannot tell history from live without it. */
const MINIMUM_VERSION: [number, number] = [23, 10];

/**
 * The event store port on EventStoreDB (client 6.2.x; server 23.10 or later, checked before the first
 * subscription and by every ping). Every client type stays in the `esdb-*` files: the successor client
 * renames expected revisions and error fields.
 *
 * - $all positions are the server's (commit, prepare) byte offsets, encoded with `encodePosition`.
 * - System events (types or streams starting with `$`) never leave the adapter.
 * - Appends: esdb-append.ts (event ids, lost answers); reads of $all: esdb-read-all.ts; subscriptions:
 *   esdb-subscription.ts; errors: esdb-errors.ts.
 */
export class EventStoreDbEventStore implements EventStore {
  private readonly client: EventStoreDBClient;
  /** Aborted by close(): open subscriptions end as if their own signal had aborted. */
  private readonly closed = new AbortController();
  private supported: Promise<void> | undefined;

  constructor(connectionString: string) {
    this.client = EventStoreDBClient.connectionString(connectionString);
  }

  appendToStream(
    streamId: string,
    events: NewEvent[],
    options: { expectedRevision?: ExpectedRevision } = {},
  ): Promise<AppendResult> {
    return appendEvents(this.client, streamId, events, options.expectedRevision ?? 'any');
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

  readAll(options: ReadAllOptions = {}): Promise<ReadAllResult> {
    return readAll(this.client, options);
  }

  subscribeToAll(options: SubscribeOptions = {}): AsyncIterable<SubscriptionMessage> {
    return {
      [Symbol.asyncIterator]: () => this.checkedSubscription(options),
    };
  }

  headPosition(): Promise<Position | undefined> {
    return head(this.client);
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

  /** Reachable, and a version the adapter supports (readiness names an unsupported server). */
  async ping(): Promise<void> {
    try {
      await this.head();
      await this.assertSupported();
    } catch (e) {
      throw e instanceof StoreUnavailableError || e instanceof UnsupportedEventStoreError
        ? e
        : new StoreUnavailableError('eventstoredb ping failed', { cause: e });
    }
  }

  async close(): Promise<void> {
    this.closed.abort();
    await this.client.dispose();
  }

  private async *checkedSubscription(options: SubscribeOptions): AsyncGenerator<SubscriptionMessage> {
    if (options.signal?.aborted || this.closed.signal.aborted) return;
    await this.assertSupported();
    yield* subscription(this.client, options, this.closed.signal);
  }

  /**
   * The server's version from ServerFeatures, once per adapter (again after a failure to ask). Client 6.2
   * keeps that answer behind a protected getter; it reports "unknown" when the service is missing.
   */
  private assertSupported(): Promise<void> {
    this.supported ??= (async () => {
      let version: string;
      try {
        const features = await (
          this.client as unknown as { capabilities: Promise<{ serverVersion: string }> }
        ).capabilities;
        version = features.serverVersion;
      } catch (e) {
        throw isTransient(e) ? translate(e, '$all') : e;
      }
      const [major = 0, minor = 0] = version.split('.').map(Number);
      const [needMajor, needMinor] = MINIMUM_VERSION;
      if (version === 'unknown' || major < needMajor || (major === needMajor && minor < needMinor)) {
        throw new UnsupportedEventStoreError(version);
      }
    })();
    return this.supported.catch((e: unknown) => {
      this.supported = undefined;
      throw e;
    });
  }

  private head(): Promise<Position | undefined> {
    return head(this.client);
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
}
