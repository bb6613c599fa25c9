import type { EventStore, Position } from '../../application/event-store';
import type { SqlExecutor } from '../../application/sql';

/** The `subscription_checkpoints` rows: one per runner name, moved only by compare-and-set. */

export class CheckpointConflictError extends Error {
  constructor(readonly subscription: string) {
    super(`checkpoint of ${subscription} moved under us`);
    this.name = 'CheckpointConflictError';
  }
}

/**
 * The stored checkpoint lies beyond everything the store holds: the checkpoints outlived the events (an
 * EventStoreDB volume recreated, a backend switched, a database restored from an older backup). Subscribing
 * from there would not fail: EventStoreDB skips, without a word, every event at or below the position it is
 * given, live ones included (Enumerator.AllSubscriptionFiltered), so the read model would silently miss
 * every event until the new store grew past the old checkpoint. The runner refuses instead and keeps
 * refusing (failures, readiness, the log), until an operator rebuilds the subscription or restores the store.
 */
export class CheckpointAheadOfStoreError extends Error {
  readonly code = 'checkpoint-ahead-of-store';
  constructor(
    readonly subscription: string,
    readonly checkpoint: Position,
    readonly head: Position | null,
  ) {
    super(
      `checkpoint ${checkpoint} of ${subscription} is past the end of the event store ` +
        `(${head === null ? 'which is empty' : `whose last position is ${head}`}): the events it was ` +
        'stored for are not in this store; rebuild the subscription or restore the store',
    );
    this.name = 'CheckpointAheadOfStoreError';
  }
}

/** The highest position the store can hand out a message for, or null when it is empty. */
export const storeHead = async (store: EventStore): Promise<Position | null> => {
  const head = store.headPosition
    ? await store.headPosition()
    : (await store.readAll({ direction: 'backwards', maxCount: 1 })).events[0]?.position;
  return head ?? null;
};

export const loadCheckpoint = async (sql: SqlExecutor, name: string): Promise<Position | null> => {
  const r = await sql.query<{ position: string | null }>(
    'select position from subscription_checkpoints where name = $1',
    [name],
  );
  return r.rows[0]?.position ?? null;
};

/**
 * A subscription's first start: the row is created at `position` (null: the beginning) unless one exists,
 * and the stored position is returned either way.
 */
export const initCheckpoint = async (
  sql: SqlExecutor,
  name: string,
  position: Position | null,
): Promise<Position | null> => {
  await sql.query(
    `insert into subscription_checkpoints (name, position, updated_at) values ($1, $2, now())
     on conflict (name) do nothing`,
    [name, position],
  );
  return loadCheckpoint(sql, name);
};

export const hasCheckpointRow = async (sql: SqlExecutor, name: string): Promise<boolean> =>
  (await sql.query('select 1 from subscription_checkpoints where name = $1', [name])).rows.length > 0;

/** Compare-and-set: advances only from the value this runner last read. */
export const storeCheckpoint = async (
  tx: SqlExecutor,
  name: string,
  previous: Position | null,
  next: Position,
): Promise<void> => {
  const r =
    previous === null
      ? await tx.query(
          `insert into subscription_checkpoints (name, position, updated_at) values ($1, $2, now())
           on conflict (name) do update set position = excluded.position, updated_at = now()
           where subscription_checkpoints.position is null`,
          [name, next],
        )
      : await tx.query(
          'update subscription_checkpoints set position = $3, updated_at = now() where name = $1 and position = $2',
          [name, previous, next],
        );
  if (r.rowCount !== 1) throw new CheckpointConflictError(name);
};
