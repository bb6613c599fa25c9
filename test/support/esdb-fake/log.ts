/**
 * The fake's storage: one in-memory transaction log ($all) plus a per-stream index, with the server's rules
 * for expected revisions, idempotent re-appends, soft deletes and tombstones. No gRPC here; see service.ts.
 *
 * Sources (kurrent-io/KurrentDB, branch release/v24.10):
 * - src/EventStore.Core/Services/Storage/ReaderIndex/IndexWriter.cs `CheckCommit` (expected revisions and
 *   the idempotency branches), StorageWriterService.cs (`WriteDelete`, `ActOnCommitCheckFailure`,
 *   `SoftUndeleteStream`), RequestManager/Managers/RequestManagerBase.cs `ReturnCommitAt` and
 *   WriteEvents.cs (the position an append answers).
 * - src/EventStore.Core/Services/Storage/ReaderIndex/AllReader.cs `ReadAllEventsForwardInternal` (what a
 *   filtered page of $all considers, and its `NextPos`).
 *
 * Positions are byte offsets, as on the server: every record occupies its size in the log, so positions
 * are sparse (an event's successor is not at +1), and a gRPC-appended event sits at (P, P): its commit and
 * prepare position are the same (implicitly committed prepares). The log starts with a record that is not
 * an event (a server's first record is its epoch record), so no event sits at (0, 0).
 */

import { randomUUID } from 'node:crypto';

/** `EventNumber.DeletedStream` (long.MaxValue): a tombstone's revision, and `$tb` of a soft-deleted stream. */
export const DELETED_STREAM = 0x7fffffffffffffffn;

/** Where the first event goes: the bytes before it belong to records that are not events (the epoch). */
export const FIRST_EVENT_POSITION = 0x1f3n;

export type StoredEvent = {
  id: string;
  streamId: string;
  revision: bigint;
  /** Log position of the record: its commit and prepare position alike. */
  position: bigint;
  /** Where the next record starts (the record's post-position). */
  postPosition: bigint;
  type: string;
  contentType: string;
  data: Uint8Array;
  metadata: Uint8Array;
  /** .NET ticks (100 ns) since the Unix epoch, as the server sends `created`. */
  created: bigint;
};

export type ProposedEvent = Pick<StoredEvent, 'id' | 'type' | 'contentType' | 'data' | 'metadata'>;

export type Expected =
  | { kind: 'any' }
  | { kind: 'no_stream' }
  | { kind: 'stream_exists' }
  | { kind: 'revision'; revision: bigint };

/** -1n stands for "no stream", as in the server's `ExpectedVersion.NoStream`. */
export type CommitCheck =
  | { decision: 'ok'; current: bigint; softDeleted: boolean }
  /** Every proposed event is already in the stream: nothing is written, the answer is a success. */
  | { decision: 'idempotent'; current: bigint; first: bigint; last: bigint; position: bigint }
  | { decision: 'wrong-expected-version'; current: bigint }
  | { decision: 'deleted' };

export type AllPosition = { commit: bigint; prepare: bigint };
export type StreamFrom = 'start' | 'end' | bigint;
export type AllFrom = 'start' | 'end' | AllPosition;

export type StreamReadResult =
  { kind: 'events'; events: StoredEvent[] } | { kind: 'not-found' } | { kind: 'deleted' };

/** A filtered page of $all, as the server's storage reader answers `FilteredReadAllEventsForward`. */
export type AllPage = {
  events: StoredEvent[];
  /** The position the page was read from. */
  currentPos: AllPosition;
  /** Where the next page starts: (post-position of the last considered event, 0), or `currentPos`. */
  nextPos: AllPosition;
  consideredEvents: number;
  isEndOfStream: boolean;
};

type StreamState = { events: StoredEvent[]; tombstoned: boolean };

const utf8 = new TextEncoder();
const json = (text: string): Uint8Array => utf8.encode(text);
const nowTicks = (): bigint => BigInt(Date.now()) * 10_000n;

/** `$$name` is the metadata stream of `name` (server: SystemStreams.MetastreamOf). */
export const metastreamOf = (streamId: string): string => `$$${streamId}`;

