import { canonicalEmail } from '../../application/canonical-email';
import type { SqlExecutor } from '../../application/sql';
import { table } from '../runtime/projection';
import { readActive } from '../runtime/registry';
import { userDirectory } from './projection';
import { USERS, type UserRow } from './schema';

export type UserListFilter = {
  /** Matched exactly, after `canonicalEmail`: the admin types an address as a user would. */
  email?: string;
  status?: UserRow['status'];
  limit: number;
  cursor?: UserCursor;
};

/** Keyset position in the list's order (created_at, id): stable while rows are added. */
export type UserCursor = { createdAt: Date; id: string };

export type UserPage = { users: UserRow[]; nextCursor: UserCursor | null };

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** The opaque `next_cursor` string: base64url of `<created_at ISO>|<id>`. */
export const encodeUserCursor = (cursor: UserCursor): string =>
  Buffer.from(`${cursor.createdAt.toISOString()}|${cursor.id}`, 'utf8').toString('base64url');

/** Null for anything that is not a cursor this service made. */
export const decodeUserCursor = (value: string): UserCursor | null => {
  if (!/^[A-Za-z0-9_-]{1,200}$/.test(value)) return null;
  const [time, id, ...rest] = Buffer.from(value, 'base64url').toString('utf8').split('|');
  if (rest.length > 0 || time === undefined || id === undefined || !UUID.test(id)) return null;
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/.test(time)) return null;
  const createdAt = new Date(time);
  return Number.isNaN(createdAt.getTime()) ? null : { createdAt, id };
};

type DbRow = Omit<UserRow, 'revision' | 'failed_logins'> & {
  revision: string;
  failed_logins: number | string;
};

const toRow = (r: DbRow): UserRow => ({
  ...r,
  failed_logins: Number(r.failed_logins),
  revision: Number(r.revision),
});

const COLUMNS = `id::text, email, username, status, roles, email_verified, failed_logins, locked_until,
  created_at, updated_at, revision`;

/**
 * The admin list, from the read model: it lags the events by the projection's delay (read-your-writes:
 * wait with `waitForProjection` first). An email that is not an address matches nothing.
 */
export const listUsers = async (sql: SqlExecutor, filter: UserListFilter): Promise<UserPage> => {
  const empty: UserPage = { users: [], nextCursor: null };
  let email: string | undefined;
  if (filter.email !== undefined) {
    const canonical = canonicalEmail(filter.email);
    if (canonical === null) return empty;
    email = canonical;
  }
  return readActive(
    sql,
    userDirectory,
    async (tables) => {
      const params: unknown[] = [];
      const where: string[] = [];
      const param = (v: unknown) => (params.push(v), `$${params.length}`);
      if (email !== undefined) where.push(`email = ${param(email)}`);
      if (filter.status !== undefined) where.push(`status = ${param(filter.status)}`);
      if (filter.cursor) {
        where.push(
          `(created_at, id) > (${param(filter.cursor.createdAt)}::timestamptz, ${param(filter.cursor.id)}::uuid)`,
        );
      }
      const r = await sql.query<DbRow>(
        `select ${COLUMNS} from ${table(tables, USERS)}
         ${where.length ? `where ${where.join(' and ')}` : ''}
         order by created_at, id limit ${param(filter.limit + 1)}`,
        params,
      );
      const rows = r.rows.map(toRow);
      const page = rows.slice(0, filter.limit);
      const last = page[page.length - 1];
      return {
        users: page,
        nextCursor: rows.length > filter.limit && last ? { createdAt: last.created_at, id: last.id } : null,
      };
    },
    empty,
  );
};

export const findUserRow = async (sql: SqlExecutor, id: string): Promise<UserRow | null> => {
  if (!UUID.test(id)) return null;
  return readActive(
    sql,
    userDirectory,
    async (tables) => {
      const r = await sql.query<DbRow>(`select ${COLUMNS} from ${table(tables, USERS)} where id = $1`, [id]);
      return r.rows[0] ? toRow(r.rows[0]) : null;
    },
    null,
  );
};

/** Ids of the rows that hold `admin` and are active: candidates, to be checked on the write side. */
export const listAdminIds = async (sql: SqlExecutor): Promise<string[]> =>
  readActive(
    sql,
    userDirectory,
    async (tables) =>
      (
        await sql.query<{ id: string }>(
          `select id::text as id from ${table(tables, USERS)} where 'admin' = any(roles) and status = 'active'`,
        )
      ).rows.map((r) => r.id),
    [],
  );
