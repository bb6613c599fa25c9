import { randomUUID } from 'node:crypto';
import { matchesFilter, type EventFilter, type NewEvent } from '../../src/application/event-store';
import { testBackends, type TestDatabase } from '../support/databases';
import { SubscriptionRecorder } from './subscription-recorder';

const ev = (type: string): NewEvent => ({ id: randomUUID(), type, data: {} });

/**
 * Live subscriptions of one store that stand at the same position share their reads
 * (postgres-subscription.ts, SharedLiveReads): each must still get exactly what a read of its own gives.
 * A page of 4 makes the shared page fill up while few of its rows match one reader's filter.
 */
for (const backend of testBackends()) {
  describe(`live subscriptions reading together (${backend.name})`, () => {
    let db: TestDatabase;
    beforeAll(async () => {
      db = await backend.open({ store: { pageSize: 4 } });
    });
    afterAll(async () => {
      await db.close();
    });

    it('each gets its own events in order, and checkpoints past the others', async () => {
      const ns = `live-${randomUUID().slice(0, 8)}`;
      await db.store.appendToStream(`${ns}-x-0`, [ev('Early')]);
      const start = (await db.store.readAll({ direction: 'backwards', maxCount: 1 })).events[0]!.position;
      const filters: EventFilter[] = [
        { streamPrefixes: [`${ns}-x`] },
        { streamPrefixes: [`${ns}-y`] },
        { streamPrefixes: [`${ns}-`], eventTypePrefixes: ['Odd'] },
        { streamPrefixes: [`${ns}-`] },
      ];
      const recorders = filters.map((filter) => new SubscriptionRecorder(db.store, { from: start, filter }));
      try {
        for (const r of recorders) await r.until((x) => x.caughtUp, 'caught-up');
        // Bursts of several events per commit and many commits in a row: shared pages fill up.
        for (let i = 0; i < 30; i++) {
          const stream = `${ns}-${['x', 'y', 'z'][i % 3]}-${i % 5}`;
          await db.store.appendToStream(stream, [ev(i % 2 ? 'Odd' : 'Even'), ev('Even'), ev('Odd')]);
        }
        const all = (await db.store.readAll({ after: start, filter: { streamPrefixes: [`${ns}-`] } })).events;
        expect(all).toHaveLength(90);
        const last = all[all.length - 1]!.position;
        for (const [i, r] of recorders.entries()) {
          const wanted = all.filter((e) => matchesFilter(filters[i], e.streamId, e.type)).map((e) => e.id);
          await r.until((x) => x.events().length >= wanted.length, `events of subscription ${i}`);
          await r.until(
            (x) =>
              x.messages.some(
                (m) =>
                  (m.kind === 'checkpoint' && m.position >= last) ||
                  (m.kind === 'event' && m.event.position >= last),
              ),
            `subscription ${i} past the last event`,
          );
          expect(r.events().map((e) => e.id)).toEqual(wanted);
          const positions = r.messages.flatMap((m) =>
            m.kind === 'event' ? [m.event.position] : m.kind === 'checkpoint' ? [m.position] : [],
          );
          expect([...positions].sort()).toEqual(positions);
          expect(new Set(positions).size).toBe(positions.length);
        }
      } finally {
        for (const r of recorders) await r.stop();
      }
    });
  });
}
