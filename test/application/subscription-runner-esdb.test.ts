import {
  decodePosition,
  encodePosition,
  type Position,
  type RecordedEvent,
} from '../../src/application/event-store';
import type { SubscriptionHandler } from '../../src/application/subscription-handler';
import { EventStoreDbEventStore } from '../../src/infrastructure/event-store/esdb-event-store';
import { loadCheckpoint, storeCheckpoint } from '../../src/projections/runtime/checkpoints';
import { SubscriptionRunner } from '../../src/projections/runtime/runner';
import { testBackends, type TestDatabase } from '../support/databases';
import { FakeEventStoreDb, type SubscriptionEnding } from '../support/esdb-fake';

/**
 * The runner over the EventStoreDB adapter, against the wire fake: a subscription the server ends (each way
 * a 24.10 server does) is resumed from the stored checkpoint, and a stored checkpoint of each shape the
 * server hands out resumes at the next event (docs/eventstoredb.md, "Server behaviours that matter").
 *
 * The handler counts, per event id, how many committed deliveries it saw, in the transaction that moves the
 * checkpoint and with no idempotency guard: a lost event is a missing row, an event delivered again after
 * its checkpoint committed is a count of 2.
 */

const silent = { info: () => undefined, warn: () => undefined, error: () => undefined };

const until = async (predicate: () => Promise<boolean> | boolean, timeoutMs = 10_000): Promise<void> => {
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, 10));
  }
};

const countingHandler = (name: string): SubscriptionHandler => ({
  name,
  filter: { streamPrefixes: ['t-'] },
  handle: async (events: RecordedEvent[], tx) => {
    for (const e of events) {
      await tx.query(
        `insert into seen (event_id, position, times) values ($1, $2, 1)
         on conflict (event_id) do update set times = seen.times + 1`,
        [e.id, e.position],
      );
    }
  },
});

const [embedded] = testBackends();

