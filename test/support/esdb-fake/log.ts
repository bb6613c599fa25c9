/**
 * The fake's storage: one in-memory transaction log ($all) plus a per-stream index, with EventStoreDB's rules
 * for expected revisions, soft deletes and tombstones. No gRPC here; see service.ts for the wire.
 *
 * Where the documentation is silent the rule follows the server source (EventStore/EventStore,
 * `src/EventStore.Core/Services/Storage/ReaderIndex/IndexWriter.cs` `CheckCommit`, and
 * `src/EventStore.Core/Services/Storage/StorageWriterService.cs`); each rule names its source.
 */

import { randomUUID } from 'node:crypto';

/** `EventNumber.DeletedStream` (long.MaxValue): a tombstone's revision, and `$tb` of a soft-deleted stream. */
export const DELETED_STREAM = 0x7fffffffffffffffn;

export type StoredEvent = {
  id: string;
  streamId: string;
  revision: bigint;
  /** The fake's log position: one counter serves as both commit and prepare position. */
  position: bigint;
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
  | { decision: 'wrong-expected-version'; current: bigint }
  | { decision: 'deleted' };

export type AllPosition = { commit: bigint; prepare: bigint };
export type StreamFrom = 'start' | 'end' | bigint;
export type AllFrom = 'start' | 'end' | AllPosition;

export type StreamReadResult =
  { kind: 'events'; events: StoredEvent[] } | { kind: 'not-found' } | { kind: 'deleted' };

type StreamState = { events: StoredEvent[]; tombstoned: boolean };

const utf8 = new TextEncoder();
const json = (text: string): Uint8Array => utf8.encode(text);
const nowTicks = (): bigint => BigInt(Date.now()) * 10_000n;

/** `$$name` is the metadata stream of `name` (server: SystemStreams.MetastreamOf). */
export const metastreamOf = (streamId: string): string => `$$${streamId}`;

export class FakeLog {
  readonly all: StoredEvent[] = [];
  private readonly streams = new Map<string, StreamState>();
  /** `$tb` per stream, kept numerically: JSON numbers cannot carry long.MaxValue exactly in JavaScript. */
  private readonly truncateBefore = new Map<string, bigint>();
  private nextPosition = 0n;
  private readonly waiters = new Set<() => void>();

  /** Resolves on the next write to the log (or at once when `signal` aborts). */
  nextWrite(signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      if (signal.aborted) return resolve();
      const done = (): void => {
        this.waiters.delete(done);
        signal.removeEventListener('abort', done);
        resolve();
      };
      this.waiters.add(done);
      signal.addEventListener('abort', done, { once: true });
    });
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
   * The server's IndexWriter.CheckCommit without its idempotency branch (the fake never recognises a
   * retried append by event id; see the divergences in index.ts).
   * Docs: https://developers.eventstore.com/clients/grpc/appending-events.html#handling-concurrency
   */
  checkCommit(streamId: string, expected: Expected): CommitCheck {
    const current = this.lastRevision(streamId);
    if (current === DELETED_STREAM) return { decision: 'deleted' };
    const softDeleted = this.isSoftDeleted(streamId);
    switch (expected.kind) {
      case 'stream_exists':
        // A soft-deleted stream answers StreamDeleted here, not a version conflict (CheckCommit).
        if (softDeleted) return { decision: 'deleted' };
        if (current < 0n && this.lastRevision(metastreamOf(streamId)) < 0n) {
          return { decision: 'wrong-expected-version', current };
        }
        return { decision: 'ok', current, softDeleted };
      case 'any':
        return { decision: 'ok', current, softDeleted };
      case 'no_stream':
        if (current === -1n) return { decision: 'ok', current, softDeleted };
        // "After deleting the stream, you are able to write to it again, continuing from where it left off."
        // https://developers.eventstore.com/server/v20.10/streams/deleting-streams-and-events.html
        // (section "Soft delete and TruncateBefore"); CheckCommit accepts NoStream for a soft-deleted stream.
        if (softDeleted) return { decision: 'ok', current, softDeleted };
        return { decision: 'wrong-expected-version', current };
      case 'revision':
        if (expected.revision === current) return { decision: 'ok', current, softDeleted };
        return { decision: 'wrong-expected-version', current };
    }
  }

  /** Appends after a successful commit check. Returns the written events (empty for an empty append). */
  append(
    streamId: string,
    check: Extract<CommitCheck, { decision: 'ok' }>,
    events: ProposedEvent[],
  ): StoredEvent[] {
    const written = events.map((e, i) => this.write(streamId, check.current + 1n + BigInt(i), e));
    // Server: StorageWriterService.WritePrepares -> SoftUndeleteStream: the first write after a soft delete
    // rewrites the metadata with `$tb` = the first new revision, so the old events stay hidden.
    if (check.softDeleted && written.length > 0) this.writeTruncateBefore(streamId, check.current + 1n);
    this.notify();
    return written;
  }

  /**
   * Soft delete: writes `{"$tb": long.MaxValue}` to `$$stream` (StorageWriterService, "SOFT DELETE").
   * Reads then answer StreamNotFound; $all keeps the events ("$all bypasses the index", same docs page).
   */
  softDelete(streamId: string): StoredEvent {
    const event = this.writeTruncateBefore(streamId, DELETED_STREAM);
    this.notify();
    return event;
  }

  /**
   * Hard delete: a `$streamDeleted` tombstone with revision long.MaxValue goes into the stream itself
   * (StorageWriterService, "HARD DELETE"); the stream can never be read or written again.
   * Docs: https://developers.eventstore.com/server/v20.10/streams/deleting-streams-and-events.html
   * (section "Hard delete").
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
    this.notify();
    return event;
  }

  /**
   * Stream reads are inclusive of the start revision, forwards and backwards.
   * Docs: https://developers.eventstore.com/clients/grpc/reading-events.html (sections "Reading from a
   * revision", "Reading backwards", "Checking if the stream exists").
   */
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
   * $all in commit order, deleted streams' events included. Docs:
   * https://developers.eventstore.com/clients/grpc/reading-events.html (section "Reading from the $all
   * stream"). Forwards from a position is inclusive (the event at exactly that position comes first);
   * backwards from a position returns the events before it, as the server's log reader does: reading
   * backwards from a record's position yields the record that ends there, i.e. the previous one. (The docs
   * do not say; the adapter does not rely on either bound, and a real-server run settles it.)
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

  /** Index of the first event whose position is >= `p` (all.length when none). */
  firstIndexAtOrAfter(p: AllPosition): number {
    let lo = 0;
    let hi = this.all.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (comparePosition(this.all[mid]!, p) < 0) lo = mid + 1;
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
    const stored: StoredEvent = {
      ...e,
      streamId,
      revision,
      position: this.nextPosition++,
      created: nowTicks(),
    };
    this.state(streamId).events.push(stored);
    this.all.push(stored);
    return stored;
  }

  private notify(): void {
    for (const w of [...this.waiters]) w();
  }
}

const comparePosition = (e: StoredEvent, p: AllPosition): number =>
  e.position < p.commit
    ? -1
    : e.position > p.commit
      ? 1
      : e.position < p.prepare
        ? -1
        : e.position > p.prepare
          ? 1
          : 0;

const clampCount = (count: bigint): number =>
  count > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(count);