/** Size of a prepare record: a header plus its strings and payloads (the server's record is close to it). */
const recordSize = (streamId: string, e: ProposedEvent): bigint =>
  BigInt(86 + utf8.encode(streamId).length + e.type.length * 2 + e.data.length + e.metadata.length);

export const comparePositions = (a: AllPosition, b: AllPosition): number =>
  a.commit < b.commit
    ? -1
    : a.commit > b.commit
      ? 1
      : a.prepare < b.prepare
        ? -1
        : a.prepare > b.prepare
          ? 1
          : 0;

export const positionOf = (e: StoredEvent): AllPosition => ({ commit: e.position, prepare: e.position });

export type LogListener = (e: StoredEvent) => void;

export class FakeLog {
  readonly all: StoredEvent[] = [];
  private readonly streams = new Map<string, StreamState>();
  private readonly byId = new Map<string, StoredEvent>();
  /** `$tb` per stream, kept numerically: JSON numbers cannot carry long.MaxValue exactly in JavaScript. */
  private readonly truncateBefore = new Map<string, bigint>();
  private nextPosition = FIRST_EVENT_POSITION;
  private readonly listeners = new Set<LogListener>();
  /** Called after every write with the events it wrote (the `$ce-` emulation hooks in here). */
  afterWrite?: (written: StoredEvent[]) => void;