describe('subscription runner over EventStoreDB (wire fake)', () => {
  let db: TestDatabase;
  let fake: FakeEventStoreDb;
  let store: EventStoreDbEventStore;
  let runners: SubscriptionRunner[];

  beforeEach(async () => {
    db = await embedded!.open();
    await db.sql.query(
      'create table seen (event_id text primary key, position text not null, times int not null)',
    );
    fake = await FakeEventStoreDb.start();
    store = new EventStoreDbEventStore(fake.connectionString);
    runners = [];
  });
  afterEach(async () => {
    await Promise.all(runners.map((r) => r.stop()));
    await store.close();
    await fake.stop();
    await db.close();
  });

  const startRunner = (name: string): SubscriptionRunner => {
    const runner = new SubscriptionRunner(countingHandler(name), {
      store,
      sql: db.sql,
      logger: silent,
      minBackoffMs: 10,
      maxBackoffMs: 40,
      idleCheckpointMs: 0,
    });
    runners.push(runner);
    runner.start();
    return runner;
  };

  const append = async (streamId: string, count: number, from = 0): Promise<void> => {
    for (let i = 0; i < count; i++) {
      await store.appendToStream(streamId, [{ type: 'Counted', data: { i: from + i } }]);
    }
  };

  /** The events the handler should have seen, in store order. */
  const wanted = async (after: Position | null = null): Promise<string[]> =>
    (await store.readAll({ after: after ?? undefined })).events
      .filter((e) => e.streamId.startsWith('t-'))
      .map((e) => e.id);

  const seen = async () =>
    (
      await db.sql.query<{ event_id: string; times: number }>(
        'select event_id, times from seen order by position',
      )
    ).rows.map((r) => ({ id: r.event_id, times: Number(r.times) }));

  const seenAll = async (ids: string[]): Promise<boolean> => (await seen()).length >= ids.length;

  /**
   * Ends the server's subscriptions until the runner has counted `failures`: an ending that lands on a
   * catch-up segment the adapter is just retiring goes unnoticed, by design, so one try may not be enough.
   */
  const endUntilFailed = (runner: SubscriptionRunner, ending: SubscriptionEnding, failures: number) =>
    until(() => {
      if (runner.status().failures >= failures) return true;
      if (fake.openSubscriptions > 0) fake.endSubscriptions(ending);
      return false;
    });

  const endings: SubscriptionEnding[] = ['not-ready', 'internal', 'aborted', 'access-denied', 'end'];

  it.each(endings)(
    'ended by the server (%s) while events arrive, the runner resumes from its checkpoint: each event once',
    async (ending) => {
      await append('t-1', 3);
      await append('n-1', 5);
      const runner = startRunner('counted');
      await until(async () => runner.status().caughtUp && (await seenAll(await wanted())));
      const checkpointBefore = await loadCheckpoint(db.sql, 'counted');

      // Ended while live, with writes before and after the ending; then again as soon as the runner has
      // subscribed anew, while those writes are still to come to it.
      await append('t-1', 2, 3);
      await endUntilFailed(runner, ending, 1);
      await append('t-2', 3);
      await append('n-1', 3, 5);
      await endUntilFailed(runner, ending, 2);
      await append('t-1', 2, 5);

      const ids = await wanted();
      await until(async () => runner.status().caughtUp && (await seenAll(ids)));
      // One more live event after the resumption: the subscription is live again, not just caught up once.
      await append('t-3', 1);
      const all = await wanted();
      await until(() => seenAll(all));

      expect(await seen()).toEqual(all.map((id) => ({ id, times: 1 })));
      // Every ending is a transient store failure to the runner: it backs off and resumes.
      expect(runner.status().lastError).toMatch(/^StoreUnavailableError: /);
      const checkpoint = await loadCheckpoint(db.sql, 'counted');
      expect(checkpointBefore).not.toBeNull();
      expect(checkpoint! > checkpointBefore!).toBe(true);
      expect(checkpoint! >= (await store.headPosition())!).toBe(true);
    },
    20_000,
  );

  it('a stored checkpoint of each shape, (0, 0), (X, 0) and (P, P), resumes exactly once at the next event', async () => {
    await append('t-1', 2);
    await append('n-1', 70);
    await append('t-2', 2);
    await append('n-2', 40);

    // The shapes as the server hands them out: a subscription's catch-up checkpoints ((X, 0), and (0, 0)
    // where nothing was reached) and event positions ((P, P), a gRPC append's).
    const ac = new AbortController();
    const handedOut: Position[] = [];
    for await (const m of store.subscribeToAll({ filter: { streamPrefixes: ['t-'] }, signal: ac.signal })) {
      if (m.kind === 'checkpoint') handedOut.push(m.position);
      if (m.kind === 'caught-up') break;
    }
    ac.abort();
    const shapeOf = (p: Position): string => {
      const [commit, prepare] = decodePosition(p);
      return commit === 0n && prepare === 0n ? '(0,0)' : prepare === 0n ? '(X,0)' : '(P,P)';
    };
    const xZero = handedOut.filter((p) => shapeOf(p) === '(X,0)');
    expect(xZero.length).toBeGreaterThan(0);
    const events = (await store.readAll()).events;
    const firstT2 = events.find((e) => e.streamId === 't-2')!;
    const noise = events.find((e) => e.streamId === 'n-2')!;
    const cases: Position[] = [
      encodePosition(0n, 0n),
      ...xZero,
      events.find((e) => e.streamId === 't-1')!.position,
      firstT2.position,
      noise.position,
      // Just below an event: resumes AT it. A (X, 0) checkpoint sorts before the event at (X, X).
      encodePosition(decodePosition(firstT2.position)[0], 0n),
    ];
    expect(new Set(cases.map(shapeOf))).toEqual(new Set(['(0,0)', '(X,0)', '(P,P)']));

    const live: string[] = [];
    for (const [i, checkpoint] of cases.entries()) {
      const name = `resume-${i}`;
      await db.sql.query('delete from seen');
      await storeCheckpoint(db.sql, name, null, checkpoint);
      const expected = await wanted(checkpoint);
      const runner = startRunner(name);
      await until(async () => runner.status().caughtUp && (await seenAll(expected)));
      // The next event after catching up arrives live, once.
      await append(`t-live-${i}`, 1);
      live.push(...(await wanted()).slice(-1));
      const through = [...expected, live[live.length - 1]!];
      await until(() => seenAll(through));
      await runner.stop();
      expect({ checkpoint, shape: shapeOf(checkpoint), seen: await seen() }).toEqual({
        checkpoint,
        shape: shapeOf(checkpoint),
        seen: through.map((id) => ({ id, times: 1 })),
      });
    }
  }, 30_000);
});
