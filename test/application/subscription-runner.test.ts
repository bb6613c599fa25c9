import { encodePosition, type EventStore, type RecordedEvent } from '../../src/application/event-store';
import type { SqlExecutor } from '../../src/application/sql';
import type { SubscriptionHandler } from '../../src/application/subscription-handler';
import { loadCheckpoint, storeCheckpoint } from '../../src/projections/runtime/checkpoints';
import { SubscriptionRunner } from '../../src/projections/runtime/runner';
import { EventStoreDbEventStore } from '../../src/infrastructure/event-store/esdb-event-store';
import { testBackends, type TestDatabase } from '../support/databases';
import { FakeEventStoreDb } from '../support/esdb-fake';

const silent = { info: () => undefined, warn: () => undefined, error: () => undefined };

const until = async (predicate: () => Promise<boolean> | boolean, timeoutMs = 15_000): Promise<void> => {
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, 20));
  }
};

/** A tiny read model: per stream, the number of events and the sum of their `n`, guarded by revision. */
const tallyHandler = (name: string, failOn?: { n: number; times: number }): SubscriptionHandler => {
  let failures = 0;
  return {
    name,
    filter: { streamPrefixes: ['tally-'] },
    batchSize: 50,
    handle: async (events: RecordedEvent[], tx: SqlExecutor) => {
      for (const e of events) {
        const n = (e.data as { n: number }).n;
        if (failOn && n === failOn.n && failures < failOn.times) {
          failures += 1;
          throw new Error(`handler crashed on event ${n}`);
        }
        await tx.query(
          `insert into tally (stream_id, events, total, revision) values ($1, 1, $2, $3)
           on conflict (stream_id) do update set events = tally.events + 1, total = tally.total + excluded.total,
             revision = excluded.revision
           where tally.revision < excluded.revision`,
          [e.streamId, n, e.revision],
        );
      }
    },
  };
};

const readTally = async (db: TestDatabase) =>
  (
    await db.sql.query<{ stream_id: string; events: number; total: string }>(
      'select stream_id, events, total::text as total from tally order by stream_id',
    )
  ).rows.map((r) => ({ stream_id: r.stream_id, events: Number(r.events), total: Number(r.total) }));

const expectedTally = (streams: number, perStream: number) =>
  Array.from({ length: streams }, (_, s) => ({
    stream_id: `tally-${String(s).padStart(2, '0')}`,
    events: perStream,
    total: Array.from({ length: perStream }, (_, i) => s * 1000 + i).reduce((a, b) => a + b, 0),
  }));

