import { canonicalEmail } from '../../application/canonical-email';
import type { RecordedEvent } from '../../application/event-store';
import type { SqlExecutor } from '../../application/sql';
import { USER_STREAM_PREFIX, type UserEvent } from '../../domain/user';
import {
  occurredAt,
  table,
  type ApplyContext,
  type PersonalDataReader,
  type Projection,
} from '../runtime/projection';
import { createUserDirectory, USERS } from './schema';

/** A row as folded in memory: timestamps as ISO strings, so they go to SQL exactly as the events hold them. */
type Row = {
  id: string;
  email: string | null;
  username: string | null;
  status: string;
  roles: string[];
  email_verified: boolean;
  failed_logins: number;
  locked_until: string | null;
  created_at: string;
  updated_at: string;
  revision: number;
};

const VISIBLE: (keyof Row)[] = [
  'email',
  'username',
  'status',
  'roles',
  'email_verified',
  'failed_logins',
  'locked_until',
];

const userIdOf = (event: RecordedEvent): string => event.streamId.slice(USER_STREAM_PREFIX.length);

const iso = (value: string): string => new Date(value).toISOString();

const open = async (
  personalData: PersonalDataReader,
  userId: string,
  sealed: string | null | undefined,
): Promise<string | null> => (typeof sealed === 'string' ? await personalData.open(userId, sealed) : null);

/**
 * One event folded into a row (null: no row yet). Mirrors the user decider's `evolve` for the columns
 * kept here; an event that does not fit (no registration seen, an erased account) leaves the row as is.
 */
const evolve = async (
  row: Row | null,
  recorded: RecordedEvent,
  personalData: PersonalDataReader,
): Promise<Row | null> => {
  const event = { type: recorded.type, data: recorded.data } as UserEvent;
  const userId = userIdOf(recorded);
  if (row === null) {
    if (event.type !== 'UserRegistered') return null;
    const email = await open(personalData, userId, event.data.email);
    const at = iso(event.data.registeredAt);
    return {
      id: userId,
      email: email === null ? null : (canonicalEmail(email) ?? email),
      username: await open(personalData, userId, event.data.username),
      status: 'pending_verification',
      roles: [],
      email_verified: false,
      failed_logins: 0,
      locked_until: null,
      created_at: at,
      updated_at: at,
      revision: recorded.revision,
    };
  }
  if (row.status === 'erased') return row;
  switch (event.type) {
    case 'PendingRegistrationReplaced':
      return { ...row, username: await open(personalData, userId, event.data.username) };
    case 'EmailVerified':
      return {
        ...row,
        status: row.status === 'pending_verification' ? 'active' : row.status,
        email_verified: true,
      };
    case 'LoginFailed':
      return { ...row, failed_logins: event.data.consecutiveFailures };
    case 'AccountLocked':
      return { ...row, locked_until: iso(event.data.until) };
    case 'LoginRefused':
      return event.data.reason === 'email_not_verified'
        ? { ...row, failed_logins: 0, locked_until: null }
        : row;
    case 'LoginSucceeded':
    case 'FailedLoginsCleared':
    case 'AccountUnlocked':
    case 'PasswordResetCompleted':
      return { ...row, failed_logins: 0, locked_until: null };
    case 'UserProfileUpdated':
      return { ...row, username: await open(personalData, userId, event.data.username) };
    case 'EmailChanged': {
      const email = await open(personalData, userId, event.data.email);
      return {
        ...row,
        email: email === null ? null : (canonicalEmail(email) ?? email),
        email_verified: true,
        status: row.status === 'pending_verification' ? 'active' : row.status,
      };
    }
    case 'UserDeactivated':
      return { ...row, status: 'deactivated' };
    case 'UserReactivated':
      return row.status === 'deactivated'
        ? { ...row, status: row.email_verified ? 'active' : 'pending_verification' }
        : row;
    case 'RoleGranted':
      return row.roles.includes(event.data.role) ? row : { ...row, roles: [...row.roles, event.data.role] };
    case 'RoleRevoked':
      return { ...row, roles: row.roles.filter((r) => r !== event.data.role) };
    case 'UserErased':
      // Crypto-shredding reaches the read model too: nothing personal stays, whatever a replay opens.
      return {
        ...row,
        status: 'erased',
        email: null,
        username: null,
        roles: [],
        failed_logins: 0,
        locked_until: null,
      };
    default:
      // Token requests, password changes, sessions cut-offs and unknown (newer) events: nothing shown here.
      return row;
  }
};

