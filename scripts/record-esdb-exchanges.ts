/**
 * Records the gRPC exchanges of test/support/esdb-fake/exchanges.ts against a real EventStoreDB, for
 * test/contract/esdb-recordings.test.ts to replay against the wire fake. Run it on a machine with Docker:
 *
 *   docker run -d --name esdb-rec -p 127.0.0.1:2113:2113 -e EVENTSTORE_INSECURE=true \
 *     -e EVENTSTORE_CLUSTER_SIZE=1 eventstore/eventstore:24.10.4-jammy
 *   EVENTSTORE_CONNECTION_STRING='esdb://127.0.0.1:2113?tls=false' npx tsx scripts/record-esdb-exchanges.ts
 *
 * Writes test/support/esdb-fake/recordings/<name>.json; commit them. A scenario the fake disagrees with is
 * a divergence to fix in the fake (or to list in its header).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { EventStoreDBClient } from '@eventstore/db-client';
import { exchanges } from '../test/support/esdb-fake/exchanges';

const main = async (): Promise<void> => {
  const cs = process.env.EVENTSTORE_CONNECTION_STRING;
  if (!cs)
    throw new Error(
      'set EVENTSTORE_CONNECTION_STRING to a real server, e.g. esdb://127.0.0.1:2113?tls=false',
    );
  const probe = EventStoreDBClient.connectionString(cs);
  const version = await (probe as unknown as { capabilities: Promise<{ serverVersion: string }> })
    .capabilities;
  await probe.dispose();
  const dir = path.resolve(__dirname, '../test/support/esdb-fake/recordings');
  mkdirSync(dir, { recursive: true });
  const only = process.argv.slice(2);
  for (const exchange of exchanges) {
    if (only.length && !only.includes(exchange.name)) continue;
    const transcript = await exchange.run(cs);
    const file = path.join(dir, `${exchange.name}.json`);
    writeFileSync(
      file,
      `${JSON.stringify({ server: version.serverVersion, recordedAt: new Date().toISOString(), why: exchange.why, transcript }, null, 2)}\n`,
    );
    console.log(`${exchange.name}: ${JSON.stringify(transcript)}`);
  }
};

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