for (const backend of testBackends()) {
  describe(`subscription runner on ${backend.name}`, () => {
    let db: TestDatabase;

    // A fresh store per test: every test folds ALL events of its store.
    beforeEach(async () => {
      db = await backend.open();
      await db.sql.query(
        'create table tally (stream_id text primary key, events int not null, total bigint not null, revision int not null)',
      );
    });
    afterEach(() => db.close());

    const appendAll = async (prefix: string, streams: number, perStream: number) => {
      for (let s = 0; s < streams; s++) {
        const id = `${prefix}-${String(s).padStart(2, '0')}`;
        await db.store.appendToStream(
          id,
          Array.from({ length: perStream }, (_, i) => ({ type: 'Tallied', data: { n: s * 1000 + i } })),
        );
      }
    };

    it('a handler that crashes mid-batch rolls back; after a restart the read model equals a fold of all events', async () => {
      await db.store.appendToStream('other-1', [{ type: 'Ignored', data: { n: -1 } }]);
      await appendAll('tally', 6, 40);
      const crashing = new SubscriptionRunner(tallyHandler('tally', { n: 3017, times: 1_000 }), {
        store: db.store,
        sql: db.sql,
        logger: silent,
        minBackoffMs: 10,
        maxBackoffMs: 20,
      });
      crashing.start();
      await until(() => crashing.status().failures >= 2);
      await crashing.stop();
      // Nothing past the failing event was committed: the crash lost no write and made none twice.
      const partial = await readTally(db);
      expect(partial.find((r) => r.stream_id === 'tally-03')?.events ?? 0).toBeLessThan(18);

      const restarted = new SubscriptionRunner(tallyHandler('tally'), {
        store: db.store,
        sql: db.sql,
        logger: silent,
      });
      restarted.start();
      await until(() => restarted.status().caughtUp);
      await restarted.stop();
      expect(await readTally(db)).toEqual(expectedTally(6, 40));
    });

    it('a transient failure is retried one event at a time and the subscription goes on live', async () => {
      await appendAll('tally', 3, 30);
      const runner = new SubscriptionRunner(tallyHandler('tally', { n: 1010, times: 2 }), {
        store: db.store,
        sql: db.sql,
        logger: silent,
        minBackoffMs: 10,
        maxBackoffMs: 20,
      });
      runner.start();
      const last = await db.store.readAll({ direction: 'backwards', maxCount: 1 });
      await until(() => runner.status().checkpoint === last.events[0]!.position);
      expect(runner.status().failures).toBe(2);
      expect(runner.status().consecutiveFailures).toBe(0);
      const live = await db.store.appendToStream('tally-03', [{ type: 'Tallied', data: { n: 3000 } }]);
      expect(await runner.waitFor(live.position, 10_000)).toBe(true);
      await runner.stop();
      expect(await readTally(db)).toEqual([
        ...expectedTally(3, 30),
        { stream_id: 'tally-03', events: 1, total: 3000 },
      ]);
      expect(await loadCheckpoint(db.sql, 'tally')).toBe(live.position);
    });

    it('a failure in a batch flushed at caught-up is isolated: the events before the failing one commit', async () => {
      await appendAll('tally', 1, 20);
      const runner = new SubscriptionRunner(tallyHandler('tally', { n: 7, times: 1_000 }), {
        store: db.store,
        sql: db.sql,
        logger: silent,
        minBackoffMs: 10,
        maxBackoffMs: 20,
      });
      runner.start();
      await until(async () => (await readTally(db)).length === 1 && runner.status().failures >= 3);
      await runner.stop();
      // Events 0..6 went through one at a time; event 7 keeps failing and nothing after it is applied.
      expect(await readTally(db)).toEqual([{ stream_id: 'tally-00', events: 7, total: 21 }]);
      expect(runner.status().lastError).toContain('handler crashed on event 7');
    });

    it('only one of two instances of a subscription runs it; the other takes over when it stops', async () => {
      const a = new SubscriptionRunner(tallyHandler('tally'), {
        store: db.store,
        sql: db.sql,
        logger: silent,
        standbyPollMs: 50,
      });
      const b = new SubscriptionRunner(tallyHandler('tally'), {
        store: db.store,
        sql: db.sql,
        logger: silent,
        standbyPollMs: 50,
      });
      a.start();
      await until(() => a.status().leader);
      b.start();
      await new Promise((r) => setTimeout(r, 200));
      expect(b.status().leader).toBe(false);
      await appendAll('tally', 2, 5);
      await a.stop();
      await until(() => b.status().leader && b.status().caughtUp);
      const more = await db.store.appendToStream('tally-09', [{ type: 'Tallied', data: { n: 9000 } }]);
      // waitFor on a leader resolves as it processes; the model holds every event exactly once.
      expect(await b.waitFor(more.position, 10_000)).toBe(true);
      await b.stop();
      expect(await readTally(db)).toEqual([
        ...expectedTally(2, 5),
        { stream_id: 'tally-09', events: 1, total: 9000 },
      ]);
    });

    it('live bursts commit several events per transaction, each event once and in order', async () => {
      const batches: number[] = [];
      const base = tallyHandler('tally');
      const runner = new SubscriptionRunner(
        {
          ...base,
          handle: async (events, tx) => {
            batches.push(events.length);
            await base.handle(events, tx);
          },
        },
        { store: db.store, sql: db.sql, logger: silent },
      );
      runner.start();
      try {
        await until(() => runner.status().caughtUp);
        // Four writers at once, each appending to its own stream in turn: the runner finds several committed
        // events each time it looks.
        await Promise.all(
          Array.from({ length: 4 }, async (_, s) => {
            for (let i = 0; i < 10; i++) {
              await db.store.appendToStream(`tally-${String(s).padStart(2, '0')}`, [
                { type: 'Tallied', data: { n: s * 1000 + i } },
              ]);
            }
          }),
        );
        const [last] = (await db.store.readAll({ direction: 'backwards', maxCount: 1 })).events;
        expect(await runner.waitFor(last!.position, 10_000)).toBe(true);
        expect(batches.reduce((a, b) => a + b, 0)).toBe(40);
        expect(batches.length).toBeLessThan(40);
        expect(await readTally(db)).toEqual(expectedTally(4, 10));
        expect(await loadCheckpoint(db.sql, 'tally')).toBe(last!.position);
      } finally {
        await runner.stop();
      }
    });

    it('passing over other traffic stores the checkpoint sparingly, and the last one lands anyway', async () => {
      const runner = new SubscriptionRunner(tallyHandler('tally'), {
        store: db.store,
        sql: db.sql,
        logger: silent,
        idleCheckpointMs: 300,
      });
      runner.start();
      try {
        await until(() => runner.status().caughtUp);
        let last = '';
        for (let i = 0; i < 20; i++) {
          last = (await db.store.appendToStream(`other-${i}`, [{ type: 'Ignored', data: {} }])).position;
        }
        // In memory at once, for this instance's read-your-writes...
        expect(await runner.waitFor(last, 5_000)).toBe(true);
        // ...and stored by the trailing write within the interval, though no event of its own followed.
        await until(async () => (await loadCheckpoint(db.sql, 'tally')) === last, 5_000);
      } finally {
        await runner.stop();
      }
    });
  });
}

