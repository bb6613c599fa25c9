import type { Projection } from './projection';
import { rebuildProjection, type RebuildDeps, type RebuildProgress } from './rebuild';
import { readRegistry } from './registry';

export type UpgradeLogger = {
  info: (obj: object, msg: string) => void;
  warn: (obj: object, msg: string) => void;
};

/**
 * A projection whose code version differs from the active build (a new release changed its shape) is
 * rebuilt in the background beside the live tables, then takes over when it has caught up
 * (`rebuildProjection` switches in one transaction). Until then its live runner refuses to write the old
 * tables and queries keep reading them. One instance does the work: the others find the lock taken.
 */
export const upgradeProjections = async (
  deps: RebuildDeps & { logger: UpgradeLogger; onProgress?: (progress: RebuildProgress) => void },
  projections: readonly Projection[],
  signal?: AbortSignal,
): Promise<void> => {
  for (const projection of projections) {
    if (signal?.aborted) return;
    const entry = await readRegistry(deps.sql, projection.name);
    if (entry === null || entry.version === projection.version) continue;
    const release = await deps.sql.tryLock(`projection-rebuild:${projection.name}`);
    if (!release) continue;
    try {
      deps.logger.info(
        { projection: projection.name, from_version: entry.version, to_version: projection.version },
        'projection version changed; rebuilding beside the live tables',
      );
      const result = await rebuildProjection(deps, projection, { signal, onProgress: deps.onProgress });
      deps.logger.info(
        {
          projection: projection.name,
          events: result.events,
          events_per_s: Math.round(result.eventsPerSecond),
        },
        'projection rebuilt and switched',
      );
    } finally {
      await release();
    }
  }
};
