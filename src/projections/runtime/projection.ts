import type { EventFilter, RecordedEvent } from '../../application/event-store';
import type { SqlExecutor } from '../../application/sql';

/**
 * A read model: events in, set-based SQL out (STYLE.md, "Projections"). The framework around it
 * (registry.ts, handler.ts, rebuild.ts) gives every build of a projection its own versioned tables
 * (`users_v1`, `users_v1_2`, ...), so a rebuild always fills fresh tables beside the live ones and switches
 * over in one transaction.
 *
 * Rules for `apply`:
 * - Idempotent per event: every row carries the stream revision it has folded in, and an event at or below
 *   it changes nothing. The runner delivers at least once, and a rebuild's switch can hand the live runner
 *   events the fresh tables already hold.
 * - The result does not depend on how events are cut into batches: the live runner applies one event at a
 *   time, a rebuild a page at a time, and both must end in the same rows ("a rebuild equals the live model").
 * - Never throws on a recorded fact: an event that does not fit (an unknown user, a repeat) changes nothing.
 *   What does throw (a failing statement, a key that cannot be unwrapped) rolls the batch back; the runner
 *   records it in its status and retries with a capped backoff, and /health/ready names the projection.
 * - Rows are written from the event's data and metadata only (never the clock), so a rebuild reproduces
 *   them exactly.
 */
export type Projection = {
  name: string;
  /** Bump when the tables or what `apply` writes change: the next rebuild builds the new version. */
  version: number;
  filter: EventFilter;
  /** Base names of the tables one build owns; a build's table is `<base>_<tag>`. */
  tables: readonly string[];
  /** Creates one build's tables (and indexes) if they do not exist. */
  create(tx: SqlExecutor, tables: Tables): Promise<void>;
  apply(events: RecordedEvent[], tx: SqlExecutor, context: ApplyContext): Promise<void>;
  batchSize?: number;
};

/** Base table name -> the table of the build being written or read. */
export type Tables = Readonly<Record<string, string>>;

export type ApplyContext = {
  tables: Tables;
  personalData: PersonalDataReader;
};

/**
 * Opens sealed personal data while projecting (docs/design.md, "Personal data"). Works on the projection's
 * transaction, so it never needs a second connection (the embedded store has only one).
 */
export type PersonalDataReader = {
  /** Loads these users' keys in one round trip; `open` for a user not preloaded looks the key up alone. */
  preload(userIds: Iterable<string>): Promise<void>;
  /** The plaintext, or null once the user's key is gone (erased): the read model then keeps nothing. */
  open(userId: string, sealed: string): Promise<string | null>;
};

export type PersonalDataReaders = (tx: SqlExecutor) => PersonalDataReader;

/** The subscription runner's name (and checkpoint row) of a projection's live side. */
export const runnerName = (projectionName: string): string => `projection:${projectionName}`;

const IDENTIFIER = /^[a-z][a-z0-9_]{0,62}$/;

/**
 * Table names are built from constants and counters, never from input; checked anyway, because they are
 * spliced into SQL text (identifiers cannot be bound parameters).
 */
export const tableName = (base: string, tag: string): string => {
  const name = `${base}_${tag}`;
  if (!IDENTIFIER.test(name)) throw new Error(`not a safe table name: ${name}`);
  return name;
};

export const tablesOf = (projection: Pick<Projection, 'tables'>, tag: string): Tables =>
  Object.fromEntries(projection.tables.map((base) => [base, tableName(base, tag)]));

/** The table of `base` in a build; throws for a base the projection does not declare (a code defect). */
export const table = (tables: Tables, base: string): string => {
  const name = tables[base];
  if (!name) throw new Error(`no table ${base} in this build`);
  return name;
};

/** The tag of a build: `v1` for a version's first, `v1_<generation>` for later ones. */
export const buildTag = (version: number, generation: number, firstOfVersion: boolean): string =>
  firstOfVersion ? `v${version}` : `v${version}_${generation}`;