/**
 * The checkpoints live in PostgreSQL, the events in EventStoreDB: recreating the EventStoreDB volume (or
 * switching the backend) leaves checkpoints that point past the end of the new store. EventStoreDB then
 * skips every event up to such a checkpoint without a word; the runner must refuse instead.
 */
describe('subscription runner with a checkpoint past the end of the store', () => {
  const [embedded] = testBackends();
  let db: TestDatabase;
  let fake: FakeEventStoreDb | undefined;
  let store: EventStore;
  beforeEach(async () => {
    db = await embedded!.open();
    await db.sql.query(
      'create table tally (stream_id text primary key, events int not null, total bigint not null, revision int not null)',
    );
  });
  afterEach(async () => {
    if (fake) {
      await store.close();
      await fake.stop();
      fake = undefined;
    }
    await db.close();
  });

  const cases: [string, () => Promise<EventStore>][] = [
    [
      'eventstoredb (wire fake)',
      async () => {
        fake = await FakeEventStoreDb.start();
        return (store = new EventStoreDbEventStore(fake.connectionString));
      },
    ],
    ['embedded', async () => (store = db.store)],
  ];

  it.each(cases)(
    'on %s it fails loudly and keeps failing; nothing is applied and the checkpoint stays',
    async (_name, open) => {
      const events = await open();
      const errors: string[] = [];
      // Far beyond anything this store holds: a checkpoint of the store that was replaced.
      const ahead = encodePosition(0xffffffffffn, 0xffffffffffn);
      await storeCheckpoint(db.sql, 'tally', null, ahead);
      const runner = new SubscriptionRunner(tallyHandler('tally'), {
        store: events,
        sql: db.sql,
        logger: { ...silent, error: (o: object) => errors.push(JSON.stringify(o)) },
        minBackoffMs: 10,
        maxBackoffMs: 20,
      });
      runner.start();
      try {
        for (let i = 0; i < 3; i++) {
          await events.appendToStream('tally-00', [{ type: 'Tallied', data: { n: i } }]);
        }
        await until(() => runner.status().consecutiveFailures >= 3);
        const status = runner.status();
        expect(status.lastError).toMatch(/CheckpointAheadOfStoreError: checkpoint .* is past the end/);
        expect(status.caughtUp).toBe(false);
        expect(errors.some((e) => e.includes('past the end of the event store'))).toBe(true);
        // Nothing was applied and the checkpoint did not move: an operator decides.
        expect(await readTally(db)).toEqual([]);
        expect(await loadCheckpoint(db.sql, 'tally')).toBe(ahead);
      } finally {
        await runner.stop();
      }
    },
  );
});
