import { presentEvent } from '../../../src/application/events/present';
import { USER_STREAM_PREFIX } from '../../../src/domain/user/events';
import { EventStoreDbEventStore } from '../../../src/infrastructure/event-store/esdb-event-store';
import type { FeedSource } from './source';

export type EventStoreDbOptions = {
  /** e.g. `esdb://eventstore:2113?tls=false`, the service's EVENTSTORE_CONNECTION_STRING. */
  connectionString: string;
  /** Streams to follow; default the account streams, `user-` (CONTRACT "Events"). */
  streamPrefixes?: readonly string[];
};

/**
 * The feed read natively from EventStoreDB: a catch-up subscription to `$all`, filtered on the server by
 * stream prefix, system events left out. It goes through the service's own EventStoreDB adapter, so the
 * positions are the same strings the HTTP feed gives on that backend (a checkpoint moves between the two
 * sources) and every subtlety of the client (checkpoints of filtered subscriptions, `caughtUp`, a lost
 * server) is handled in one place.
 *
 * Events are presented as the HTTP feed presents them to a reader WITHOUT `pii:read`: a native subscriber
 * holds no data keys, so personal data reads "[redacted]", and hashes and nonces never reach the handler.
 */
export const eventStoreDb = (options: EventStoreDbOptions): FeedSource => {
  const streamPrefixes = [...(options.streamPrefixes ?? [USER_STREAM_PREFIX])];
  return {
    async head() {
      const store = new EventStoreDbEventStore(options.connectionString);
      try {
        return (await store.headPosition()) ?? null;
      } finally {
        await store.close();
      }
    },
    async *read({ after, types, signal }) {
      const store = new EventStoreDbEventStore(options.connectionString);
      try {
        const messages = store.subscribeToAll({
          from: after ?? undefined,
          filter: { streamPrefixes, ...(types?.length ? { eventTypePrefixes: [...types] } : {}) },
          signal,
        });
        for await (const message of messages) {
          if (message.kind === 'event') {
            yield { kind: 'event', event: await presentEvent(message.event, { revealPersonalData: false }) };
          } else if (message.kind === 'checkpoint') {
            yield message;
          }
        }
      } finally {
        await store.close();
      }
    },
  };
};
