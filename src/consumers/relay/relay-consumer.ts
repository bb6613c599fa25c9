import type { EventStore, Position, RecordedEvent } from '../../application/event-store';
import { FEED_STREAM_PREFIXES } from '../../application/events/schemas';
import type { Clock, PersonalDataVault } from '../../application/ports';
import type { SqlExecutor } from '../../application/sql';
import type { SubscriptionHandler } from '../../application/subscription-handler';
import type { RelayTarget } from './config';
import { relayMessageOf } from './message';
import { clearFailure, park, recordFailure } from './parking';
import type { RelayTransport } from './transport';

/**
 * The relay: one checkpointed subscription per target (`relay:<name>`), on the same runner as the
 * projections and the mail outbox (src/projections/runtime/). Each batch is handed to the target's
 * transport BEFORE the checkpoint's transaction (`deliver`), and the checkpoint moves only once the target
 * confirmed the whole batch; a failure leaves the checkpoint where it was and the runner retries from it
 * with backoff and jitter, so a target that is down holds only its own runner. A crash after the confirm and
 * before the commit repeats that batch: the message id (the event id) lets the broker or consumer drop it.
 * One instance at a time relays a target (the runner's named lock: a PostgreSQL advisory lock held by a
 * session, gone with its holder).
 */

export const RELAY_RUNNER_PREFIX = 'relay:';
export const relayRunnerName = (target: string): string => `${RELAY_RUNNER_PREFIX}${target}`;

export type RelayStats = {
  confirmed: number;
  failed: number;
  parked: number;
  lastError: string | null;
  lastConfirmedAt: Date | null;
};

export const emptyStats = (): RelayStats => ({
  confirmed: 0,
  failed: 0,
  parked: 0,
  lastError: null,
  lastConfirmedAt: null,
});

export type RelayChannel = { target: RelayTarget; transport: RelayTransport; stats: RelayStats };

export type RelayDeps = {
  store: EventStore;
  sql: SqlExecutor;
  vault: Pick<PersonalDataVault, 'open'>;
  clock: Clock;
};

const headOf = async (store: EventStore): Promise<Position | null> => {
  const head = store.headPosition
    ? await store.headPosition()
    : (await store.readAll({ direction: 'backwards', maxCount: 1 })).events[0]?.position;
  return head ?? null;
};

const describe = (e: unknown): string => (e instanceof Error ? `${e.name}: ${e.message}` : String(e));

export const relayHandler = (channel: RelayChannel, deps: RelayDeps): SubscriptionHandler => {
  const { target, transport, stats } = channel;
  const name = relayRunnerName(target.name);
  /** Events of this target that failed at least once in this process (their row is cleared on success). */
  const failing = new Set<string>();

  const wanted = (e: RecordedEvent): boolean =>
    FEED_STREAM_PREFIXES.some((p) => e.streamId.startsWith(p)) &&
    (!target.types || target.types.some((p) => e.type.startsWith(p)));

  const messagesOf = (events: RecordedEvent[]) =>
    Promise.all(
      events.map((e) => relayMessageOf(e, { topics: target.topics, pii: target.pii, vault: deps.vault })),
    );

  const confirmed = (n: number) => {
    stats.confirmed += n;
    stats.lastConfirmedAt = deps.clock.now();
  };

  /** Brokers: the whole batch in one publish, confirmed together. */
  const deliverBatch = async (events: RecordedEvent[], signal: AbortSignal) => {
    const messages = await messagesOf(events);
    try {
      await transport.publish(messages, signal);
    } catch (e) {
      stats.failed += messages.length;
      stats.lastError = describe(e);
      throw e;
    }
    confirmed(messages.length);
  };

  /** Webhooks: one POST per event in order; a delivery failing past `max_age` is parked, not retried. */
  const deliverEach = async (events: RecordedEvent[], signal: AbortSignal, maxAgeMs: number) => {
    for (const event of events) {
      const [message] = await messagesOf([event]);
      try {
        await transport.publish([message!], signal);
      } catch (e) {
        stats.failed += 1;
        stats.lastError = describe(e);
        if (signal.aborted) throw e;
        failing.add(event.id);
        const first = await recordFailure(deps.sql, target.name, event, e, deps.clock.now());
        if (deps.clock.now().getTime() - first.getTime() < maxAgeMs) throw e;
        await park(deps.sql, target.name, event.id);
        failing.delete(event.id);
        stats.parked += 1;
        continue;
      }
      confirmed(1);
      if (failing.delete(event.id)) await clearFailure(deps.sql, target.name, event.id);
    }
  };

  return {
    name,
    filter: { streamPrefixes: [...FEED_STREAM_PREFIXES], eventTypePrefixes: target.types },
    batchSize: target.batch_size,
    startAt: target.from === 'now' ? () => headOf(deps.store) : async () => null,
    deliver: async (all, signal) => {
      // The store filters already; checked again because a store may apply only one of the two filters.
      const events = all.filter(wanted);
      if (events.length === 0) return;
      if (target.type === 'webhook') await deliverEach(events, signal, target.max_age);
      else await deliverBatch(events, signal);
    },
    // Nothing to write beside the checkpoint: the target holds the effect.
    handle: async () => undefined,
  };
};
