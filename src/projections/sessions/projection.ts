import type { RecordedEvent } from '../../application/event-store';
import type { SqlExecutor } from '../../application/sql';
import { SESSION_STREAM_PREFIX, type SessionEvent } from '../../domain/session';
import { USER_STREAM_PREFIX, type CutOffReason, type UserEvent } from '../../domain/user';
import { occurredAt, table, type ApplyContext, type Projection } from '../runtime/projection';
import { createSessionTables, SESSION_CUTOFFS, SESSIONS } from './schema';

type SessionRow = {
  id: string;
  user_id: string;
  created_at: string;
  last_used_at: string;
  user_agent: string | null;
  ended: boolean;
  ended_at: string | null;
  end_reason: string | null;
  started_at_user_revision: number;
  idle_expires_at: string | null;
  absolute_expires_at: string;
  revision: number;
};

type CutOff = {
  user_id: string;
  revision: number;
  survivor_session_id: string | null;
  reason: string;
  at: string;
  erased: boolean;
};

const iso = (value: string): string => new Date(value).toISOString();
const isoOrNull = (value: Date | null): string | null => (value ? value.toISOString() : null);

type CutOffFacts = { reason: CutOffReason; survivor: string | null; erased: boolean };

/**
 * The user events that end every session started before them (docs/design.md, "Sessions"), and how. The
 * one list: the projection's filter is built from it, so a cut-off added here is also read.
 */
const CUT_OFFS: {
  [T in UserEvent['type']]?: (data: Extract<UserEvent, { type: T }>['data']) => CutOffFacts;
} = {
  PendingRegistrationReplaced: () => ({ reason: 'registration_replaced', survivor: null, erased: false }),
  PasswordChanged: (d) => ({ reason: 'password_changed', survivor: d.keepSessionId ?? null, erased: false }),
  PasswordResetCompleted: () => ({ reason: 'password_reset', survivor: null, erased: false }),
  UserDeactivated: () => ({ reason: 'deactivated', survivor: null, erased: false }),
  AllSessionsEnded: (d) => ({ reason: d.reason, survivor: null, erased: false }),
  UserErased: () => ({ reason: 'erased', survivor: null, erased: true }),
};

const cutOffOf = (recorded: RecordedEvent): CutOffFacts | null => {
  const facts = CUT_OFFS[recorded.type as UserEvent['type']] as ((data: unknown) => CutOffFacts) | undefined;
  return facts ? facts(recorded.data) : null;
};

/** Whether a cut-off ends this session: the same rule as the user decider's `isSessionAlive`. */
const endsSession = (cut: CutOff, row: SessionRow): boolean =>
  !row.ended && row.started_at_user_revision < cut.revision && row.id !== cut.survivor_session_id;

const endBy = (row: SessionRow, cut: CutOff): SessionRow => ({
  ...row,
  ...(endsSession(cut, row) ? { ended: true, ended_at: cut.at, end_reason: cut.reason } : {}),
  ...(cut.erased ? { user_agent: null } : {}),
});

const evolveSession = async (
  row: SessionRow | null,
  recorded: RecordedEvent,
  context: ApplyContext,
  cutOffs: Map<string, CutOff>,
): Promise<SessionRow | null> => {
  const event = { type: recorded.type, data: recorded.data } as SessionEvent;
  if (row === null) {
    if (event.type !== 'SessionStarted') return null;
    const d = event.data;
    const started: SessionRow = {
      id: d.sessionId,
      user_id: d.userId,
      created_at: iso(d.startedAt),
      last_used_at: iso(d.startedAt),
      user_agent:
        typeof d.userAgent === 'string' ? await context.personalData.open(d.userId, d.userAgent) : null,
      ended: false,
      ended_at: null,
      end_reason: null,
      started_at_user_revision: d.startedAtUserRevision,
      idle_expires_at: d.idleExpiresAt !== undefined ? iso(d.idleExpiresAt) : null,
      absolute_expires_at: iso(d.absoluteExpiresAt),
      revision: recorded.revision,
    };
    // A login that decided before a cut-off may be projected after it: the cut-off still ends it.
    const cut = cutOffs.get(d.userId);
    return cut ? endBy(started, cut) : started;
  }
  if (row.ended) return row;
  switch (event.type) {
    case 'RefreshTokenRotated':
      return {
        ...row,
        last_used_at: iso(event.data.at),
        idle_expires_at:
          event.data.idleExpiresAt !== undefined ? iso(event.data.idleExpiresAt) : row.idle_expires_at,
      };
    case 'RefreshTokenReuseTolerated':
      return { ...row, last_used_at: iso(event.data.at) };
    case 'SessionEnded':
      return { ...row, ended: true, ended_at: iso(event.data.at), end_reason: event.data.reason };
    default:
      return row;
  }
};

