/**
 * The adapter against the behaviours of a 24.10 server that the wire fake reproduces (see the header of
 * test/support/esdb-fake/index.ts for the server files each one follows): lost append answers, idempotent
 * re-appends, size limits, old servers, falling behind, checkpoint shapes.
 */
import { randomUUID } from 'node:crypto';
import {
  AppendTooLargeError,
  StoreUnavailableError,
  WrongExpectedVersionError,
  decodePosition,
  type EventStore,
  type NewEvent,
  type Position,
  type SubscriptionMessage,
} from '../../src/application/event-store';
import {
  EventStoreDbEventStore,
  UnsupportedEventStoreError,
} from '../../src/infrastructure/event-store/esdb-event-store';
import { collectSubscription } from './event-store-contract-support';
import { FakeEventStoreDb, type FakeEventStoreDbOptions } from '../support/esdb-fake';

const ev = (type: string, data: Record<string, unknown> = {}): NewEvent => ({ type, data });

const open = async (options: FakeEventStoreDbOptions = {}) => {
  const fake = await FakeEventStoreDb.start(options);
  const store = new EventStoreDbEventStore(fake.connectionString);
  return { fake, store, close: async () => (await store.close(), await fake.stop()) };
};

const types = async (store: EventStore, stream: string): Promise<string[]> =>
  (await store.readStream(stream)).map((e) => e.type);

describe.each(['batch', 'append'] as const)(
  'appends over %s when the answer is lost or refused',
  (appendPath) => {
    let ctx: Awaited<ReturnType<typeof open>>;
    let s: string;
    beforeEach(async () => {
      ctx = await open({ appendPath });
      s = `a-${randomUUID()}`;
      await ctx.store.appendToStream(s, [ev('First')], { expectedRevision: 'no_stream' });
    });
    afterEach(() => ctx.close());

    it.each(['not-ready', 'too-busy'] as const)(
      'a %s server wrote nothing: the events are sent once more and written once',
      async (kind) => {
        ctx.fake.faults.failNextAppend({ kind });
        const result = await ctx.store.appendToStream(s, [ev('Second')], { expectedRevision: 0 });
        expect(result.nextExpectedRevision).toBe(1);
        expect(await types(ctx.store, s)).toEqual(['First', 'Second']);
      },
    );

    it.each(['timeout', 'internal'] as const)(
      'a %s after the write committed is a success, read back from the stream, written once',
      async (kind) => {
        ctx.fake.faults.failNextAppend({ kind, commit: true });
        const result = await ctx.store.appendToStream(s, [ev('Second'), ev('Third')], {
          expectedRevision: 0,
        });
        const read = await ctx.store.readStream(s);
        expect(read.map((e) => e.type)).toEqual(['First', 'Second', 'Third']);
        expect(result).toEqual({ nextExpectedRevision: 2, position: read[2]!.position });
      },
    );

    it('still uncertain after the second try: StoreUnavailableError, and the caller retrying the same append is a no-op', async () => {
      ctx.fake.faults.failNextAppend({ kind: 'timeout', commit: false }, { kind: 'timeout', commit: true });
      const events = [ev('Second', { n: 1 })];
      await expect(ctx.store.appendToStream(s, events, { expectedRevision: 0 })).rejects.toBeInstanceOf(
        StoreUnavailableError,
      );
      // The second try was written after all. The same append again carries the same ids (same stream,
      // revision and content), which the server recognises: a success, nothing written twice.
      const again = await ctx.store.appendToStream(s, [ev('Second', { n: 1 })], { expectedRevision: 0 });
      expect(again.nextExpectedRevision).toBe(1);
      expect(await types(ctx.store, s)).toEqual(['First', 'Second']);
    });

    it('every transient failure reaches the caller as StoreUnavailableError, never as an unknown error', async () => {
      for (const kind of ['not-ready', 'too-busy'] as const) {
        ctx.fake.faults.failNextAppend({ kind }, { kind });
        await expect(ctx.store.appendToStream(s, [ev('X')], { expectedRevision: 0 })).rejects.toBeInstanceOf(
          StoreUnavailableError,
        );
      }
      for (const kind of ['timeout', 'internal'] as const) {
        ctx.fake.faults.failNextAppend({ kind, commit: false }, { kind, commit: false });
        await expect(ctx.store.appendToStream(s, [ev('X')], { expectedRevision: 0 })).rejects.toBeInstanceOf(
          StoreUnavailableError,
        );
      }
      expect(await types(ctx.store, s)).toEqual(['First']);
    });

    it('an append over 1 MiB is AppendTooLargeError, and nothing is written', async () => {
      const big = 'x'.repeat(600 * 1024);
      const e = await ctx.store.appendToStream(s, [ev('Big', { big }), ev('Big', { big })]).catch((x) => x);
      expect(e).toBeInstanceOf(AppendTooLargeError);
      expect(e).toMatchObject({ code: 'append-too-large', streamId: s, maxBytes: 1024 * 1024 });
      expect(await types(ctx.store, s)).toEqual(['First']);
    });

    it('re-sent event ids: a success without a write for any and an older exact revision, a conflict when they only partly match', async () => {
      const a = { id: randomUUID(), ...ev('A') };
      const b = { id: randomUUID(), ...ev('B') };
      await ctx.store.appendToStream(s, [a, b], { expectedRevision: 0 });
      expect((await ctx.store.appendToStream(s, [a, b])).nextExpectedRevision).toBe(2);
      expect(
        (await ctx.store.appendToStream(s, [a, b], { expectedRevision: 'stream_exists' }))
          .nextExpectedRevision,
      ).toBe(2);
      expect((await ctx.store.appendToStream(s, [a], { expectedRevision: 0 })).nextExpectedRevision).toBe(1);
      expect((await ctx.store.appendToStream(s, [a, b], { expectedRevision: 0 })).nextExpectedRevision).toBe(
        2,
      );
      await expect(
        ctx.store.appendToStream(s, [a, { id: randomUUID(), ...ev('C') }], { expectedRevision: 0 }),
      ).rejects.toBeInstanceOf(WrongExpectedVersionError);
      await expect(ctx.store.appendToStream(s, [a, { id: randomUUID(), ...ev('C') }])).rejects.toBeInstanceOf(
        WrongExpectedVersionError,
      );
      expect(await types(ctx.store, s)).toEqual(['First', 'A', 'B']);
    });
  },
);

