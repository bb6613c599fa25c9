import type { Migration } from './types';

export const migration: Migration = {
  version: 3,
  name: 'idempotency',
  sql: `
    create table if not exists idempotency_keys (
      scope text not null,
      key text not null,
      -- Keyed HMAC of method, path and canonical body: a login body holds a password, so a bare hash
      -- would be a fast offline guessing oracle at rest.
      request_hash text not null,
      status text not null check (status in ('running', 'done')),
      response_status int,
      response_headers jsonb,
      -- Null on a done row means the answer was deliberately not kept (it carried credentials).
      response_body text,
      created_at timestamptz not null,
      primary key (scope, key)
    );
    create index if not exists idempotency_keys_created_at on idempotency_keys (created_at);
  `,
};
