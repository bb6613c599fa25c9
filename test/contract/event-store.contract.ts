import { useContractStore, type ContractSubject } from './event-store-contract-support';
import { describeGlobalOrderContract } from './event-store-global.contract';
import { describeStreamContract } from './event-store-streams.contract';

export type { ContractSubject } from './event-store-contract-support';

/**
 * The behaviour every EventStore adapter owes the application, whatever the backend.
 *
 * `open` gives the suite a store of its own (it may already hold events): nothing else writes to it while
 * the suite runs, so "the events after position p" are exactly the ones the test appended. Tests run one at
 * a time and use stream names unique to the test.
 */
export const describeEventStoreContract = (name: string, open: () => Promise<ContractSubject>): void => {
  describe(`event store contract: ${name}`, () => {
    const ctx = useContractStore(open);
    describeStreamContract(ctx);
    describeGlobalOrderContract(ctx);
  });
};
