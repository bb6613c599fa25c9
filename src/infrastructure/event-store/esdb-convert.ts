import { createHash, randomUUID } from 'node:crypto';
import {
  ANY,
  NO_STREAM,
  STREAM_EXISTS,
  jsonEvent,
  type AppendExpectedRevision,
  type EventData,
  type JSONType,
  type Position as EsdbPosition,
  type RecordedEvent as EsdbRecordedEvent,
} from '@eventstore/db-client';
import {
  decodePosition,
  encodePosition,
  type ExpectedRevision,
  type NewEvent,
  type Position,
  type RecordedEvent,
} from '../../application/event-store';

/** $all positions are the server's (commit, prepare) pair, byte offsets into its transaction log. */
export const toPosition = (p: EsdbPosition): Position => encodePosition(p.commit, p.prepare);

export const toEsdbPosition = (p: Position): EsdbPosition => {
  const [commit, prepare] = decodePosition(p);
  return { commit, prepare };
};

export const isSystem = (e: { streamId: string; type: string }): boolean =>
  e.type.startsWith('$') || e.streamId.startsWith('$');

export const toEsdbExpected = (expected: ExpectedRevision | bigint): AppendExpectedRevision => {
  switch (expected) {
    case 'any':
      return ANY;
    case 'no_stream':
      return NO_STREAM;
    case 'stream_exists':
      return STREAM_EXISTS;
    default:
      return BigInt(expected);
  }
};

export const toRecorded = (e: EsdbRecordedEvent): RecordedEvent => {
  if (!e.position)
    throw new Error('eventstoredb returned an event without its $all position (server 22.6 or later needed)');
  return {
    id: e.id,
    streamId: e.streamId,
    revision: Number(e.revision),
    position: toPosition(e.position),
    type: e.type,
    data: e.data,
    metadata:
      e.metadata && !(e.metadata instanceof Uint8Array) && typeof e.metadata === 'object'
        ? (e.metadata as Record<string, unknown>)
        : {},
    // Client 6.2 turns the server's `created` ticks into a Date.
    createdAt: e.created,
  };
};

/** A name-based (version 5 layout) uuid from a digest: the same input always gives the same id. */
const uuidFrom = (digest: Buffer): string => {
  const b = Buffer.from(digest.subarray(0, 16));
  b[6] = (b[6]! & 0x0f) | 0x50;
  b[8] = (b[8]! & 0x3f) | 0x80;
  const hex = b.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
};

/**
 * Event ids for one append. The server recognises a re-sent event id as a retry and writes nothing
 * (IndexWriter.CheckCommit), so an append sent again after its answer was lost must carry the ids of the
 * first try:
 * - ids the caller gave are kept;
 * - with an exact expected revision (or `no_stream`) the id is derived from the stream, that revision, the
 *   event's place and its content: the same append at the same revision is the same write, by whoever
 *   sends it, and different content never collides;
 * - with `any` or `stream_exists` two identical appends may both be meant, so the ids are random, fixed
 *   once per call (the adapter's own re-send reuses them).
 */
export const eventIds = (
  streamId: string,
  events: readonly NewEvent[],
  expected: ExpectedRevision,
): string[] =>
  events.map((e, i) => {
    if (e.id) return e.id;
    if (expected === 'any' || expected === 'stream_exists') return randomUUID();
    const digest = createHash('sha256')
      .update(JSON.stringify([streamId, expected, i, e.type, e.data ?? null, e.metadata ?? null]))
      .digest();
    return uuidFrom(digest);
  });

export const toEventData = (events: readonly NewEvent[], ids: readonly string[]): EventData[] =>
  events.map((e, i) =>
    jsonEvent({
      id: ids[i]!,
      type: e.type,
      data: e.data as JSONType,
      metadata: e.metadata as JSONType | undefined,
    }),
  );
