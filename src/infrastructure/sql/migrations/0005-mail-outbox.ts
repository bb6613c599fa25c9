import type { Migration } from './types';

/**
 * The mail outbox (src/application/mail/mail-consumer.ts writes it, src/infrastructure/mail/outbox-sender.ts
 * drains it). One row per mail-worthy event, keyed by the event id, so a redelivered event inserts
 * nothing. A row names the user, the kind and the token id: never an address, never a token. The sender
 * opens the stored address and rebuilds the token when it sends, so an erased user's rows say nothing.
 */
export const migration: Migration = {
  version: 5,
  name: 'mail-outbox',
  sql: `
    create table if not exists mail_outbox (
      event_id text primary key,
      user_id uuid not null,
      kind text not null,
      -- The one-time token's id for verification and reset mails (docs/design.md, "One-time tokens").
      token_id uuid,
      token_expires_at timestamptz,
      occurred_at timestamptz not null,
      created_at timestamptz not null default now(),
      attempts integer not null default 0,
      next_attempt_at timestamptz not null default now(),
      -- A sender claims rows for a while; another instance skips them until the lease runs out.
      lease_id uuid,
      lease_until timestamptz,
      sent_at timestamptz,
      dropped_at timestamptz,
      drop_reason text,
      last_error text
    );
    create index if not exists mail_outbox_pending
      on mail_outbox (next_attempt_at)
      where sent_at is null and dropped_at is null;
  `,
};
