import type { Migration } from './types';

export const migration: Migration = {
  version: 2,
  name: 'keys',
  sql: `
    -- One AES-256 data key per user, wrapped under the master key's pii-wrap sub-key (docs/design.md).
    -- Erasure deletes the row: crypto-shredding of every sealed value of that user.
    create table if not exists pii_keys (
      user_id uuid primary key,
      wrapped_key bytea not null,
      created_at timestamptz not null default now()
    );

    -- ES256 access-token signing keys. kid is the RFC 7638 thumbprint; the private key is stored only
    -- wrapped under the signing-key-wrap sub-key. The newest unretired key signs; a retired key still
    -- verifies until the longest token it could have signed has expired.
    create table if not exists signing_keys (
      kid text primary key,
      private_key_wrapped bytea not null,
      public_jwk jsonb not null,
      created_at timestamptz not null default now(),
      retired_at timestamptz
    );
  `,
};
