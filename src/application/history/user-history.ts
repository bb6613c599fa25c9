import {
  StreamNotFoundError,
  isPosition,
  type EventStore,
  type Position,
  type RecordedEvent,
} from '../event-store';
import { asDomainEvent } from '../write/handle';
import { presentEvents, ERASED, type EventJson } from '../events/present';
import { SealedDataError, type PersonalDataVault } from '../ports';
import { isLocked, userDecider, userStreamId, type UserEvent, type UserState } from '../../domain/user';

/**
 * An account read from the WRITE side (its `user-` stream folded on the spot): what an admin looks at when
 * the answer must not lag, and the only place time travel is possible.
 */

export type HistoryDeps = { store: EventStore; vault: Pick<PersonalDataVault, 'open'> };

/** `?as_of=`: an RFC 3339 time, or a position as event JSON gives it (compared as strings, see event-store.ts). */
export type AsOf = { time: Date } | { position: Position };

const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$/;

export const parseAsOf = (value: string): AsOf | null => {
  if (isPosition(value)) return { position: value };
  if (!RFC3339.test(value)) return null;
  const time = new Date(value);
  return Number.isNaN(time.getTime()) ? null : { time };
};

/** When the event happened: the decision time in its metadata, else when the store recorded it. */
export const eventTime = (event: RecordedEvent): Date => {
  const value = event.metadata.occurred_at;
  const time = typeof value === 'string' ? new Date(value) : null;
  return time && !Number.isNaN(time.getTime()) ? time : event.createdAt;
};

export type UserView = {
  id: string;
  email: string | null;
  username: string | null;
  status: 'pending_verification' | 'active' | 'deactivated' | 'erased';
  roles: string[];
  email_verified: boolean;
  /** Locked at `as_of` (or now): every login answers invalid-credentials until `locked_until`. */
  locked: boolean;
  locked_until: string | null;
  failed_logins: number;
  created_at: string;
  updated_at: string;
  erased_at: string | null;
  /** The stream revision and the position of the last event folded in. */
  revision: number;
  position: string;
};

const readUserStream = async (store: EventStore, userId: string): Promise<RecordedEvent[] | null> => {
  try {
    return await store.readStream(userStreamId(userId));
  } catch (e) {
    if (e instanceof StreamNotFoundError) return null;
    throw e;
  }
};

const openPersonal = async (
  vault: HistoryDeps['vault'],
  userId: string,
  sealed: string | null,
): Promise<string | null> => {
  if (sealed === null) return null;
  try {
    return (await vault.open(userId, sealed)) ?? ERASED;
  } catch (e) {
    if (e instanceof SealedDataError) return '[unreadable]';
    throw e;
  }
};

/**
 * The account as it stood after the last event at or before `asOf` (the whole stream without it), or
 * null when it did not exist then. Events are taken in stream order up to the first one past the point,
 * so the answer is a state the account really had. Personal data is opened with today's key: an account
 * erased since reads `[erased]` also in the past.
 */
export const loadUserView = async (
  deps: HistoryDeps,
  userId: string,
  options: { asOf?: AsOf; now: Date },
): Promise<UserView | null> => {
  const recorded = await readUserStream(deps.store, userId);
  if (!recorded) return null;
  const { asOf } = options;
  const included: RecordedEvent[] = [];
  for (const e of recorded) {
    if (asOf && 'position' in asOf && e.position > asOf.position) break;
    if (asOf && 'time' in asOf && eventTime(e).getTime() > asOf.time.getTime()) break;
    included.push(e);
  }
  const last = included[included.length - 1];
  const first = included[0];
  if (!last || !first) return null;
  const state: UserState = included.reduce(
    (s, e) => userDecider.evolve(s, asDomainEvent<UserEvent>(e)),
    userDecider.initialState,
  );
  const base = {
    id: userId,
    created_at: eventTime(first).toISOString(),
    updated_at: eventTime(last).toISOString(),
    revision: last.revision,
    position: last.position,
  };
  const at = asOf && 'time' in asOf ? asOf.time : options.now;
  switch (state.status) {
    case 'initial':
      return null;
    case 'erased':
      return {
        ...base,
        email: null,
        username: null,
        status: 'erased',
        roles: [],
        email_verified: false,
        locked: false,
        locked_until: null,
        failed_logins: 0,
        erased_at: state.erasedAt.toISOString(),
      };
    default:
      return {
        ...base,
        email: await openPersonal(deps.vault, userId, state.email),
        username: await openPersonal(deps.vault, userId, state.username),
        status: state.status,
        roles: [...state.roles],
        email_verified: state.emailVerified,
        locked: isLocked(state.lockout, at),
        locked_until: state.lockout.lockedUntil?.toISOString() ?? null,
        failed_logins: state.lockout.consecutiveFailures,
        created_at: state.registeredAt.toISOString(),
        erased_at: null,
      };
  }
};

/** The events page's opaque cursor: the stream revision to continue from. */
export const encodeRevisionCursor = (revision: number): string =>
  Buffer.from(`r${revision}`, 'utf8').toString('base64url');

export const decodeRevisionCursor = (cursor: string): number | null => {
  if (!/^[A-Za-z0-9_-]{1,40}$/.test(cursor)) return null;
  const m = /^r(\d{1,15})$/.exec(Buffer.from(cursor, 'base64url').toString('utf8'));
  return m ? Number(m[1]) : null;
};

export type HistoryPage = { events: EventJson[]; nextCursor: string | null };

/**
 * One page of the account's history in stream order, personal data opened (`[erased]` after erasure),
 * secrets and hashes never shown (events/present.ts). Null when the account never existed.
 */
export const loadUserHistory = async (
  deps: HistoryDeps,
  userId: string,
  page: { fromRevision: number; limit: number },
): Promise<HistoryPage | null> => {
  let recorded: RecordedEvent[];
  try {
    recorded = await deps.store.readStream(userStreamId(userId), {
      fromRevision: page.fromRevision,
      maxCount: page.limit + 1,
    });
  } catch (e) {
    if (e instanceof StreamNotFoundError) return null;
    throw e;
  }
  const shown = recorded.slice(0, page.limit);
  const last = shown[shown.length - 1];
  return {
    events: await presentEvents(shown, { revealPersonalData: true, vault: deps.vault }),
    nextCursor: recorded.length > page.limit && last ? encodeRevisionCursor(last.revision + 1) : null,
  };
};
