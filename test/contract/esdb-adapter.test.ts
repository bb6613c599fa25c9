/**
 * EventStoreDB-specific behaviour of the adapter, through the real client against the wire fake (and on
 * request against a real server, except where the fake's stop() is needed). The backend-neutral behaviour
 * lives in the shared contract suite.
 */
import { randomUUID } from 'node:crypto';
import {
  StoreUnavailableError,
  StreamDeletedError,
  StreamNotFoundError,
  WrongExpectedVersionError,
  type EventStore,
  type NewEvent,
  type Position,
  type SubscriptionMessage,
} from '../../src/application/event-store';
import { EventStoreDbEventStore } from '../../src/infrastructure/event-store/esdb-event-store';
import { collectSubscription } from './event-store-contract-support';
import { FakeEventStoreDb, whenBack } from '../support/esdb-fake';

const ev = (type: string, data: Record<string, unknown> = {}): NewEvent => ({ type, data });

const collect = (
  store: EventStore,
  options: Parameters<EventStore['subscribeToAll']>[0],
  until: (seen: SubscriptionMessage[]) => boolean,
) => collectSubscription(store, options, until, 5000);

const events = (messages: SubscriptionMessage[]) =>
  messages.flatMap((m) => (m.kind === 'event' ? [m.event] : []));

