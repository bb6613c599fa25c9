import { relayMessageOf } from './message';
import { markReplayed, parkedDeliveries } from './parking';
import type { RelayChannel, RelayDeps } from './relay-consumer';

export type ReplayResult = { delivered: number; failed: number; missing: number; lastError: string | null };

/**
 * `identity relay replay <target>`: delivers the target's parked deliveries again, oldest first, each read
 * from the store and presented as the target receives events (so an account erased since reads as erased).
 * A delivery that goes through is marked replayed; the first one that fails stops the replay (the rest stay
 * parked, in order) so a receiver still down is not hammered.
 */
export const replayParked = async (
  channel: RelayChannel,
  deps: Pick<RelayDeps, 'store' | 'sql' | 'vault'>,
  signal: AbortSignal,
): Promise<ReplayResult> => {
  const result: ReplayResult = { delivered: 0, failed: 0, missing: 0, lastError: null };
  for (const parked of await parkedDeliveries(deps.sql, channel.target.name)) {
    const [event] = await deps.store
      .readStream(parked.streamId, { fromRevision: parked.revision, maxCount: 1 })
      .catch(() => []);
    if (!event || event.id !== parked.eventId) {
      // The stream was deleted since: nothing left to deliver.
      result.missing += 1;
      await markReplayed(deps.sql, channel.target.name, parked.eventId);
      continue;
    }
    const message = await relayMessageOf(event, {
      topics: channel.target.topics,
      pii: channel.target.pii,
      vault: deps.vault,
    });
    try {
      await channel.transport.publish([message], signal);
    } catch (e) {
      result.failed += 1;
      result.lastError = (e as Error).message;
      break;
    }
    await markReplayed(deps.sql, channel.target.name, parked.eventId);
    result.delivered += 1;
  }
  return result;
};
