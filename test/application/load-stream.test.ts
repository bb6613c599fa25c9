import { loadStream } from '../../src/application/write/handle';
import type { EventStore, ReadStreamOptions } from '../../src/application/event-store';
import { testBackends, type TestDatabase } from '../support/databases';

type Counted = { type: 'Counted'; data: { n: number } };
const counter = {
  initialState: { total: 0, seen: 0 },
  evolve: (s: { total: number; seen: number }, e: Counted) => ({
    total: s.total + e.data.n,
    seen: s.seen + 1,
  }),
};

/** The store with every readStream call recorded. */
const spied = (store: EventStore, calls: ReadStreamOptions[]): EventStore => ({
  ...store,
  appendToStream: (...a) => store.appendToStream(...a),
  readAll: (...a) => store.readAll(...a),
  subscribeToAll: (...a) => store.subscribeToAll(...a),
  deleteStream: (...a) => store.deleteStream(...a),
  tombstoneStream: (...a) => store.tombstoneStream(...a),
  ping: () => store.ping(),
  close: () => store.close(),
  readStream: (id, options) => {
    calls.push(options ?? {});
    return store.readStream(id, options);
  },
});

const counted = (...ns: number[]) => ns.map((n) => ({ type: 'Counted', data: { n } }));

for (const backend of testBackends()) {
  describe(`loadStream on ${backend.name}`, () => {
    let db: TestDatabase;
    beforeAll(async () => {
      db = await backend.open();
    });
    afterAll(() => db.close());

    it('reads only the tail of a stream it has folded before, and never misses an event written elsewhere', async () => {
      const calls: ReadStreamOptions[] = [];
      const store = spied(db.store, calls);
      await db.store.appendToStream('counted-1', counted(1, 2, 3));
      expect(await loadStream(store, counter, 'counted-1')).toMatchObject({
        state: { total: 6, seen: 3 },
        revision: 2,
      });
      // Another writer (another instance) appends through its own store object.
      await db.store.appendToStream('counted-1', counted(10, 20));
      const again = await loadStream(store, counter, 'counted-1');
      expect(again).toMatchObject({ state: { total: 36, seen: 5 }, revision: 4 });
      expect(again.last?.revision).toBe(4);
      const unchanged = await loadStream(store, counter, 'counted-1');
      expect(unchanged).toMatchObject({ state: { total: 36, seen: 5 }, revision: 4 });
      expect(unchanged.last?.revision).toBe(4);
      expect(calls).toEqual([{}, { fromRevision: 3 }, { fromRevision: 5 }]);
    });

    it('a missing stream folds to the initial state and is not cached', async () => {
      const calls: ReadStreamOptions[] = [];
      const store = spied(db.store, calls);
      expect(await loadStream(store, counter, 'counted-none')).toEqual({
        state: { total: 0, seen: 0 },
        revision: -1,
        last: null,
      });
      await db.store.appendToStream('counted-none', counted(5));
      expect(await loadStream(store, counter, 'counted-none')).toMatchObject({
        state: { total: 5, seen: 1 },
      });
      expect(calls).toEqual([{}, {}]);
    });
  });
}
