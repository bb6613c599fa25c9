import path from 'node:path';
import {
  fileCheckpointStore,
  subscribe,
  type CheckpointStore,
  type FeedSource,
  type SubscribeOptions,
} from '../../../packages/subscriber/src';
import { WelcomeStore } from './welcome-store';

/** The only events this service acts on; the feed filters on the server and still moves the checkpoint. */
export const WELCOME_EVENT_TYPES = [
  'UserRegistered',
  'PendingRegistrationReplaced',
  'EmailVerified',
  'UserProfileUpdated',
  'UserErased',
] as const;

export type WelcomeServiceOptions = {
  source: FeedSource;
  /** Holds `welcome.json` (the table) and `checkpoint.json`. */
  dataDir: string;
  signal: AbortSignal;
  /** Default: `checkpoint.json` in `dataDir`. */
  checkpointStore?: CheckpointStore;
  onError?: SubscribeOptions['onError'];
  backoff?: SubscribeOptions['backoff'];
};

/**
 * Follows the account feed from its checkpoint and keeps the table of verified users; `stopped` resolves
 * once `signal` has aborted and the event in hand is finished.
 */
export const startWelcomeService = async (
  options: WelcomeServiceOptions,
): Promise<{ store: WelcomeStore; stopped: Promise<void> }> => {
  const store = await WelcomeStore.open(options.dataDir);
  const stopped = subscribe({
    source: options.source,
    checkpointStore:
      options.checkpointStore ?? fileCheckpointStore(path.join(options.dataDir, 'checkpoint.json')),
    handler: async (event) => {
      await store.apply(event);
    },
    signal: options.signal,
    types: WELCOME_EVENT_TYPES,
    onError: options.onError,
    backoff: options.backoff,
  });
  return { store, stopped };
};