describe('server versions and deletes', () => {
  it.each([
    [{ serverVersion: '23.6.0' }, /eventstoredb 23\.6\.0 is not supported/],
    [{ serverFeatures: false }, /did not report its version/],
  ] as [FakeEventStoreDbOptions, RegExp][])(
    'a server below 23.10 (%o) is refused by subscriptions and ping, with a clear message',
    async (options, message) => {
      const ctx = await open(options);
      try {
        const it = ctx.store.subscribeToAll({})[Symbol.asyncIterator]();
        await expect(it.next()).rejects.toThrow(message);
        await expect(ctx.store.ping()).rejects.toBeInstanceOf(UnsupportedEventStoreError);
      } finally {
        await ctx.close();
      }
    },
  );

  it('soft-deleting a stream that only has metadata succeeds', async () => {
    const ctx = await open();
    try {
      ctx.fake.log.writeMetadata('meta-only', { $maxCount: 10 });
      await ctx.store.deleteStream('meta-only');
      expect(ctx.fake.log.isSoftDeleted('meta-only')).toBe(true);
    } finally {
      await ctx.close();
    }
  });
});

const collect = (
  store: EventStore,
  options: Parameters<EventStore['subscribeToAll']>[0],
  until: (seen: SubscriptionMessage[]) => boolean,
  timeoutMs = 10_000,
) => collectSubscription(store, options, until, timeoutMs);

