import type { Position } from '../../application/event-store';
import { runnerName } from './projection';

/** What read-your-writes needs of the runtime (infrastructure/runtime.ts). */
export type ProjectionRunners = {
  runner: (
    name: string,
  ) => { waitFor: (position: Position, timeoutMs: number) => Promise<boolean> } | undefined;
};

/**
 * Read-your-writes (FACTS.md, ZITADEL #7543): resolves true once projection `name` has applied every event
 * up to `position` (the position a command returned), false after `timeoutMs` or when this process does
 * not run that projection. A standby instance polls the stored checkpoint, so this works on any instance.
 */
export const waitForProjection = async (
  runtime: ProjectionRunners,
  name: string,
  position: Position,
  timeoutMs: number,
): Promise<boolean> => {
  const runner = runtime.runner(runnerName(name));
  if (!runner) return false;
  return runner.waitFor(position, timeoutMs);
};