type StoredSession = Omit<
  SessionRow,
  'created_at' | 'last_used_at' | 'ended_at' | 'idle_expires_at' | 'absolute_expires_at'
> & {
  created_at: Date;
  last_used_at: Date;
  ended_at: Date | null;
  idle_expires_at: Date | null;
  absolute_expires_at: Date;
};

type StoredCutOff = Omit<CutOff, 'at'> & { at: Date };

const toSessionRow = (row: StoredSession): SessionRow => ({
  ...row,
  created_at: row.created_at.toISOString(),
  last_used_at: row.last_used_at.toISOString(),
  ended_at: isoOrNull(row.ended_at),
  idle_expires_at: isoOrNull(row.idle_expires_at),
  absolute_expires_at: row.absolute_expires_at.toISOString(),
  started_at_user_revision: Number(row.started_at_user_revision),
  revision: Number(row.revision),
});

/**
 * The batch's sessions and its users' cut-offs, in ONE statement: a live batch is often a single login,
 * and every round trip to the server is CPU taken from password hashing on a small machine.
 */
const loadState = async (
  tx: SqlExecutor,
  s: string,
  c: string,
  sessionIds: string[],
  userIds: string[],
): Promise<{ sessions: Map<string, SessionRow>; cutOffs: Map<string, CutOff> }> => {
  const r = await tx.query<
    ({ kind: 'session' } & StoredSession) | ({ kind: 'cut-off' } & StoredCutOff & { user_id: string })
  >(
    `select 'session' as kind, id::text, user_id::text, created_at, last_used_at, user_agent, ended, ended_at,
       end_reason, started_at_user_revision, idle_expires_at, absolute_expires_at, revision,
       null::text as survivor_session_id, null::text as reason, null::timestamptz as at, null::boolean as erased
     from ${s} where id = any($1::uuid[])
     union all
     select 'cut-off', null, user_id::text, null, null, null, null, null, null, null, null, null, revision,
       survivor_session_id::text, reason, at, erased
     from ${c} where user_id = any($2::uuid[])`,
    [sessionIds, userIds],
  );
  const sessions = new Map<string, SessionRow>();
  const cutOffs = new Map<string, CutOff>();
  for (const row of r.rows) {
    if (row.kind === 'session') {
      sessions.set(row.id, toSessionRow(row));
    } else {
      cutOffs.set(row.user_id, {
        user_id: row.user_id,
        revision: Number(row.revision),
        survivor_session_id: row.survivor_session_id,
        reason: row.reason,
        at: row.at.toISOString(),
        erased: row.erased,
      });
    }
  }
  return { sessions, cutOffs };
};

