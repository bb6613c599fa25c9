import { testBackends } from '../support/databases';
import { describeEventStoreContract } from './event-store.contract';

for (const backend of testBackends()) {
  describeEventStoreContract(backend.name, async () => {
    const db = await backend.open();
    return { store: db.store, close: db.close };
  });
}