const withTimeout = async <T>(p: Promise<T>, ms: number, what: string): Promise<T> => {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<T>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} hung`)), ms))),
    ]);
  } finally {
    clearTimeout(timer);
  }
};

type Backend = { name: string; open: () => Promise<{ store: EventStore; close: () => Promise<void> }> };

const backends: Backend[] = [
  {
    name: 'wire fake',
    open: async () => {
      const fake = await FakeEventStoreDb.start();
      const store = new EventStoreDbEventStore(fake.connectionString);
      return { store, close: async () => (await store.close(), await fake.stop()) };
    },
  },
];
// The shared contract assumes nobody else writes to the server while it runs (esdb.test.ts), so these run
// against a real server only on request, e.g. `EVENTSTORE_ADAPTER_TESTS=1 npx jest --runInBand <this file>`.
const real = process.env.EVENTSTORE_ADAPTER_TESTS ? process.env.EVENTSTORE_CONNECTION_STRING : undefined;
if (real) {
  backends.push({
    name: 'real server',
    open: async () => {
      const store = new EventStoreDbEventStore(real);
      return { store, close: () => store.close() };
    },
  });
}

describe.each(backends)('EventStoreDbEventStore on $name', ({ open }) => {
  let store: EventStore;
  let close: () => Promise<void>;
  let prefix: string;
  beforeEach(async () => {
    ({ store, close } = await open());
    prefix = `t${randomUUID().replace(/-/g, '').slice(0, 12)}-`;
  });
  afterEach(async () => {
    await withTimeout(close(), 5000, 'close');
  });

  test('a multi-event append reports the position of its LAST event', async () => {
    const result = await store.appendToStream(`${prefix}a`, [ev('One'), ev('Two'), ev('Three')]);
    const read = await store.readStream(`${prefix}a`);
    expect(result.nextExpectedRevision).toBe(2);
    expect(result.position).toBe(read[2]!.position);
    expect(read.map((e) => e.revision)).toEqual([0, 1, 2]);
  });

  test('a version conflict carries the actual revision', async () => {
    await store.appendToStream(`${prefix}v`, [ev('One'), ev('Two')], { expectedRevision: 'no_stream' });
    const err = await store
      .appendToStream(`${prefix}v`, [ev('Three')], { expectedRevision: 0 })
      .catch((e) => e);
    expect(err).toBeInstanceOf(WrongExpectedVersionError);
    expect(err).toMatchObject({ streamId: `${prefix}v`, expected: 0, actual: 1 });
    const missing = await store
      .appendToStream(`${prefix}none`, [ev('One')], { expectedRevision: 'stream_exists' })
      .catch((e) => e);
    expect(missing).toMatchObject({ code: 'wrong-expected-version', actual: 'no_stream' });
  });

  test('readAll after a position is exclusive, forwards and backwards', async () => {
    await store.appendToStream(`${prefix}x`, [ev('A'), ev('B'), ev('C'), ev('D')]);
    const mine = (await store.readAll({ filter: { streamPrefixes: [prefix] } })).events;
    const [, b, c] = mine;
    const after = await store.readAll({ after: b!.position, maxCount: 1 });
    expect(after.events.map((e) => e.type)).toEqual(['C']);
    const before = await store.readAll({ after: c!.position, direction: 'backwards', maxCount: 1 });
    expect(before.events.map((e) => e.type)).toEqual(['B']);
  });

  test('readAll never returns system events and its filtered checkpoint covers skipped events', async () => {
    await store.appendToStream(`${prefix}keep`, [ev('Kept')]);
    await store.appendToStream(`$${prefix}sys`, [ev('InSystemStream')]);
    await store.appendToStream(`${prefix}other`, [ev('$SystemType'), ev('Other')]);
    const all = await store.readAll({});
    expect(all.events.some((e) => e.type.startsWith('$') || e.streamId.startsWith('$'))).toBe(false);
    const keep = await store.readAll({ filter: { streamPrefixes: [`${prefix}keep`] } });
    expect(keep.events.map((e) => e.type)).toEqual(['Kept']);
    const [last] = (await store.readAll({ direction: 'backwards', maxCount: 1 })).events;
    expect(keep.checkpoint! >= last!.position).toBe(true);
  });

  test('appending after a soft delete continues the revisions and hides the old events', async () => {
    const id = `${prefix}soft`;
    await store.appendToStream(id, [ev('One'), ev('Two')]);
    await store.deleteStream(id);
    await expect(store.readStream(id)).rejects.toBeInstanceOf(StreamNotFoundError);
    const result = await store.appendToStream(id, [ev('Three')], { expectedRevision: 'no_stream' });
    expect(result.nextExpectedRevision).toBe(2);
    const read = await store.readStream(id);
    expect(read.map((e) => [e.revision, e.type])).toEqual([[2, 'Three']]);
    // $all keeps a deleted stream's events until a scavenge.
    const inAll = await store.readAll({ filter: { streamPrefixes: [id] } });
    expect(inAll.events.map((e) => e.type)).toEqual(['One', 'Two', 'Three']);
  });

  test('a tombstoned stream can be neither read nor written', async () => {
    const id = `${prefix}gone`;
    await store.appendToStream(id, [ev('One')]);
    await store.tombstoneStream(id);
    await expect(store.readStream(id)).rejects.toBeInstanceOf(StreamDeletedError);
    await expect(store.appendToStream(id, [ev('Two')])).rejects.toBeInstanceOf(StreamDeletedError);
  });

  test('deleting with stream_exists pins the current revision', async () => {
    const id = `${prefix}del`;
    await expect(store.deleteStream(id, { expectedRevision: 'stream_exists' })).rejects.toBeInstanceOf(
      WrongExpectedVersionError,
    );
    await store.appendToStream(id, [ev('One')]);
    await store.deleteStream(id, { expectedRevision: 'stream_exists' });
    await expect(store.readStream(id)).rejects.toBeInstanceOf(StreamNotFoundError);
  });

  test('breaking out of a read early does not make close() hang', async () => {
    await store.appendToStream(
      `${prefix}many`,
      Array.from({ length: 300 }, (_, i) => ev('Many', { i })),
    );
    const some = await store.readAll({ maxCount: 3 });
    expect(some.events).toHaveLength(3);
    const partial = await store.readStream(`${prefix}many`, { maxCount: 2 });
    expect(partial).toHaveLength(2);
    await store.ping();
  });

  test('a subscription delivers history, then caught-up, then live events, and ends on abort', async () => {
    await store.appendToStream(`${prefix}s`, [ev('Old')]);
    const ac = new AbortController();
    const seen: SubscriptionMessage[] = [];
    const done = (async () => {
      for await (const m of store.subscribeToAll({
        filter: { streamPrefixes: [prefix] },
        signal: ac.signal,
      })) {
        seen.push(m);
        if (m.kind === 'caught-up') await store.appendToStream(`${prefix}s`, [ev('New')]);
        if (m.kind === 'event' && m.event.type === 'New') ac.abort();
      }
    })();
    await withTimeout(done, 5000, 'subscription');
    const kinds = seen
      .filter((m) => m.kind !== 'checkpoint')
      .map((m) => (m.kind === 'event' ? m.event.type : m.kind));
    expect(kinds).toEqual(['Old', 'caught-up', 'New']);
  });

  test('a subscription from a position starts after it', async () => {
    await store.appendToStream(`${prefix}p`, [ev('A'), ev('B'), ev('C')]);
    const [a] = (await store.readAll({ filter: { streamPrefixes: [prefix] } })).events;
    const got = await collect(store, { from: a!.position, filter: { streamPrefixes: [prefix] } }, (s) =>
      s.some((m) => m.kind === 'caught-up'),
    );
    expect(events(got).map((e) => e.type)).toEqual(['B', 'C']);
  });

  test('a filtered subscription advances with checkpoints over events it does not want', async () => {
    const wanted = `${prefix}wanted`;
    await store.appendToStream(wanted, [ev('Wanted')]);
    await store.appendToStream(
      `${prefix}noise`,
      Array.from({ length: 80 }, () => ev('Noise')),
    );
    const [lastNoise] = (await store.readAll({ direction: 'backwards', maxCount: 1 })).events;
    // Catch-up: checkpoints past the wanted event while scanning the noise.
    const history = await collect(
      store,
      { filter: { streamPrefixes: [wanted], eventTypePrefixes: ['Want'] } },
      (s) => s.some((m) => m.kind === 'caught-up'),
    );
    expect(events(history).map((e) => e.type)).toEqual(['Wanted']);
    const checkpoints = history.flatMap((m) => (m.kind === 'checkpoint' ? [m.position] : []));
    expect(checkpoints.length).toBeGreaterThan(0);
    const wantedAt = events(history)[0]!.position;
    expect(checkpoints.every((p) => p >= wantedAt)).toBe(true);
    expect(checkpoints.some((p) => p > wantedAt)).toBe(true);
    // Live: a single filtered-out event appended after catching up moves the checkpoint too.
    let appended = false;
    const live = await collect(
      store,
      { from: lastNoise!.position, filter: { streamPrefixes: [wanted] } },
      (s) => {
        if (!appended && s.some((m) => m.kind === 'caught-up')) {
          appended = true;
          void store.appendToStream(`${prefix}noise`, [ev('Noise')]);
        }
        return s.some((m) => m.kind === 'checkpoint' && m.position > lastNoise!.position);
      },
    );
    expect(appended).toBe(true);
    expect(live.some((m) => m.kind === 'checkpoint' && m.position > lastNoise!.position)).toBe(true);
    expect(events(live)).toEqual([]);
  });

  test('a slow consumer never receives a checkpoint ahead of an event it has not been given', async () => {
    const wanted = `${prefix}w`;
    let n = 0;
    /**
     * Rounds of wanted events, each followed by noise the filter drops; answers the last wanted position.
     * Fifty at a time: on a loaded machine the round trips, not the events, are what takes long.
     */
    const appendMixed = async (rounds: number): Promise<Position | undefined> => {
      let last: Position | undefined;
      for (let i = 0; i < rounds; i++) {
        ({ position: last } = await store.appendToStream(
          wanted,
          Array.from({ length: 50 }, () => ev('Wanted', { n: n++ })),
        ));
        await store.appendToStream(
          `${prefix}n`,
          Array.from({ length: 50 }, () => ev('Noise')),
        );
      }
      return last;
    };
    await appendMixed(12);
    const seen: SubscriptionMessage[] = [];
    const ac = new AbortController();
    let lastWanted: Position | undefined;
    const done = (async () => {
      const filter = { streamPrefixes: [wanted] };
      for await (const m of store.subscribeToAll({ filter, signal: ac.signal })) {
        seen.push(m);
        // Slow by taking nothing while it writes, not by sleeping: each stall writes far more than the adapter
        // buffers, so on any machine, however loaded, the adapter pauses the stream and the live checkpoints
        // arrive behind events still in the stream's buffer. The second stall hits while the first drains.
        if (m.kind === 'caught-up') await appendMixed(9);
        if (lastWanted === undefined && m.kind === 'event' && (m.event.data as { n: number }).n >= 1000) {
          lastWanted = await appendMixed(9);
        }
        // Ends at the last wanted event, or at a checkpoint past it should that event never come, so that a
        // lost event fails the order assertion below instead of waiting for the timeout.
        const at = m.kind === 'event' ? m.event.position : m.kind === 'checkpoint' ? m.position : undefined;
        if (lastWanted !== undefined && at !== undefined && at >= lastWanted) ac.abort();
      }
    })();
    await withTimeout(done, 25_000, 'subscription');
    expect(events(seen).map((e) => (e.data as { n: number }).n)).toEqual(
      Array.from({ length: 1500 }, (_, i) => i),
    );
    const lastEvent = seen.findLastIndex((m) => m.kind === 'event');
    const checkpointsBeforeIt = seen.slice(0, lastEvent).filter((m) => m.kind === 'checkpoint');
    expect(checkpointsBeforeIt.length).toBeGreaterThan(1);
    // An event at or below any earlier checkpoint is one the consumer was told it had already passed; the
    // highest checkpoint so far stands for all of them.
    let highest: Position | undefined;
    const behindACheckpoint: { event: Position; checkpoint: Position }[] = [];
    for (const m of seen) {
      if (m.kind === 'checkpoint' && (highest === undefined || m.position > highest)) highest = m.position;
      if (m.kind === 'event' && highest !== undefined && m.event.position <= highest) {
        behindACheckpoint.push({ event: m.event.position, checkpoint: highest });
      }
    }
    expect(behindACheckpoint).toEqual([]);
  });
});

describe('EventStoreDbEventStore when the server goes away', () => {
  test('a subscription throws StoreUnavailableError, and so do reads and appends', async () => {
    const fake = await FakeEventStoreDb.start();
    const store = new EventStoreDbEventStore(fake.connectionString);
    try {
      await store.appendToStream('gone-1', [ev('A')]);
      const iterator = store.subscribeToAll({})[Symbol.asyncIterator]();
      let m = await iterator.next();
      while (!m.done && m.value.kind !== 'caught-up') m = await iterator.next();
      await fake.stop();
      await expect(withTimeout(iterator.next(), 5000, 'subscription')).rejects.toBeInstanceOf(
        StoreUnavailableError,
      );
      await expect(store.readStream('gone-1')).rejects.toBeInstanceOf(StoreUnavailableError);
      await expect(store.appendToStream('gone-1', [ev('B')])).rejects.toBeInstanceOf(StoreUnavailableError);
      await expect(store.ping()).rejects.toBeInstanceOf(StoreUnavailableError);
      await expect(collect(store, {}, () => false)).rejects.toBeInstanceOf(StoreUnavailableError);

      // Back again: a new subscription from the checkpoint resumes.
      await fake.restart();
      await whenBack(() => store.appendToStream('gone-1', [ev('C')]));
      const resumed = await collect(store, { filter: { streamPrefixes: ['gone-'] } }, (s) =>
        s.some((x) => x.kind === 'caught-up'),
      );
      expect(events(resumed).map((e) => e.type)).toEqual(['A', 'C']);
    } finally {
      await withTimeout(store.close(), 5000, 'close');
      await fake.stop();
    }
  });

  test('close() returns while a subscription is open, and ends that subscription', async () => {
    const fake = await FakeEventStoreDb.start();
    const store = new EventStoreDbEventStore(fake.connectionString);
    try {
      const iterator = store.subscribeToAll({})[Symbol.asyncIterator]();
      let m = await iterator.next();
      while (!m.done && m.value.kind !== 'caught-up') m = await iterator.next();
      const pending = iterator.next();
      await withTimeout(store.close(), 5000, 'close');
      await expect(withTimeout(pending, 5000, 'subscription')).resolves.toEqual({
        done: true,
        value: undefined,
      });
    } finally {
      await fake.stop();
    }
  });
});
