/**
 * The shared event store contract on EventStoreDB: against the wire fake over both append paths a client
 * 6.2 can take (BatchAppend, which it uses whenever ServerFeatures lists it, as 24.10 does; and the plain
 * client-streaming Append), through the real client and adapter; and against a real server when
 * EVENTSTORE_CONNECTION_STRING is set, which is the authority whenever the two disagree.
 */
import { EventStoreDbEventStore } from '../../src/infrastructure/event-store/esdb-event-store';
import { FakeEventStoreDb } from '../support/esdb-fake';
import { describeEventStoreContract } from './event-store.contract';

for (const appendPath of ['batch', 'append'] as const) {
  describeEventStoreContract(
    `eventstoredb (wire fake, ${appendPath === 'batch' ? 'BatchAppend' : 'Append'})`,
    async () => {
      const fake = await FakeEventStoreDb.start({ appendPath });
      const store = new EventStoreDbEventStore(fake.connectionString);
      return {
        store,
        close: async () => {
          await store.close();
          await fake.stop();
        },
      };
    },
  );
}

const connectionString = process.env.EVENTSTORE_CONNECTION_STRING;
if (connectionString) {
  describeEventStoreContract('eventstoredb (server)', async () => {
    const store = new EventStoreDbEventStore(connectionString);
    return { store, close: () => store.close() };
  });
}
