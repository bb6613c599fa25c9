import type { SqlExecutor } from '../application/sql';
import type { SubscriptionHandler } from '../application/subscription-handler';
import { projectionHandler, projections } from '../projections';
import type { PersonalDataReader, PersonalDataReaders } from '../projections/runtime/projection';
import type { RebuildDeps } from '../projections/runtime/rebuild';
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

/** What `rebuildProjection` and `upgradeProjections` need, from the service graph (runtime, CLI, tests). */
export const rebuildDeps = (services: Pick<Services, 'sql' | 'store' | 'keys'>): RebuildDeps => ({
  sql: services.sql,
  store: services.store,
  personalData: personalDataReaders(services.keys),
});
