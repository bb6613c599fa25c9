import { performance } from 'node:perf_hooks';
import type { EventStore, Position } from '../../application/event-store';
import type { SqlClient, SqlExecutor } from '../../application/sql';
import { loadCheckpoint } from './checkpoints';
import {
  applyBatch,
  buildTag,
  runnerName,
  tablesOf,
  type PersonalDataReaders,
  type Projection,
} from './projection';
import { dropTables, lockActive } from './registry';

export type RebuildDeps = { sql: SqlClient; store: EventStore; personalData: PersonalDataReaders };

export type RebuildProgress = { projection: string; events: number; position: Position | null };

export type RebuildOptions = {
  /** Events read and applied per transaction (FACTS.md: page + set-based upsert ~31k events/s); 2000. */
  pageSize?: number;
  onProgress?: (progress: RebuildProgress) => void;
  signal?: AbortSignal;
};

export type RebuildResult = {
  projection: string;
  version: number;
  tag: string;
  tables: string[];
  /** Events applied by this run (a resumed build counts only its own). */
  events: number;
  seconds: number;
  eventsPerSecond: number;
  position: Position | null;
  resumed: boolean;
};

export class RebuildConflictError extends Error {
  readonly code = 'rebuild-conflict';
  constructor(readonly projection: string) {
    super(`${projection}: another rebuild is writing this build`);
    this.name = 'RebuildConflictError';
  }
}

/** Switch attempts that find the live runner ahead before the switch moves its checkpoint back instead. */
const SWITCH_ATTEMPTS = 20;

/**
 * Builds a projection from position zero into fresh tables beside the live ones, then switches the registry
 * to them in one transaction and drops the old tables. The live runner keeps serving (and writing the old
 * tables) meanwhile. The build has its own checkpoint in the registry, so an interrupted rebuild of the
 * same version resumes where it stopped; a build of another version is dropped and started over.
 *
 * The switch happens while holding the registry row FOR UPDATE, so no live batch is in flight. If the live
 * runner's checkpoint is not past the build's, the live runner simply carries on: events the build already
 * holds are no-ops by the revision guards. If it is past (it applied events the build has not read yet),
 * the build catches up and tries again; after SWITCH_ATTEMPTS it moves the live checkpoint back to the
 * build's, and the live runner, whose compare-and-set then fails once, resumes from there into the new
 * tables.
 */
export const rebuildProjection = async (
  deps: RebuildDeps,
  projection: Projection,
  options: RebuildOptions = {},
): Promise<RebuildResult> => {
  const pageSize = options.pageSize ?? 2000;
  const started = performance.now();
  const build = await deps.sql.transaction((tx) => prepare(tx, projection));
  const tables = tablesOf(projection, build.tag);
  let position = build.position;
  let events = 0;

  const read = (after: Position | null) => {
    const page = deps.store.readAll({
      after: after ?? undefined,
      maxCount: pageSize,
      filter: projection.filter,
    });
    // A page read ahead may be abandoned (an interruption, a failure): never an unhandled rejection.
    page.catch(() => undefined);
    return page;
  };

  const catchUp = async (): Promise<void> => {
    let ahead = read(position);
    for (;;) {
      if (options.signal?.aborted) throw new Error(`${projection.name}: rebuild interrupted`);
      const page = await ahead;
      const next = page.checkpoint ?? page.events[page.events.length - 1]?.position;
      if (next === undefined || (position !== null && next <= position)) return;
      // Reading the next page while this one is applied: on PostgreSQL they run on two connections.
      if (page.events.length >= pageSize) ahead = read(next);
      const previous = position;
      await deps.sql.transaction(async (tx) => {
        await applyBatch(projection, page.events, tx, { tables, personalData: deps.personalData(tx) });
        const r = await tx.query(
          `update projections set building_position = $3
           where name = $1 and building_tag = $2 and building_position is not distinct from $4`,
          [projection.name, build.tag, next, previous],
        );
        if (r.rowCount !== 1) throw new RebuildConflictError(projection.name);
      });
      position = next;
      events += page.events.length;
      options.onProgress?.({ projection: projection.name, events, position });
      if (page.events.length < pageSize) return;
    }
  };

  for (let attempt = 1; ; attempt++) {
    await catchUp();
    const switched = await deps.sql.transaction((tx) =>
      switchTo(tx, projection, build.tag, position, attempt >= SWITCH_ATTEMPTS),
    );
    if (switched) break;
  }

  const seconds = (performance.now() - started) / 1000;
  return {
    projection: projection.name,
    version: projection.version,
    tag: build.tag,
    tables: Object.values(tables),
    events,
    seconds,
    eventsPerSecond: seconds > 0 ? events / seconds : events,
    position,
    resumed: build.resumed,
  };
};

/** Picks (or resumes) the build and creates its tables; records it in the registry. */
const prepare = async (
  tx: SqlExecutor,
  projection: Projection,
): Promise<{ tag: string; position: Position | null; resumed: boolean }> => {
  const active = await lockActive(tx, projection, 'update');
  const leftover = active.building;
  if (leftover && leftover.version === projection.version && leftover.tag !== active.tag) {
    await projection.create(tx, tablesOf(projection, leftover.tag));
    return { tag: leftover.tag, position: leftover.position, resumed: true };
  }
  if (leftover && leftover.tag !== active.tag) await dropTables(tx, leftover.tables);
  const generation = active.generation + 1;
  const tag = buildTag(projection.version, generation, active.version !== projection.version);
  const tables = tablesOf(projection, tag);
  // Tables of that name can only be a leftover nobody recorded; a build starts from empty tables.
  await dropTables(tx, Object.values(tables));
  await projection.create(tx, tables);
  await tx.query(
    `update projections set generation = $2, building_version = $3, building_tag = $4,
       building_tables = $5, building_position = null, building_started_at = now()
     where name = $1`,
    [projection.name, generation, projection.version, tag, Object.values(tables)],
  );
  return { tag, position: null, resumed: false };
};

const switchTo = async (
  tx: SqlExecutor,
  projection: Projection,
  tag: string,
  position: Position | null,
  force: boolean,
): Promise<boolean> => {
  const active = await lockActive(tx, projection, 'update');
  if (active.building?.tag !== tag) throw new RebuildConflictError(projection.name);
  const live = await loadCheckpoint(tx, runnerName(projection.name));
  if (live !== null && (position === null || live > position)) {
    if (!force) return false;
    await tx.query('update subscription_checkpoints set position = $2, updated_at = now() where name = $1', [
      runnerName(projection.name),
      position,
    ]);
  }
  await tx.query(
    `update projections set version = $2, tag = $3, tables = $4, activated_at = now(), building_version = null,
       building_tag = null, building_tables = null, building_position = null, building_started_at = null
     where name = $1`,
    [projection.name, projection.version, tag, Object.values(tablesOf(projection, tag))],
  );
  await dropTables(
    tx,
    active.tables.filter((t) => !Object.values(tablesOf(projection, tag)).includes(t)),
  );
  return true;
};
