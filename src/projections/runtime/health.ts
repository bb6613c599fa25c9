import type { EventStore, Position } from '../../application/event-store';
import type { Clock } from '../../application/ports';
import type { SqlExecutor } from '../../application/sql';
import { loadCheckpoint } from './checkpoints';
import type { SubscriptionStatus } from './runner';
import { runnerName, type Projection } from './projection';

export type ProjectionHealthDeps = {
  store: EventStore;
  sql: SqlExecutor;
  clock: Clock;
  /** The runners of this process; absent in the CLI, which then judges by the stored checkpoints. */
  statuses?: () => SubscriptionStatus[];
};

export type ProjectionLag = {
  name: string;
  checkpoint: Position | null;
  /** Age of the oldest event the projection has not applied yet; 0 when it has applied everything. */
  lagSeconds: number;
  /** Stuck on a failure: the runner keeps retrying the same event (see `lastError` for which). */
  failing: boolean;
  consecutiveFailures: number;
  failures: number;
  lastError: string | null;
};

/**
 * How far behind a projection is, measured by the store rather than by the runner's memory, so it is
 * right on a standby instance too: the oldest matching event after the stored checkpoint, and its age.
 */
export const projectionLag = async (
  deps: ProjectionHealthDeps,
  projection: Projection,
): Promise<ProjectionLag> => {
  const status = deps.statuses?.().find((s) => s.name === runnerName(projection.name));
  const failing = status !== undefined && status.consecutiveFailures > 0 && !status.caughtUp;
  const checkpoint =
    status?.leader && status.checkpoint !== null
      ? status.checkpoint
      : await loadCheckpoint(deps.sql, runnerName(projection.name));
  let lagSeconds = 0;
  if (!(status?.leader && status.caughtUp && !failing)) {
    const next = await deps.store.readAll({
      after: checkpoint ?? undefined,
      maxCount: 1,
      filter: projection.filter,
    });
    const oldest = next.events[0];
    if (oldest) lagSeconds = Math.max(0, (deps.clock.now().getTime() - oldest.createdAt.getTime()) / 1000);
  }
  return {
    name: projection.name,
    checkpoint,
    lagSeconds,
    failing,
    consecutiveFailures: status?.consecutiveFailures ?? 0,
    failures: status?.failures ?? 0,
    lastError: status?.lastError ?? null,
  };
};

/**
 * The projections' part of /health/ready: not ready while a projection is stuck on a failure or lags more
 * than the threshold. The detail names the projections, never the error (it may quote SQL); the runner
 * status and the logs have that.
 */
export const projectionsReadiness =
  (deps: ProjectionHealthDeps & { projections: readonly Projection[]; thresholdSeconds: number }) =>
  async (): Promise<{ ok: boolean; detail?: string }> => {
    const lags = await Promise.all(deps.projections.map((p) => projectionLag(deps, p)));
    const problems = lags.flatMap((l) => [
      ...(l.failing ? [`${l.name} failing`] : []),
      ...(l.lagSeconds > deps.thresholdSeconds ? [`${l.name} ${Math.round(l.lagSeconds)} s behind`] : []),
    ]);
    return problems.length ? { ok: false, detail: problems.join('; ') } : { ok: true };
  };
