/**
 * The shared event store contract on EventStoreDB: always against the wire fake, through the real client
 * and adapter; and against a real server when EVENTSTORE_CONNECTION_STRING is set, which is the authority
 * whenever the two disagree.
 */
import { EventStoreDbEventStore } from '../../src/infrastructure/event-store/esdb-event-store';
import { FakeEventStoreDb } from '../support/esdb-fake';
import { describeEventStoreContract } from './event-store.contract';

describeEventStoreContract('eventstoredb (wire fake)', async () => {
  const fake = await FakeEventStoreDb.start();
  const store = new EventStoreDbEventStore(fake.connectionString);
  return {
    store,
    close: async () => {
      await store.close();
      await fake.stop();
    },
  };
});

const connectionString = process.env.EVENTSTORE_CONNECTION_STRING;
if (connectionString) {
  describeEventStoreContract('eventstoredb (server)', async () => {
    const store = new EventStoreDbEventStore(connectionString);
    return { store, close: () => store.close() };
  });
}
