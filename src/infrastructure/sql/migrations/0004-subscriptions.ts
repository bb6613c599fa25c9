import type { Migration } from './types';

export const migration: Migration = {
  version: 4,
  name: 'subscriptions',
  sql: `
    create table if not exists subscription_checkpoints (
      name text primary key,
      -- An opaque event-store position (see application/event-store.ts); null = from the beginning.
      position text,
      updated_at timestamptz not null default now()
    );
  `,
};
