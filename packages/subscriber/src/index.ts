/**
 * @identity/subscriber: follow the identity service's account events from a downstream service.
 *
 *   await subscribe({
 *     source: httpFeed({ baseUrl: 'https://id.example.com', getAccessToken }),
 *     checkpointStore: fileCheckpointStore('./data/identity.checkpoint'),
 *     handler: async (event) => { if (event.type === 'EmailVerified') ... },
 *     signal,
 *   });
 *
 * See README.md beside this file for the delivery guarantees.
 */
export {
  subscribe,
  CheckpointAheadOfFeedError,
  HandlerGaveUpError,
  type DeadLetterOptions,
  type SubscribeOptions,
} from './subscribe';
export { httpFeed, FeedRequestError, type HttpFeedOptions } from './http-feed';
export { eventStoreDb, type EventStoreDbOptions } from './eventstoredb';
export {
  fileCheckpointStore,
  memoryCheckpointStore,
  readFileIfExists,
  writeFileAtomic,
  type CheckpointStore,
} from './checkpoints';
export type { FeedSource, ReadRequest, SourceMessage } from './source';
export * from './events';