/**
 * When the event happened: the decision time the command recorded (metadata `occurred_at`), else the
 * store's time. Read-model timestamps use it so a rebuild writes the same values as the live run did.
 */
export const occurredAt = (event: RecordedEvent): string => {
  const value = event.metadata.occurred_at;
  if (typeof value === 'string') {
    const time = Date.parse(value);
    if (!Number.isNaN(time)) return new Date(time).toISOString();
  }
  return event.createdAt.toISOString();
};

/**
 * A failed batch, named precisely enough to find the event: once the runner retries one event at a time,
 * the message points at the poison event itself. It goes to the runner's status and the logs, never to
 * an HTTP client (/health/ready only names the projection).
 */
export class ProjectionApplyError extends Error {
  readonly code = 'projection-apply-failed';
  constructor(
    readonly projection: string,
    readonly events: readonly Pick<RecordedEvent, 'position' | 'type' | 'streamId' | 'revision'>[],
    cause: unknown,
  ) {
    const first = events[0];
    const last = events[events.length - 1];
    const where =
      events.length === 1 && first
        ? `event ${first.position} (${first.type}, ${first.streamId}@${first.revision})`
        : `${events.length} events ${first?.position ?? '?'}..${last?.position ?? '?'}`;
    const reason = cause instanceof Error ? `${cause.name}: ${cause.message}` : String(cause);
    super(`${projection}: applying ${where} failed: ${reason}`, { cause });
    this.name = 'ProjectionApplyError';
  }
}

/** The tables were built by another version of the code than the one running. */
export class ProjectionVersionError extends Error {
  readonly code = 'projection-version-mismatch';
  constructor(
    readonly projection: string,
    readonly activeVersion: number,
    readonly codeVersion: number,
  ) {
    super(
      activeVersion < codeVersion
        ? `${projection}: the active tables are version ${activeVersion}, this code writes version ` +
            `${codeVersion}: run \`identity projections rebuild ${projection}\``
        : `${projection}: the active tables are version ${activeVersion}, newer than this code ` +
            `(${codeVersion}); this instance leaves them to the newer one`,
    );
    this.name = 'ProjectionVersionError';
  }
}

const SAVEPOINT = 'projection_apply';

/**
 * Applies a batch. When a batch of several events fails, it is undone to a savepoint and applied again one
 * event at a time in the same transaction (the same result, by the batching rule above): a failure that
 * was the batch's (a statement too large, say) then passes, and a poison event fails alone and is named in
 * the ProjectionApplyError, so the runner's status says which event holds the projection back.
 *
 * `isolate: false` leaves that to the caller: the live runner already retries a failed batch one event at a
 * time in fresh transactions, so its batches skip the two savepoint statements.
 */
export const applyBatch = async (
  projection: Projection,
  events: RecordedEvent[],
  tx: SqlExecutor,
  context: ApplyContext,
  options: { isolate?: boolean } = {},
): Promise<void> => {
  if (events.length === 0) return;
  if (options.isolate === false) {
    try {
      await projection.apply(events, tx, context);
      return;
    } catch (e) {
      throw events.length === 1 ? new ProjectionApplyError(projection.name, events, e) : e;
    }
  }
  const applyInSavepoint = async (batch: RecordedEvent[]) => {
    await tx.query(`savepoint ${SAVEPOINT}`);
    try {
      await projection.apply(batch, tx, context);
    } catch (e) {
      await tx.query(`rollback to savepoint ${SAVEPOINT}`);
      throw e;
    }
    await tx.query(`release savepoint ${SAVEPOINT}`);
  };
  if (events.length === 1) {
    try {
      await projection.apply(events, tx, context);
      return;
    } catch (e) {
      throw new ProjectionApplyError(projection.name, events, e);
    }
  }
  try {
    await applyInSavepoint(events);
    return;
  } catch {
    // Isolated below; the batch's own error says less than the single event's will.
  }
  for (const event of events) {
    try {
      await applyInSavepoint([event]);
    } catch (e) {
      throw new ProjectionApplyError(projection.name, [event], e);
    }
  }
};
