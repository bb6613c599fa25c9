import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { decodePosition, type Position } from '../../src/application/event-store';
import { appendEvents } from '../../src/infrastructure/event-store/postgres-event-store';
import { testBackends, type TestDatabase } from '../support/databases';
import { SubscriptionRecorder } from './subscription-recorder';

/**
 * The gap problem (FACTS.md): transactions take their positions in one order and commit in another, so a
 * reader that only remembers "the last position I saw" skips the events of a slow transaction. Here
 * concurrent writers hold every transaction open for a random few milliseconds after inserting, while a
 * subscription runs; it must deliver every event exactly once, in position order.
 */
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const SIZES = { postgres: { writers: 8, perWriter: 200 }, embedded: { writers: 4, perWriter: 50 } } as const;

for (const backend of testBackends()) {
  describe(`no gaps under out-of-order commits: ${backend.name}`, () => {
    let db: TestDatabase;
    beforeAll(async () => {
      db = await backend.open({ poolSize: 12, store: { pollIntervalMs: 100 } });
    });
    afterAll(async () => {
      await db?.close();
    });

    it('delivers every event of concurrent writers exactly once, in position order', async () => {
      const { writers, perWriter } = SIZES[backend.name];
      const total = writers * perWriter;
      const rec = new SubscriptionRecorder(db.store);
      const sent = new Map<string, { stream: string; n: number }>();
      // Global positions in the order their transactions were seen to commit.
      const committed: bigint[] = [];

      const writer = async (w: number) => {
        const stream = `gap-writer-${w}`;
        for (let n = 0; n < perWriter; n++) {
          const id = randomUUID();
          sent.set(id, { stream, n });
          const result = await db.sql.transaction(async (tx) => {
            const appended = await appendEvents(
              tx,
              stream,
              [{ id, type: 'Written', data: { w, n } }],
              n === 0 ? 'no_stream' : n - 1,
            );
            await sleep(Math.random() * 4);
            return appended;
          });
          committed.push(decodePosition(result.position)[1]);
        }
      };

      try {
        await Promise.all(Array.from({ length: writers }, (_, w) => writer(w)));
        await rec.until((r) => r.events().length >= total, `${total} events`, 20_000);
        // Room for a duplicate to show up before the verdict.
        await sleep(300);
      } finally {
        await rec.stop();
      }

      const delivered = rec.events();
      expect(delivered).toHaveLength(total);
      expect(new Set(delivered.map((e) => e.id)).size).toBe(total);
      expect(delivered.every((e) => sent.has(e.id))).toBe(true);
      for (let i = 1; i < delivered.length; i++) {
        expect(delivered[i]!.position > delivered[i - 1]!.position).toBe(true);
      }
      for (let w = 0; w < writers; w++) {
        const revisions = delivered.filter((e) => e.streamId === `gap-writer-${w}`).map((e) => e.revision);
        expect(revisions).toEqual(Array.from({ length: perWriter }, (_, n) => n));
      }
      const all: Position[] = (await db.store.readAll()).events.map((e) => e.position);
      expect(all).toEqual(delivered.map((e) => e.position));

      // On PostgreSQL the writers really interleave: some transaction committed after one holding a later
      // sequence number, which is the case a position-only reader gets wrong.
      const overtaken = committed.filter((p, i) => i > 0 && p < committed[i - 1]!).length;
      if (backend.name === 'postgres') expect(overtaken).toBeGreaterThan(0);
    }, 60_000);

    if (backend.name === 'postgres') {
      it('holds back an event while an older transaction elsewhere in the cluster runs, then delivers it', async () => {
        // The horizon is cluster-wide: a write transaction in another database counts (FACTS.md).
        const elsewhere = new pg.Client({ connectionString: process.env.DATABASE_URL });
        await elsewhere.connect();
        const rec = new SubscriptionRecorder(db.store, { from: 'end' });
        try {
          await rec.until((r) => r.caughtUp, 'caught-up');
          const before = (await db.store.readAll({ direction: 'backwards', maxCount: 1 })).events[0]
            ?.position;
          await elsewhere.query('begin');
          await elsewhere.query('select pg_current_xact_id()');
          const id = randomUUID();
          await db.store.appendToStream('gap-held', [{ id, type: 'Written', data: {} }]);

          await sleep(150);
          expect(rec.events()).toEqual([]);
          const reading = db.store.readAll({ after: before });
          await sleep(100);
          await elsewhere.query('commit');
          expect((await reading).events.map((e) => e.id)).toEqual([id]);
          await rec.until((r) => r.events().length === 1, 'the held-back event');
          expect(rec.events()[0]!.id).toBe(id);
        } finally {
          await elsewhere.end();
          await rec.stop();
        }
      });
    }
  });
}