describe('positions and checkpoints as a 24.10 server hands them out', () => {
  it('positions are sparse byte offsets; catch-up checkpoints of shape (X, 0) and (0, 0) resume exactly at the next event', async () => {
    const ctx = await open();
    try {
      const store = ctx.store;
      // Nothing matches: the catch-up's one page ends the log, and the checkpoint it must send is (0, 0).
      const none = await collect(store, { filter: { streamPrefixes: ['nothing-'] } }, (m) =>
        m.some((x) => x.kind === 'caught-up'),
      );
      const zero = none.flatMap((m) => (m.kind === 'checkpoint' ? [m.position] : []))[0];
      expect(zero && decodePosition(zero)).toEqual([0n, 0n]);

      await store.appendToStream('w-1', [ev('Wanted')]);
      await store.appendToStream(
        'n-1',
        Array.from({ length: 70 }, (_, i) => ev('Noise', { i })),
      );
      const all = (await store.readAll()).events;
      const gaps = all
        .slice(1)
        .map((e, i) => decodePosition(e.position)[0] - decodePosition(all[i]!.position)[0]);
      expect(gaps.every((g) => g > 1n)).toBe(true);
      expect(all.every((e) => decodePosition(e.position)[0] === decodePosition(e.position)[1])).toBe(true);

      const history = await collect(store, { filter: { streamPrefixes: ['w-'] } }, (m) =>
        m.some((x) => x.kind === 'caught-up'),
      );
      const shaped = history.flatMap((m) => (m.kind === 'checkpoint' ? [m.position] : []));
      const xZero = shaped.filter((p) => decodePosition(p)[1] === 0n && decodePosition(p)[0] > 0n);
      expect(xZero.length).toBeGreaterThan(0);
      for (const checkpoint of [zero!, ...xZero]) {
        const expected = all.filter((e) => e.position > checkpoint).map((e) => e.id);
        const read = await store.readAll({ after: checkpoint });
        expect(read.events.map((e) => e.id)).toEqual(expected);
        const resumed = await collect(store, { from: checkpoint }, (m) =>
          m.some((x) => x.kind === 'caught-up'),
        );
        const ids = resumed.flatMap((m) => (m.kind === 'event' ? [m.event.id] : []));
        expect(ids).toEqual(expected);
      }
    } finally {
      await ctx.close();
    }
  });

  it('a subscription from past the end skips later events silently, as the server does (the runner guards it)', async () => {
    const ctx = await open();
    try {
      const head = (await ctx.store.headPosition())!;
      const [commit] = decodePosition(head);
      const far = `${(commit + 100_000n).toString(16).padStart(16, '0')}-${(commit + 100_000n).toString(16).padStart(16, '0')}`;
      let appended = false;
      const seen = await collect(
        ctx.store,
        { from: far },
        (m) => {
          if (!appended && m.some((x) => x.kind === 'caught-up')) {
            appended = true;
            void ctx.store.appendToStream('late-1', [ev('Late')]);
            setTimeout(() => void ctx.store.appendToStream('late-1', [ev('Marker')]), 200);
          }
          return false;
        },
        1000,
      );
      expect(seen.some((m) => m.kind === 'event')).toBe(false);
      expect(await types(ctx.store, 'late-1')).toEqual(['Late', 'Marker']);
    } finally {
      await ctx.close();
    }
  }, 15_000);
});

describe('falling behind', () => {
  it('a slow live subscriber over a burst of 10,000 events: none lost or repeated, one caught-up, checkpoints only forward', async () => {
    const ctx = await open();
    try {
      const { store, fake } = ctx;
      const seen: SubscriptionMessage[] = [];
      const ac = new AbortController();
      let lastPosition: Position | undefined;
      const started = Date.now();
      let burstDone = 0;
      const done = (async () => {
        for await (const m of store.subscribeToAll({
          filter: { streamPrefixes: ['burst-'] },
          signal: ac.signal,
        })) {
          seen.push(m);
          if (m.kind === 'caught-up' && seen.filter((x) => x.kind === 'caught-up').length === 1) {
            void (async () => {
              for (let b = 0; b < 100; b++) {
                const r = await store.appendToStream(
                  `burst-${b % 7}`,
                  Array.from({ length: 100 }, (_, i) => ev('Burst', { n: b * 100 + i })),
                );
                if (b === 99) lastPosition = r.position;
              }
              burstDone = Date.now();
            })();
          }
          // Slow: a pause now and then, long enough for the server's buffers to fill behind it.
          if (m.kind === 'event' && (m.event.data as { n: number }).n % 2000 === 0) {
            await new Promise((r) => setTimeout(r, 150));
          }
          if (lastPosition !== undefined && m.kind === 'event' && m.event.position >= lastPosition)
            ac.abort();
        }
      })();
      await done;
      const elapsed = Date.now() - started;
      const ns = seen.flatMap((m) => (m.kind === 'event' ? [(m.event.data as { n: number }).n] : []));
      expect(ns).toEqual(Array.from({ length: 10_000 }, (_, i) => i));
      expect(seen.filter((m) => m.kind === 'caught-up')).toHaveLength(1);
      const checkpoints = seen.flatMap((m) => (m.kind === 'checkpoint' ? [m.position] : []));
      for (let i = 1; i < checkpoints.length; i++) expect(checkpoints[i]! > checkpoints[i - 1]!).toBe(true);
      // The server did fall behind and caught up on its own.
      expect(fake.stats.liveDropped).toBeGreaterThan(0);
      expect(fake.stats.catchUps).toBeGreaterThan(1);
      // The bound: catching up 10,000 events after falling behind, on this machine.
      expect(elapsed).toBeLessThan(20_000);
      console.info(
        `falling behind: ${elapsed} ms (burst written in ${burstDone - started} ms), ${fake.stats.catchUps} catch-ups, ` +
          `${fake.stats.pages} pages read, ${fake.stats.checkpoints} checkpoints sent, ${checkpoints.length} passed on`,
      );
    } finally {
      await ctx.close();
    }
  }, 30_000);
});
