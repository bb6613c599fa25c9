import type { EventStore, Position } from '../../application/event-store';
import { FEED_STREAM_PREFIXES } from '../../application/events/schemas';
import type { Clock } from '../../application/ports';
import type { SqlExecutor } from '../../application/sql';
import { countParked } from '../../consumers/relay/parking';
import { relayRunnerName, type RelayChannel } from '../../consumers/relay/relay-consumer';
import { loadCheckpoint } from '../../projections/runtime/checkpoints';
import type { SubscriptionStatus } from '../../projections/runtime/runner';

export type RelayTargetStatus = {
  name: string;
  type: string;
  /** This instance relays the target now (another one does otherwise). */
  owner: boolean;
  position: Position | null;
  /** Age of the oldest event the target has not confirmed; 0 when it has them all. */
  lagSeconds: number;
  /** The last attempts failed and the runner is backing off (the target is down or refusing). */
  failing: boolean;
  confirmed: number;
  failed: number;
  parked: number;
  lastError: string | null;
};

export type RelayStatusDeps = {
  store: EventStore;
  sql: SqlExecutor;
  clock: Clock;
  relay: RelayChannel[];
  /** The runners of this process; absent in the CLI, which judges by the stored positions. */
  statuses?: () => SubscriptionStatus[];
};

/**
 * Each target's position, lag and counters, measured against the store rather than the runner's memory so
 * that a standby instance (and the CLI) tells the same. The counters are this process's.
 */
export const relayStatuses = async (deps: RelayStatusDeps): Promise<RelayTargetStatus[]> => {
  if (deps.relay.length === 0) return [];
  const parked = await countParked(deps.sql);
  return Promise.all(
    deps.relay.map(async ({ target, stats }) => {
      const status = deps.statuses?.().find((s) => s.name === relayRunnerName(target.name));
      const owner = status?.leader ?? false;
      const failing = status !== undefined && status.consecutiveFailures > 0 && !status.caughtUp;
      const position =
        owner && status?.checkpoint
          ? status.checkpoint
          : await loadCheckpoint(deps.sql, relayRunnerName(target.name));
      let lagSeconds = 0;
      if (!(owner && status?.caughtUp && !failing)) {
        const next = await deps.store.readAll({
          after: position ?? undefined,
          maxCount: 1,
          filter: { streamPrefixes: [...FEED_STREAM_PREFIXES], eventTypePrefixes: target.types },
        });
        const oldest = next.events[0];
        if (oldest)
          lagSeconds = Math.max(0, (deps.clock.now().getTime() - oldest.createdAt.getTime()) / 1000);
      }
      return {
        name: target.name,
        type: target.type,
        owner,
        position,
        lagSeconds,
        failing,
        confirmed: stats.confirmed,
        failed: stats.failed,
        parked: parked.get(target.name) ?? 0,
        lastError: status?.lastError ?? stats.lastError,
      };
    }),
  );
};

/**
 * `/health/ready`'s `relay` member: always ready (a target that is down holds only its own relay, never
 * the API), `degraded` naming each target that is failing or lags more than the threshold.
 */
export const relayReadiness =
  (deps: RelayStatusDeps & { thresholdSeconds: number }) =>
  async (): Promise<{ ok: boolean; degraded?: boolean; detail?: string }> => {
    const all = await relayStatuses(deps);
    const problems = all.flatMap((t) => [
      ...(t.failing ? [`${t.name} failing`] : []),
      ...(t.lagSeconds > deps.thresholdSeconds ? [`${t.name} ${Math.round(t.lagSeconds)} s behind`] : []),
    ]);
    return problems.length ? { ok: true, degraded: true, detail: problems.join('; ') } : { ok: true };
  };
