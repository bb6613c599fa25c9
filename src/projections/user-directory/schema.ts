import type { SqlExecutor } from '../../application/sql';
import { table, type Tables } from '../runtime/projection';

/**
 * One row per account, for the admin's lookups (GET /v1/admin/users). The email is kept in plaintext,
 * canonical form, so an admin can find an account by its exact address: the contract's "search by email"
 * cannot be served from sealed values, and a keyed hash would not let the list show the address. This is
 * the one place outside the event store where personal data rests, and it follows erasure: UserErased
 * blanks the row's personal data, and a rebuild cannot bring it back because the user's key is gone
 * (opening then yields null). Never in this table: password hashes, token hashes, nonces.
 */
export type UserRow = {
  id: string;
  email: string | null;
  username: string | null;
  status: 'pending_verification' | 'active' | 'deactivated' | 'erased';
  roles: string[];
  email_verified: boolean;
  /** Consecutive wrong passwords since the last proven one (what the next lock counts toward). */
  failed_logins: number;
  locked_until: Date | null;
  created_at: Date;
  updated_at: Date;
  /** The `user-` stream revision folded in: the idempotency guard. */
  revision: number;
};

export const USERS = 'users';

export const createUserDirectory = async (tx: SqlExecutor, tables: Tables): Promise<void> => {
  const t = table(tables, USERS);
  await tx.query(`
    create table if not exists ${t} (
      id uuid primary key,
      email text,
      username text,
      status text not null,
      roles text[] not null default '{}',
      email_verified boolean not null default false,
      failed_logins int not null default 0,
      locked_until timestamptz,
      created_at timestamptz not null,
      updated_at timestamptz not null,
      revision bigint not null
    );
    create index if not exists ${t}_email on ${t} (email) where email is not null;
    create index if not exists ${t}_created on ${t} (created_at, id);
    create index if not exists ${t}_status_created on ${t} (status, created_at, id);
  `);
};