  /** Every committed record, in order, as the server's subscription service publishes `EventCommitted`. */
  listen(listener: LogListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** The position of the last record: the subscription confirmation's `LastIndexedPosition`. */
  lastPosition(): AllPosition | undefined {
    const last = this.all[this.all.length - 1];
    return last && positionOf(last);
  }

  lastRevision(streamId: string): bigint {
    const s = this.streams.get(streamId);
    if (!s) return -1n;
    if (s.tombstoned) return DELETED_STREAM;
    return s.events.length === 0 ? -1n : s.events[s.events.length - 1]!.revision;
  }

  isTombstoned(streamId: string): boolean {
    return this.streams.get(streamId)?.tombstoned ?? false;
  }

  /** Server: IndexWriter.IsSoftDeleted — `$tb` equals EventNumber.DeletedStream. */
  isSoftDeleted(streamId: string): boolean {
    return this.truncateBefore.get(streamId) === DELETED_STREAM;
  }

  /**
   * IndexWriter.CheckCommit, idempotency included:
   * - `any` / `stream_exists`: when the first proposed id is already in this stream, every other one must be
   *   too (then: idempotent, nothing written), otherwise the write is a version conflict
   *   ("CorruptedIdempotency", which ActOnCommitCheckFailure answers as WrongExpectedVersion). A first id the
   *   stream does not hold makes an ordinary write. The server looks ids up in a bounded cache of recently
   *   committed events; this log remembers them all (a divergence for very old re-appends only).
   * - `no_stream` / an exact revision older than the stream: the proposed ids must sit exactly at the
   *   revisions after the expected one. All of them: idempotent. The first differs: a version conflict (or,
   *   for `no_stream` on a soft-deleted stream, an ordinary write). A later one differs: a version conflict.
   */
  checkCommit(streamId: string, expected: Expected, ids: readonly string[] = []): CommitCheck {
    const current = this.lastRevision(streamId);
    if (current === DELETED_STREAM) return { decision: 'deleted' };
    const softDeleted = this.isSoftDeleted(streamId);
    if (expected.kind === 'stream_exists') {
      // A soft-deleted stream answers StreamDeleted here, not a version conflict.
      if (softDeleted) return { decision: 'deleted' };
      if (current < 0n && this.lastRevision(metastreamOf(streamId)) < 0n) {
        return { decision: 'wrong-expected-version', current };
      }
    }
    const events = this.streams.get(streamId)?.events ?? [];
    if (expected.kind === 'any' || expected.kind === 'stream_exists') {
      if (ids.length === 0) return { decision: 'ok', current, softDeleted };
      const found = ids.map((id) => this.byId.get(id)).map((e) => (e?.streamId === streamId ? e : undefined));
      if (!found[0]) return { decision: 'ok', current, softDeleted };
      if (found.some((e) => !e)) return { decision: 'wrong-expected-version', current };
      const last = found[found.length - 1]!;
      return {
        decision: 'idempotent',
        current,
        first: found[0].revision,
        last: last.revision,
        position: last.position,
      };
    }
    const wanted = expected.kind === 'no_stream' ? -1n : expected.revision;
    if (wanted < current) {
      if (ids.length === 0) return { decision: 'wrong-expected-version', current };
      let n = wanted;
      for (const id of ids) {
        n += 1n;
        const at = events[Number(n)];
        if (at && at.revision === n && at.id === id) continue;
        if (n !== wanted + 1n) return { decision: 'wrong-expected-version', current };
        if (expected.kind === 'no_stream' && softDeleted) return { decision: 'ok', current, softDeleted };
        return { decision: 'wrong-expected-version', current };
      }
      return {
        decision: 'idempotent',
        current,
        first: wanted + 1n,
        last: n,
        position: events[Number(n)]!.position,
      };
    }
    if (wanted > current) return { decision: 'wrong-expected-version', current };
    return { decision: 'ok', current, softDeleted };
  }

  /** Appends after a successful commit check. Returns the written events (empty for an empty append). */
  append(
    streamId: string,
    check: Extract<CommitCheck, { decision: 'ok' }>,
    events: ProposedEvent[],
  ): StoredEvent[] {
    const written = events.map((e, i) => this.write(streamId, check.current + 1n + BigInt(i), e));
    // StorageWriterService.WritePrepares -> SoftUndeleteStream: the first write after a soft delete rewrites
    // the metadata with `$tb` = the first new revision, so the old events stay hidden.
    if (check.softDeleted && written.length > 0)
      written.push(this.writeTruncateBefore(streamId, check.current + 1n));
    this.committed(written);
    return written.filter((e) => e.streamId === streamId);
  }

  /** Appends to a system stream without a commit check (the `$ce-` emulation, the seed). */
  appendSystem(streamId: string, e: ProposedEvent): StoredEvent {
    const written = this.write(streamId, this.lastRevision(streamId) + 1n, e);
    this.committed([written]);
    return written;
  }

  /**
   * Soft delete (StorageWriterService `WriteDelete`): a commit check with a fresh id, then refused as a
   * version conflict when neither the stream nor its metadata stream has an event; otherwise
   * `{"$tb": long.MaxValue}` goes to `$$stream`. A stream that has only metadata is soft-deleted fine.
   * Reads then answer StreamNotFound; $all keeps the events.
   */
  softDelete(streamId: string, expected: Expected): CommitCheck | StoredEvent {
    const check = this.checkCommit(streamId, expected, [randomUUID()]);
    if (check.decision !== 'ok') return check;
    if (this.lastRevision(streamId) < 0n && this.lastRevision(metastreamOf(streamId)) < 0n) {
      return { decision: 'wrong-expected-version', current: -1n };
    }
    const event = this.writeTruncateBefore(streamId, DELETED_STREAM);
    this.committed([event]);
    return event;
  }

  /**
   * Hard delete: a `$streamDeleted` tombstone with revision long.MaxValue goes into the stream itself
   * (StorageWriterService `WriteDelete`, "HARD DELETE"); the stream can never be read or written again.
   */
  tombstone(streamId: string): StoredEvent {
    const event = this.write(streamId, DELETED_STREAM, {
      id: randomUUID(),
      type: '$streamDeleted',
      contentType: 'application/octet-stream',
      data: new Uint8Array(),
      metadata: new Uint8Array(),
    });
    this.state(streamId).tombstoned = true;
    this.committed([event]);
    return event;
  }

  /** Writes stream metadata (`$$stream`), as setStreamMetadata does. */
  writeMetadata(streamId: string, data: object): StoredEvent {
    const meta = metastreamOf(streamId);
    return this.appendSystem(meta, {
      id: randomUUID(),
      type: '$metadata',
      contentType: 'application/json',
      data: json(JSON.stringify(data)),
      metadata: new Uint8Array(),
    });
  }

  /** Stream reads are inclusive of the start revision, forwards and backwards. */
  readStream(
    streamId: string,
    from: StreamFrom,
    direction: 'forwards' | 'backwards',
    count: bigint,
  ): StreamReadResult {
    const s = this.streams.get(streamId);
    if (s?.tombstoned) return { kind: 'deleted' };
    const tb = this.truncateBefore.get(streamId) ?? 0n;
    if (!s || s.events.length === 0 || tb === DELETED_STREAM) return { kind: 'not-found' };
    const visible = s.events.filter((e) => e.revision >= tb);
    if (visible.length === 0) return { kind: 'not-found' };
    const last = s.events[s.events.length - 1]!.revision;
    let events: StoredEvent[];
    if (direction === 'forwards') {
      const start = from === 'start' ? 0n : from === 'end' ? last + 1n : from;
      events = visible.filter((e) => e.revision >= start);
    } else {
      const start = from === 'start' ? 0n : from === 'end' ? last : from;
      events = visible.filter((e) => e.revision <= start).reverse();
    }
    return { kind: 'events', events: events.slice(0, clampCount(count)) };
  }

  /**
   * $all in commit order, deleted streams' events included. Forwards from a position is inclusive: the
   * events at or after it (AllReader: `new TFPos(prepare.LogPosition, prepare.LogPosition) >= pos`).
   * Backwards from a position: the events before it (see the header of index.ts).
   */
  readAll(from: AllFrom, direction: 'forwards' | 'backwards'): StoredEvent[] {
    if (direction === 'forwards') {
      if (from === 'end') return [];
      const i = from === 'start' ? 0 : this.firstIndexAtOrAfter(from);
      return this.all.slice(i);
    }
    if (from === 'start') return [];
    const i = from === 'end' ? this.all.length : this.firstIndexAtOrAfter(from);
    return this.all.slice(0, i).reverse();
  }

  /**
   * AllReader.ReadAllEventsForwardInternal for a filtered read: from `pos` (inclusive), until `maxCount`
   * events matched or `maxSearchWindow` were considered or the log ends. Every considered event moves
   * `nextPos` to (its post-position, 0), which sorts before the next event's (P, P).
   */
  readAllPage(
    pos: AllPosition,
    maxCount: number,
    maxSearchWindow: number,
    matches: (e: StoredEvent) => boolean,
  ): AllPage {
    const events: StoredEvent[] = [];
    let nextPos = pos;
    let considered = 0;
    let i = this.firstIndexAtOrAfter(pos);
    let isEndOfStream = false;
    while (events.length < maxCount && considered < maxSearchWindow) {
      const e = this.all[i++];
      if (!e) {
        isEndOfStream = true;
        break;
      }
      considered += 1;
      if (matches(e)) events.push(e);
      nextPos = { commit: e.postPosition, prepare: 0n };
    }
    return { events, currentPos: pos, nextPos, consideredEvents: considered, isEndOfStream };
  }

  /** Index of the first event whose position is >= `p` (all.length when none). */
  firstIndexAtOrAfter(p: AllPosition): number {
    let lo = 0;
    let hi = this.all.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (comparePositions(positionOf(this.all[mid]!), p) < 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  private state(streamId: string): StreamState {
    let s = this.streams.get(streamId);
    if (!s) {
      s = { events: [], tombstoned: false };
      this.streams.set(streamId, s);
    }
    return s;
  }

  private writeTruncateBefore(streamId: string, tb: bigint): StoredEvent {
    this.truncateBefore.set(streamId, tb);
    const meta = metastreamOf(streamId);
    return this.write(meta, this.lastRevision(meta) + 1n, {
      id: randomUUID(),
      type: '$metadata',
      contentType: 'application/json',
      data: json(`{"$tb":${tb.toString()}}`),
      metadata: new Uint8Array(),
    });
  }

  private write(streamId: string, revision: bigint, e: ProposedEvent): StoredEvent {
    const position = this.nextPosition;
    const postPosition = position + recordSize(streamId, e);
    this.nextPosition = postPosition;
    const stored: StoredEvent = { ...e, streamId, revision, position, postPosition, created: nowTicks() };
    this.state(streamId).events.push(stored);
    this.all.push(stored);
    this.byId.set(stored.id, stored);
    return stored;
  }

  private committed(written: StoredEvent[]): void {
    for (const e of written) for (const l of [...this.listeners]) l(e);
    if (written.length > 0) this.afterWrite?.(written);
  }
}

const clampCount = (count: bigint): number =>
  count > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(count);
