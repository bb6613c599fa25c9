import type { Migration } from './types';

/**
 * The relay's failing and parked deliveries (src/consumers/relay/parking.ts). A target's position is its
 * row in `subscription_checkpoints` (`relay:<target>`); this table holds only deliveries that failed: the
 * first failure's time (so `max_age` counts across restarts), the attempts, and once parked the time, until
 * `identity relay replay <target>` delivers them. It names the event (stream and revision), never its data:
 * a replay reads the event from the store and presents it as the target would have received it.
 */
export const migration: Migration = {
  version: 40,
  name: 'relay',
  sql: `
    create table if not exists relay_deliveries (
      target text not null,
      event_id text not null,
      stream_id text not null,
      revision bigint not null,
      position text not null,
      event_type text not null,
      first_failed_at timestamptz not null default now(),
      attempts integer not null default 1,
      last_error text,
      parked_at timestamptz,
      replayed_at timestamptz,
      primary key (target, event_id)
    );
    create index if not exists relay_deliveries_parked
      on relay_deliveries (target, position)
      where parked_at is not null and replayed_at is null;
  `,
};
