/**
 * Replays every exchange recorded against a real server (scripts/record-esdb-exchanges.ts writes
 * test/support/esdb-fake/recordings/*.json) against the wire fake: the two must agree. Exchanges without a
 * recording are listed as skipped, so the gap stays visible.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { FakeEventStoreDb } from '../support/esdb-fake';
import { exchanges } from '../support/esdb-fake/exchanges';

const dir = path.resolve(__dirname, '../support/esdb-fake/recordings');
const recording = (name: string): { server: string; transcript: unknown } | undefined => {
  const file = path.join(dir, `${name}.json`);
  return existsSync(file)
    ? (JSON.parse(readFileSync(file, 'utf8')) as { server: string; transcript: unknown })
    : undefined;
};

describe('the wire fake against recordings of a real server', () => {
  let fake: FakeEventStoreDb;
  beforeAll(async () => {
    fake = await FakeEventStoreDb.start();
  });
  afterAll(() => fake.stop());

  for (const exchange of exchanges) {
    const recorded = recording(exchange.name);
    (recorded ? it : it.skip)(
      `${exchange.name}: ${exchange.why}${recorded ? ` (${recorded.server})` : ' (not recorded yet)'}`,
      async () => {
        expect(await exchange.run(fake.connectionString)).toEqual(recorded!.transcript);
      },
    );
  }
});
