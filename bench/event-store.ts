/**
 * Event store rates on the embedded store and, with DATABASE_URL set, on PostgreSQL:
 *
 *   npx tsx bench/event-store.ts [embedded|embedded-disk|postgres] [appends]
 *
 * `embedded` keeps PGlite's data in memory (as the tests do); `embedded-disk` uses a data directory, as the
 * service does.
 * - single-event appends with an expected revision, one at a time and 8 in flight;
 * - subscription lag: from issuing an append to a live subscriber receiving it (median / p99), with the
 *   appends paced so the lag measures delivery, not a queue.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import type { EventStore } from '../src/application/event-store';
import { PostgresEventStore } from '../src/infrastructure/event-store/postgres-event-store';
import { migrations } from '../src/infrastructure/sql/migrations';
import { migrate } from '../src/infrastructure/sql/migrator';
import { PgliteSqlClient } from '../src/infrastructure/sql/pglite-client';
import { openEmbedded, openPostgres, type TestDatabase } from '../test/support/databases';

const openOnDisk = async (): Promise<TestDatabase> => {
  const dir = mkdtempSync(path.join(tmpdir(), 'identity-bench-'));
  const sql = await PgliteSqlClient.open({ dataDir: dir });
  await migrate(sql, migrations);
  const store = new PostgresEventStore(sql);
  return {
    backend: 'embedded',
    sql,
    store,
    close: async () => {
      await store.close();
      await sql.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
};

const percentile = (sorted: number[], p: number): number =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;

const appendRate = async (
  store: EventStore,
  count: number,
  inFlight: number,
  tag: string,
): Promise<number> => {
  const revisions = new Map<string, number>();
  let next = 0;
  const started = performance.now();
  const worker = async (w: number) => {
    // One stream per worker, so every append checks a real expected revision without conflicts.
    const stream = `bench-${tag}-${w}`;
    while (next < count) {
      next += 1;
      const expected = revisions.get(stream);
      const r = await store.appendToStream(stream, [{ type: 'Benched', data: { w } }], {
        expectedRevision: expected === undefined ? 'no_stream' : expected,
      });
      revisions.set(stream, r.nextExpectedRevision);
    }
  };
  await Promise.all(Array.from({ length: inFlight }, (_, w) => worker(w)));
  return count / ((performance.now() - started) / 1000);
};

const subscriptionLag = async (store: EventStore, count: number) => {
  const issued = new Map<string, number>();
  const lags: number[] = [];
  const controller = new AbortController();
  let caughtUp!: () => void;
  const ready = new Promise<void>((resolve) => (caughtUp = resolve));
  let done!: () => void;
  const all = new Promise<void>((resolve) => (done = resolve));
  const consuming = (async () => {
    for await (const m of store.subscribeToAll({ from: 'end', signal: controller.signal })) {
      if (m.kind === 'caught-up') caughtUp();
      if (m.kind !== 'event') continue;
      const at = issued.get(m.event.id);
      if (at !== undefined) lags.push(performance.now() - at);
      if (lags.length === count) done();
    }
  })();
  await ready;
  for (let i = 0; i < count; i++) {
    const id = crypto.randomUUID();
    issued.set(id, performance.now());
    await store.appendToStream(`bench-lag-${i % 10}`, [{ id, type: 'Benched', data: { i } }]);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  await all;
  controller.abort();
  await consuming;
  lags.sort((a, b) => a - b);
  return { median: percentile(lags, 50), p99: percentile(lags, 99) };
};

const main = async () => {
  const backend = process.argv[2] ?? 'embedded';
  const count = Number(process.argv[3] ?? 2000);
  const db: TestDatabase =
    backend === 'postgres'
      ? await openPostgres({ poolSize: 10 })
      : backend === 'embedded-disk'
        ? await openOnDisk()
        : await openEmbedded();
  try {
    await appendRate(db.store, 200, 1, 'warmup');
    const sequential = await appendRate(db.store, count, 1, 'seq');
    const concurrent = await appendRate(db.store, count, 8, 'par');
    const lag = await subscriptionLag(db.store, 500);
    console.log(
      JSON.stringify({
        backend,
        appends_per_s_one_in_flight: Math.round(sequential),
        appends_per_s_eight_in_flight: Math.round(concurrent),
        subscription_lag_ms: { median: +lag.median.toFixed(2), p99: +lag.p99.toFixed(2) },
      }),
    );
  } finally {
    await db.close();
  }
};

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
