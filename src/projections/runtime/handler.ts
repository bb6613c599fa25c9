import type { SubscriptionHandler } from '../../application/subscription-handler';
import {
  applyBatch,
  ProjectionVersionError,
  runnerName,
  tablesOf,
  type PersonalDataReaders,
  type Projection,
} from './projection';
import { lockActive } from './registry';

export type ProjectionDeps = { personalData: PersonalDataReaders };

/**
 * The live side of a projection: a checkpointed subscription (runner.ts) whose
 * batches go into the ACTIVE build's tables, in the same transaction as the checkpoint. The registry row is
 * held FOR SHARE for the whole batch, so a rebuild's switch waits for the batch and the next batch sees
 * the new tables.
 *
 * A build of another version stops the projection with a ProjectionVersionError (shown in the runner's
 * status and /health/ready) rather than writing rows of one shape into tables of another: a new version is
 * rebuilt at start-up (`upgradeProjections`) or with `identity projections rebuild <name>`, and goes live
 * when it has caught up.
 */
export const projectionHandler = (projection: Projection, deps: ProjectionDeps): SubscriptionHandler => ({
  name: runnerName(projection.name),
  filter: projection.filter,
  batchSize: projection.batchSize,
  handle: async (events, tx) => {
    const active = await lockActive(tx, projection, 'share');
    if (active.version !== projection.version) {
      throw new ProjectionVersionError(projection.name, active.version, projection.version);
    }
    // The runner isolates a failing event itself (one event per transaction after a failed batch).
    await applyBatch(
      projection,
      events,
      tx,
      { tables: tablesOf(projection, active.tag), personalData: deps.personalData(tx) },
      { isolate: false },
    );
  },
});