/** Values of a row's columns: scalars, null, or the roles array. Called per event on a rebuild: no JSON. */
const same = (x: unknown, y: unknown): boolean =>
  Array.isArray(x) && Array.isArray(y) ? x.length === y.length && x.every((v, i) => v === y[i]) : x === y;

const changed = (a: Row, b: Row): boolean => VISIBLE.some((k) => !same(a[k], b[k]));

/** Users whose events in the batch carry sealed values: their keys are fetched in one query. */
const SEALED_EVENTS = new Set(['UserRegistered', 'PendingRegistrationReplaced', 'UserProfileUpdated']);

const loadRows = async (tx: SqlExecutor, t: string, ids: string[]): Promise<Map<string, Row>> => {
  const r = await tx.query<
    Omit<Row, 'locked_until' | 'created_at' | 'updated_at' | 'revision'> & {
      locked_until: Date | null;
      created_at: Date;
      updated_at: Date;
      revision: string;
    }
  >(
    `select id::text, email, username, status, roles, email_verified, failed_logins, locked_until, created_at,
       updated_at, revision from ${t} where id = any($1::uuid[])`,
    [ids],
  );
  return new Map(
    r.rows.map((row) => [
      row.id,
      {
        ...row,
        locked_until: row.locked_until ? row.locked_until.toISOString() : null,
        created_at: row.created_at.toISOString(),
        updated_at: row.updated_at.toISOString(),
        revision: Number(row.revision),
      },
    ]),
  );
};

const apply = async (events: RecordedEvent[], tx: SqlExecutor, context: ApplyContext): Promise<void> => {
  const t = table(context.tables, USERS);
  const userEvents = events.filter((e) => e.streamId.startsWith(USER_STREAM_PREFIX));
  if (userEvents.length === 0) return;
  const ids = [...new Set(userEvents.map(userIdOf))];
  await context.personalData.preload(userEvents.filter((e) => SEALED_EVENTS.has(e.type)).map(userIdOf));
  const rows = await loadRows(tx, t, ids);
  const dirty = new Set<string>();
  for (const e of userEvents) {
    const id = userIdOf(e);
    const before = rows.get(id) ?? null;
    // The idempotency guard: an event this row has already folded in changes nothing.
    if (before !== null && e.revision <= before.revision) continue;
    const after = await evolve(before, e, context.personalData);
    if (after === null) continue;
    rows.set(id, {
      ...after,
      revision: e.revision,
      updated_at: before !== null && changed(before, after) ? occurredAt(e) : after.updated_at,
    });
    dirty.add(id);
  }
  if (dirty.size === 0) return;
  await tx.query(
    `insert into ${t} (id, email, username, status, roles, email_verified, failed_logins, locked_until,
       created_at, updated_at, revision)
     select id, email, username, status, roles, email_verified, failed_logins, locked_until, created_at,
       updated_at, revision
     from jsonb_to_recordset($1::jsonb) as r(id uuid, email text, username text, status text, roles text[],
       email_verified boolean, failed_logins int, locked_until timestamptz, created_at timestamptz,
       updated_at timestamptz, revision bigint)
     on conflict (id) do update set email = excluded.email, username = excluded.username,
       status = excluded.status, roles = excluded.roles, email_verified = excluded.email_verified,
       failed_logins = excluded.failed_logins, locked_until = excluded.locked_until,
       updated_at = excluded.updated_at, revision = excluded.revision
     where ${t}.revision < excluded.revision`,
    [JSON.stringify([...dirty].map((id) => rows.get(id)))],
  );
};

export const userDirectory: Projection = {
  name: 'user-directory',
  version: 1,
  filter: { streamPrefixes: [USER_STREAM_PREFIX] },
  tables: [USERS],
  create: createUserDirectory,
  apply,
  batchSize: 500,
};
