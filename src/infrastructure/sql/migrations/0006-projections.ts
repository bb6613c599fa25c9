import type { Migration } from './types';

/**
 * The registry of read models (src/projections/registry.ts). The read-model tables themselves are not
 * created here: each projection creates its own versioned tables (`users_v1`, ...), because a rebuild must
 * be able to create fresh ones beside the live ones at any time.
 */
export const migration: Migration = {
  version: 6,
  name: 'projections',
  sql: `
    create table if not exists projections (
      name text primary key,
      -- The projection code version the active tables were built by.
      version int not null,
      -- The suffix of the active tables: 'v1' names users_v1; a rebuild of the same version gets 'v1_2'.
      tag text not null,
      tables text[] not null,
      -- Counts builds, so every fresh build gets table names never used before.
      generation int not null default 1,
      activated_at timestamptz not null default now(),
      -- A rebuild in progress (or interrupted): its own tables and its own checkpoint, beside the live ones.
      building_version int,
      building_tag text,
      building_tables text[],
      building_position text,
      building_started_at timestamptz
    );
  `,
};