const apply = async (events: RecordedEvent[], tx: SqlExecutor, context: ApplyContext): Promise<void> => {
  const s = table(context.tables, SESSIONS);
  const c = table(context.tables, SESSION_CUTOFFS);
  const sessionEvents = events.filter((e) => e.streamId.startsWith(SESSION_STREAM_PREFIX));
  const cutOffEvents = events.filter((e) => e.streamId.startsWith(USER_STREAM_PREFIX) && cutOffOf(e));
  if (sessionEvents.length === 0 && cutOffEvents.length === 0) return;

  const starts = sessionEvents.flatMap((e) =>
    e.type === 'SessionStarted' ? [(e.data as { userId: string }).userId] : [],
  );
  const userIds = [
    ...new Set([...starts, ...cutOffEvents.map((e) => e.streamId.slice(USER_STREAM_PREFIX.length))]),
  ];
  await context.personalData.preload(starts);
  const sessionIds = [...new Set(sessionEvents.map((e) => e.streamId.slice(SESSION_STREAM_PREFIX.length)))];

  const { sessions, cutOffs } = await loadState(tx, s, c, sessionIds, userIds);

  const dirtySessions = new Set<string>();
  const dirtyCutOffs = new Set<string>();
  // Cut-offs also reach sessions this batch did not load: one UPDATE each, in event order.
  const storedCutOffs: CutOff[] = [];
  for (const e of events) {
    if (e.streamId.startsWith(SESSION_STREAM_PREFIX)) {
      const id = e.streamId.slice(SESSION_STREAM_PREFIX.length);
      const before = sessions.get(id) ?? null;
      if (before !== null && e.revision <= before.revision) continue;
      const after = await evolveSession(before, e, context, cutOffs);
      if (after === null) continue;
      sessions.set(id, { ...after, revision: e.revision });
      dirtySessions.add(id);
      continue;
    }
    const cut = e.streamId.startsWith(USER_STREAM_PREFIX) ? cutOffOf(e) : null;
    if (!cut) continue;
    const userId = e.streamId.slice(USER_STREAM_PREFIX.length);
    const previous = cutOffs.get(userId);
    if (previous && e.revision <= previous.revision) continue;
    const next: CutOff = {
      user_id: userId,
      revision: e.revision,
      survivor_session_id: cut.survivor,
      reason: cut.reason,
      at: occurredAt(e),
      erased: (previous?.erased ?? false) || cut.erased,
    };
    cutOffs.set(userId, next);
    dirtyCutOffs.add(userId);
    storedCutOffs.push(next);
    for (const row of sessions.values()) {
      if (row.user_id !== userId) continue;
      sessions.set(row.id, endBy(row, next));
      dirtySessions.add(row.id);
    }
  }

  const inMemory = [...sessions.keys()];
  for (const cut of storedCutOffs) {
    await tx.query(
      `update ${s} set
         ended = ended or (started_at_user_revision < $2 and id is distinct from $3::uuid),
         ended_at = case when not ended and started_at_user_revision < $2 and id is distinct from $3::uuid
                    then $4::timestamptz else ended_at end,
         end_reason = case when not ended and started_at_user_revision < $2 and id is distinct from $3::uuid
                      then $5 else end_reason end,
         user_agent = case when $6 then null else user_agent end
       where user_id = $1 and not (id = any($7::uuid[]))`,
      [cut.user_id, cut.revision, cut.survivor_session_id, cut.at, cut.reason, cut.erased, inMemory],
    );
  }
  if (dirtySessions.size > 0) {
    // `<=`: a cut-off changes a loaded row without moving its session revision.
    await tx.query(
      `insert into ${s} (id, user_id, created_at, last_used_at, user_agent, ended, ended_at, end_reason,
         started_at_user_revision, idle_expires_at, absolute_expires_at, revision)
       select * from jsonb_to_recordset($1::jsonb) as r(id uuid, user_id uuid, created_at timestamptz,
         last_used_at timestamptz, user_agent text, ended boolean, ended_at timestamptz, end_reason text,
         started_at_user_revision bigint, idle_expires_at timestamptz, absolute_expires_at timestamptz,
         revision bigint)
       on conflict (id) do update set last_used_at = excluded.last_used_at, user_agent = excluded.user_agent,
         ended = excluded.ended, ended_at = excluded.ended_at, end_reason = excluded.end_reason,
         idle_expires_at = excluded.idle_expires_at, revision = excluded.revision
       where ${s}.revision <= excluded.revision`,
      [JSON.stringify([...dirtySessions].map((id) => sessions.get(id)))],
    );
  }
  if (dirtyCutOffs.size > 0) {
    await tx.query(
      `insert into ${c} (user_id, revision, survivor_session_id, reason, at, erased)
       select * from jsonb_to_recordset($1::jsonb) as r(user_id uuid, revision bigint,
         survivor_session_id uuid, reason text, at timestamptz, erased boolean)
       on conflict (user_id) do update set revision = excluded.revision,
         survivor_session_id = excluded.survivor_session_id, reason = excluded.reason, at = excluded.at,
         erased = excluded.erased
       where ${c}.revision < excluded.revision`,
      [JSON.stringify([...dirtyCutOffs].map((id) => cutOffs.get(id)))],
    );
  }
};

/**
 * Only the session events and the user events that cut sessions off: most of a user stream (login
 * failures, token requests) means nothing here, and leaving it unread keeps a rebuild fast.
 */
const WANTED_TYPES = ['Session', 'RefreshToken', ...Object.keys(CUT_OFFS)];

export const sessionsProjection: Projection = {
  name: 'sessions',
  version: 1,
  filter: { streamPrefixes: [SESSION_STREAM_PREFIX, USER_STREAM_PREFIX], eventTypePrefixes: WANTED_TYPES },
  tables: [SESSIONS, SESSION_CUTOFFS],
  create: createSessionTables,
  apply,
  batchSize: 500,
};
