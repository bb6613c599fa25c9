import type { Projection } from './runtime/projection';
import { sessionsProjection } from './sessions/projection';
import { userDirectory } from './user-directory/projection';

/** Every read model the service keeps; each runs as its own checkpointed subscription. */
export const projections: readonly Projection[] = [userDirectory, sessionsProjection];

export const findProjection = (name: string): Projection | undefined =>
  projections.find((p) => p.name === name);

export { projectionHandler } from './runtime/handler';
export { rebuildProjection } from './runtime/rebuild';
export { runnerName } from './runtime/projection';
export { waitForProjection } from './runtime/wait';
