import type { SqlExecutor } from '../application/sql';
import type { SubscriptionHandler } from '../application/subscriptions/runner';
import { projectionHandler, projections, rebuildProjection } from '../projections';
import { readRegistry } from '../projections/registry';
import type { PersonalDataReader, PersonalDataReaders } from '../projections/projection';
import type { RebuildDeps } from '../projections/rebuild';
import type { KeyRing } from './crypto/keys';
import { PiiVault, SqlPiiKeyStore, type PiiKeyStore } from './crypto/pii-vault';
import type { Services } from './services';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * A vault per projection batch, reading keys through the batch's own transaction: the embedded store has
 * one connection, which the batch holds, and the keys then come from the same snapshot as the rows. A
 * batch's keys are fetched in one query (`preload`), which keeps a rebuild at page speed. Read-only: a
 * projection never creates or deletes a key.
 */
export const personalDataReaders =
  (keys: Pick<KeyRing, 'piiWrap'>): PersonalDataReaders =>
  (tx: SqlExecutor): PersonalDataReader => {
    const loaded = new Map<string, Buffer | null>();
    const fallback = new SqlPiiKeyStore(tx);
    const store: PiiKeyStore = {
      find: async (id) => (loaded.has(id) ? (loaded.get(id) ?? null) : fallback.find(id)),
      insertIfAbsent: async () => {
        throw new Error('projections never create keys');
      },
      delete: async () => {
        throw new Error('projections never delete keys');
      },
    };
    // The batch is one transaction: its keys cannot change under it, so no expiry is needed.
    const vault = new PiiVault(store, keys.piiWrap, { cacheTtlMs: Number.POSITIVE_INFINITY });
    return {
      preload: async (userIds) => {
        const wanted = [...new Set([...userIds].map((id) => id.toLowerCase()))].filter(
          (id) => UUID.test(id) && !loaded.has(id),
        );
        if (wanted.length === 0) return;
        const r = await tx.query<{ user_id: string; wrapped_key: Uint8Array }>(
          'select user_id::text, wrapped_key from pii_keys where user_id = any($1::uuid[])',
          [wanted],
        );
        for (const id of wanted) loaded.set(id, null);
        for (const row of r.rows) loaded.set(row.user_id, Buffer.from(row.wrapped_key));
      },
      open: (userId, sealed) => vault.open(userId, sealed),
    };
  };

/** The live side of every projection, for `subscriptionHandlers`. */
export const projectionHandlers = (services: Pick<Services, 'keys'>): SubscriptionHandler[] => {
  const personalData = personalDataReaders(services.keys);
  return projections.map((p) => projectionHandler(p, { personalData }));
};

/** What `rebuildProjection` needs, from the service graph (the CLI and tests). */
export const rebuildDeps = (services: Pick<Services, 'sql' | 'store' | 'keys'>): RebuildDeps => ({
  sql: services.sql,
  store: services.store,
  personalData: personalDataReaders(services.keys),
});

type UpgradeLogger = Pick<Services['logger'], 'info' | 'warn'>;

/**
 * A projection whose code version differs from the active build (a new release changed its shape) is
 * rebuilt in the background beside the live tables, then takes over when it has caught up
 * (`rebuildProjection` switches in one transaction). Until then its live runner refuses to write the old
 * tables and queries keep reading them. One instance does the work: the others find the lock taken.
 */
export const upgradeProjections = async (
  services: Pick<Services, 'sql' | 'store' | 'keys'> & { logger: UpgradeLogger },
  signal?: AbortSignal,
): Promise<void> => {
  for (const projection of projections) {
    if (signal?.aborted) return;
    const entry = await readRegistry(services.sql, projection.name);
    if (entry === null || entry.version === projection.version) continue;
    const release = await services.sql.tryLock(`projection-rebuild:${projection.name}`);
    if (!release) continue;
    try {
      services.logger.info(
        { projection: projection.name, from_version: entry.version, to_version: projection.version },
        'projection version changed; rebuilding beside the live tables',
      );
      const result = await rebuildProjection(rebuildDeps(services), projection, { signal });
      services.logger.info(
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
