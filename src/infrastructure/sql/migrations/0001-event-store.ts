import type { Migration } from './types';

/**
 * The event store (see infrastructure/event-store/postgres-event-store.ts). Written for both PostgreSQL 15
 * and PGlite (PostgreSQL 18): nothing newer than PostgreSQL 13 is used.
 */
export const migration: Migration = {
  version: 1,
  name: 'event-store',
  sql: `
    create table streams (
      stream_id text primary key,
      -- The last revision written; -1 before the first event.
      revision bigint not null default -1,
      -- A soft delete hides every revision below this one: the stream reads as absent until it is written
      -- again, and the next event continues the revision count.
      visible_from bigint not null default 0,
      -- A hard delete: the stream can never be read or written again.
      tombstoned boolean not null default false,
      deleted_at timestamptz
    );

    create table events (
      global_position bigint generated always as identity primary key,
      -- The writing transaction. Readers of the global order only pass events whose transaction is older
      -- than every transaction still running, and order by (transaction_id, global_position): a plain
      -- position order skips the events of a transaction that commits after a later one (FACTS.md).
      transaction_id xid8 not null default pg_current_xact_id(),
      -- No foreign key to streams: append_events is the only writer and already holds the stream row lock.
      stream_id text not null,
      revision bigint not null,
      event_id uuid not null unique,
      type text not null,
      data jsonb not null,
      metadata jsonb not null default '{}'::jsonb,
      created_at timestamptz not null default now(),
      unique (stream_id, revision)
    );

    create index events_commit_order on events (transaction_id, global_position);

    -- kind: any | no_stream | stream_exists | revision; actual: null when the stream does not exist.
    -- Two arguments rather than one text, so no branch ever casts a kind name to a number.
    create function event_store_expectation_met(kind text, expected bigint, actual bigint)
    returns boolean language sql immutable as $$
      select case kind
        when 'any' then true
        when 'no_stream' then actual is null
        when 'stream_exists' then actual is not null
        when 'revision' then actual is not distinct from expected
        else false
      end
    $$;

    -- Appends p_events (a JSON array of {id, type, data, metadata}) in one statement after checking the
    -- expected revision under the stream's row lock, so of N concurrent appends with the same expectation
    -- exactly one wins. Outcomes are returned, not raised, so a caller's surrounding transaction survives.
    create function append_events(p_stream_id text, p_kind text, p_expected bigint, p_events jsonb)
    returns table (outcome text, current_revision bigint, commit_xact text, last_position bigint)
    language plpgsql as $$
    declare
      s streams%rowtype;
      v_actual bigint;
      v_count int := jsonb_array_length(p_events);
      v_last bigint;
    begin
      select * into s from streams where stream_id = p_stream_id for update;
      if not found then
        if not event_store_expectation_met(p_kind, p_expected, null) then
          return query select 'wrong_expected_version', null::bigint, null::text, null::bigint;
          return;
        end if;
        if v_count = 0 then
          return query select 'ok', -1::bigint, null::text, null::bigint;
          return;
        end if;
        -- A concurrent first append may insert the same row: wait for it, then check against its result.
        insert into streams (stream_id) values (p_stream_id) on conflict (stream_id) do nothing;
        select * into s from streams where stream_id = p_stream_id for update;
      end if;

      if s.tombstoned then
        return query select 'stream_deleted', null::bigint, null::text, null::bigint;
        return;
      end if;
      v_actual := case when s.revision >= s.visible_from then s.revision end;
      if not event_store_expectation_met(p_kind, p_expected, v_actual) then
        return query select 'wrong_expected_version', v_actual, null::text, null::bigint;
        return;
      end if;
      if v_count = 0 then
        return query select 'ok', coalesce(v_actual, -1), null::text, null::bigint;
        return;
      end if;

      with inserted as (
        insert into events (stream_id, revision, event_id, type, data, metadata)
        select p_stream_id, s.revision + e.ord, (e.value->>'id')::uuid, e.value->>'type',
               coalesce(e.value->'data', 'null'::jsonb), coalesce(e.value->'metadata', '{}'::jsonb)
        from jsonb_array_elements(p_events) with ordinality as e(value, ord)
        order by e.ord
        returning global_position
      )
      select max(global_position) into v_last from inserted;

      update streams set revision = s.revision + v_count where stream_id = p_stream_id;
      -- Delivered at commit; identical payloads within one transaction collapse into one wake-up.
      perform pg_notify('event_store', '');
      return query select 'ok', s.revision + v_count, pg_current_xact_id()::text, v_last;
    end
    $$;

    create function delete_stream(p_stream_id text, p_kind text, p_expected bigint, p_tombstone boolean)
    returns table (outcome text, current_revision bigint)
    language plpgsql as $$
    declare
      s streams%rowtype;
      v_found boolean;
      v_actual bigint;
    begin
      select * into s from streams where stream_id = p_stream_id for update;
      v_found := found;
      if v_found and s.tombstoned then
        return query select 'stream_deleted', null::bigint;
        return;
      end if;
      v_actual := case when v_found and s.revision >= s.visible_from then s.revision end;
      if not event_store_expectation_met(p_kind, p_expected, v_actual) then
        return query select 'wrong_expected_version', v_actual;
        return;
      end if;
      if p_tombstone then
        insert into streams (stream_id, tombstoned, deleted_at) values (p_stream_id, true, now())
        on conflict (stream_id) do update set tombstoned = true, deleted_at = now();
      elsif v_found then
        update streams set visible_from = s.revision + 1, deleted_at = now() where stream_id = p_stream_id;
      end if;
      return query select 'ok', v_actual;
    end
    $$;
  `,
};
