import {
  BACKWARDS,
  END,
  FORWARDS,
  StreamDeletedError as EsdbStreamDeletedError,
  type AppendResult as EsdbAppendResult,
  type EventStoreDBClient,
} from '@eventstore/db-client';
import {
  StoreUnavailableError,
  StreamDeletedError,
  WrongExpectedVersionError,
  encodePosition,
  type AppendResult,
  type ExpectedRevision,
  type NewEvent,
  type Position,
} from '../../application/event-store';
import { eventIds, toEsdbExpected, toEventData, toPosition, toRecorded } from './esdb-convert';
import { isTransient, translate } from './esdb-errors';
import { drain } from './esdb-read-all';

/** How far back an `any` / `stream_exists` append is looked for after a lost answer. */
const LOOK_BACK = 200;

type Written = { revision: number; position: Position };

/**
 * One append, with its event ids fixed before the first try (see `eventIds`).
 *
 * A transient failure (esdb-errors.ts `isTransient`) may come after the server wrote the events: a commit
 * timeout, a reset stream, a server gone between write and answer. Answering it as a failure would let the
 * caller decide again and write the same facts twice, and answering it as a success could be a lie. So the
 * stream is read, as after a version conflict: when the events are there, the append succeeded; when they
 * are not, they are sent once more with the same ids, which the server recognises if the first write
 * lands in between (IndexWriter.CheckCommit, idempotent re-append). Only what is still uncertain after that
 * is a StoreUnavailableError, which the API answers 503 (nothing was reported as written, and a retried
 * command appends with the expected revision it reads then).
 */
export const appendEvents = async (
  client: EventStoreDBClient,
  streamId: string,
  events: readonly NewEvent[],
  expected: ExpectedRevision,
): Promise<AppendResult> => {
  const ids = eventIds(streamId, events, expected);
  const data = toEventData(events, ids);
  const send = (): Promise<EsdbAppendResult> =>
    client.appendToStream(streamId, data, { expectedRevision: toEsdbExpected(expected) });
  let result: EsdbAppendResult;
  try {
    result = await send();
  } catch (first) {
    if (!isTransient(first)) throw await refusal(client, first, streamId, expected);
    const found = await findWritten(client, streamId, ids, expected).catch(() => undefined);
    if (found) return { nextExpectedRevision: found.revision, position: found.position };
    try {
      result = await send();
    } catch (second) {
      if (isTransient(second)) {
        throw new StoreUnavailableError(
          `eventstoredb unavailable: the append to ${streamId} may or may not have been written`,
          { cause: second },
        );
      }
      throw await refusal(client, second, streamId, expected);
    }
  }
  const last = Number(result.nextExpectedRevision);
  // The server answers the commit position of the whole write, which is where its FIRST event sits (and,
  // for a recognised re-append, where its LAST one does); the port promises the last event's position
  // (read-your-writes waits for it), so a batch reads it back.
  const position =
    events.length > 1 || !result.position
      ? ((await positionOf(client, streamId, last)) ?? (result.position && toPosition(result.position)))
      : toPosition(result.position);
  return { nextExpectedRevision: last, position: position ?? encodePosition(0n, 0n) };
};

const refusal = async (
  client: EventStoreDBClient,
  e: unknown,
  streamId: string,
  expected: ExpectedRevision,
): Promise<unknown> => {
  // The server refuses `stream_exists` on a SOFT-deleted stream as "deleted"; for the port that stream
  // merely does not exist, and only a tombstone is a deleted stream.
  if (
    e instanceof EsdbStreamDeletedError &&
    expected === 'stream_exists' &&
    !(await isTombstoned(client, streamId))
  ) {
    return new WrongExpectedVersionError(streamId, expected, 'no_stream');
  }
  return translate(e, streamId, expected);
};

/** The revision and position of the last of `ids` when all of them are in the stream, else undefined. */
const findWritten = async (
  client: EventStoreDBClient,
  streamId: string,
  ids: readonly string[],
  expected: ExpectedRevision,
): Promise<Written | undefined> => {
  if (ids.length === 0) return undefined;
  const exact = typeof expected === 'number' ? expected : expected === 'no_stream' ? -1 : undefined;
  const read =
    exact !== undefined
      ? client.readStream(streamId, {
          direction: FORWARDS,
          fromRevision: BigInt(exact + 1),
          maxCount: ids.length,
        })
      : client.readStream(streamId, { direction: BACKWARDS, fromRevision: END, maxCount: LOOK_BACK });
  const seen = new Map<string, Written>();
  await drain(read, streamId, (r) => {
    if (!r.event) return;
    const e = toRecorded(r.event);
    seen.set(e.id, { revision: e.revision, position: e.position });
  });
  const found = ids.map((id) => seen.get(id));
  if (found.some((w) => !w)) return undefined;
  return found[found.length - 1];
};

export const positionOf = async (
  client: EventStoreDBClient,
  streamId: string,
  revision: number,
): Promise<Position | undefined> => {
  if (revision < 0) return undefined;
  let position: Position | undefined;
  await drain(
    client.readStream(streamId, { direction: FORWARDS, fromRevision: BigInt(revision), maxCount: 1 }),
    streamId,
    (r) => {
      if (r.event) position ??= toRecorded(r.event).position;
    },
  ).catch(() => undefined);
  return position;
};

export const isTombstoned = async (client: EventStoreDBClient, streamId: string): Promise<boolean> =>
  drain(client.readStream(streamId, { maxCount: 1 }), streamId, () => undefined).then(
    () => false,
    (e: unknown) => e instanceof StreamDeletedError,
  );
