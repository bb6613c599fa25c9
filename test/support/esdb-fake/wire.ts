/**
 * Protobuf and gRPC-status shapes of the EventStoreDB `event_store.client.streams` API, built from the
 * generated messages that ship inside `@eventstore/db-client` so the fake speaks exactly what the client
 * decodes. Error trailers follow the server's `RpcExceptions.cs` (EventStore/EventStore,
 * `src/EventStore.Core/Services/Transport/Grpc/RpcExceptions.cs`): the client picks its error class from the
 * `exception` trailer and reads `stream-name`, `expected-version` and `actual-version` from the others.
 * BatchAppend answers carry a google.rpc.Status instead, built as the server's `Status.cs` builds them.
 */
import * as grpc from '@grpc/grpc-js';
import { Empty, StreamIdentifier, UUID } from '@eventstore/db-client/generated/shared_pb';
import { ReadReq, ReadResp } from '@eventstore/db-client/generated/streams_pb';
import type { AllFrom, AllPosition, Expected, StoredEvent } from './log';

const decoder = new TextDecoder();

export const streamName = (id: StreamIdentifier | undefined): string =>
  id ? decoder.decode(id.getStreamName_asU8()) : '';

export const streamIdentifier = (name: string): StreamIdentifier => {
  const id = new StreamIdentifier();
  id.setStreamName(new TextEncoder().encode(name));
  return id;
};

export const parseUuid = (uuid: UUID | undefined): string => {
  if (!uuid) return '';
  if (uuid.hasStructured()) {
    const s = uuid.getStructured()!;
    const hex =
      BigInt.asUintN(64, BigInt(s.getMostSignificantBits())).toString(16).padStart(16, '0') +
      BigInt.asUintN(64, BigInt(s.getLeastSignificantBits())).toString(16).padStart(16, '0');
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
  }
  return uuid.getString();
};

/** The server answers ids in the form the request's `uuid_option` asked for. */
const toUuid = (id: string, structured: boolean): UUID => {
  const uuid = new UUID();
  if (!structured) {
    uuid.setString(id);
    return uuid;
  }
  const hex = id.replace(/-/g, '');
  const s = new UUID.Structured();
  s.setMostSignificantBits(BigInt.asIntN(64, BigInt(`0x${hex.slice(0, 16)}`)).toString());
  s.setLeastSignificantBits(BigInt.asIntN(64, BigInt(`0x${hex.slice(16)}`)).toString());
  uuid.setStructured(s);
  return uuid;
};

/** Server: Enumerators.ConvertToReadEvent — metadata carries `type`, `created` (ticks) and `content-type`. */
export const eventResponse = (e: StoredEvent, structuredIds: boolean): ReadResp => {
  const record = new ReadResp.ReadEvent.RecordedEvent();
  record.setId(toUuid(e.id, structuredIds));
  record.setStreamIdentifier(streamIdentifier(e.streamId));
  record.setStreamRevision(e.revision.toString());
  record.setCommitPosition(e.position.toString());
  record.setPreparePosition(e.position.toString());
  const metadata = record.getMetadataMap();
  metadata.set('type', e.type);
  metadata.set('created', e.created.toString());
  metadata.set('content-type', e.contentType);
  record.setData(e.data);
  record.setCustomMetadata(e.metadata);
  const event = new ReadResp.ReadEvent();
  event.setEvent(record);
  event.setCommitPosition(e.position.toString());
  const resp = new ReadResp();
  resp.setEvent(event);
  return resp;
};

export const confirmationResponse = (subscriptionId: string): ReadResp => {
  const c = new ReadResp.SubscriptionConfirmation();
  c.setSubscriptionId(subscriptionId);
  const resp = new ReadResp();
  resp.setConfirmation(c);
  return resp;
};

export const checkpointResponse = (position: AllPosition): ReadResp => {
  const c = new ReadResp.Checkpoint();
  c.setCommitPosition(position.commit.toString());
  c.setPreparePosition(position.prepare.toString());
  const resp = new ReadResp();
  resp.setCheckpoint(c);
  return resp;
};

export const caughtUpResponse = (): ReadResp => {
  const resp = new ReadResp();
  resp.setCaughtUp(new ReadResp.CaughtUp());
  return resp;
};

export const streamNotFoundResponse = (name: string): ReadResp => {
  const nf = new ReadResp.StreamNotFound();
  nf.setStreamIdentifier(streamIdentifier(name));
  const resp = new ReadResp();
  resp.setStreamNotFound(nf);
  return resp;
};

export const empty = (): Empty => new Empty();

type Expectable = {
  getExpectedStreamRevisionCase(): number;
  getRevision(): string;
};

/** The four `expected_stream_revision` cases share field numbers across Append, Delete and Tombstone. */
export const expectedOf = (options: Expectable): Expected | undefined => {
  switch (options.getExpectedStreamRevisionCase()) {
    case 2:
      return { kind: 'revision', revision: BigInt(options.getRevision()) };
    case 3:
      return { kind: 'no_stream' };
    case 4:
      return { kind: 'any' };
    case 5:
      return { kind: 'stream_exists' };
    default:
      return undefined;
  }
};

/** The server's `ExpectedVersion` longs: Any -2, NoStream -1, StreamExists -4. */
const expectedVersionLong = (e: Expected): string =>
  e.kind === 'any'
    ? '-2'
    : e.kind === 'no_stream'
      ? '-1'
      : e.kind === 'stream_exists'
        ? '-4'
        : e.revision.toString();

export type RpcError = grpc.ServerErrorResponse;

const rpcError = (code: grpc.status, details: string, trailers: Record<string, string>): RpcError => {
  const metadata = new grpc.Metadata();
  for (const [k, v] of Object.entries(trailers)) metadata.set(k, v);
  return Object.assign(new Error(details), { code, details, metadata });
};

export const streamDeletedError = (name: string): RpcError =>
  rpcError(grpc.status.FAILED_PRECONDITION, `Event stream '${name}' is deleted.`, {
    exception: 'stream-deleted',
    'stream-name': name,
  });

export const wrongExpectedVersionError = (
  operation: string,
  name: string,
  expected: Expected,
  actual: bigint,
): RpcError =>
  rpcError(
    grpc.status.FAILED_PRECONDITION,
    `${operation} failed due to WrongExpectedVersion. Stream: ${name}, Expected version: ${expectedVersionLong(expected)}, Actual version: ${actual}`,
    {
      exception: 'wrong-expected-version',
      'stream-name': name,
      'expected-version': expectedVersionLong(expected),
      'actual-version': actual.toString(),
    },
  );

export const requiredMetadataMissingError = (property: string): RpcError =>
  rpcError(grpc.status.INVALID_ARGUMENT, `Required Metadata Property '${property}' is missing`, {
    exception: 'missing-required-metadata-property',
    'required-metadata-properties': 'type,content-type',
  });

/** RpcExceptions.MaxAppendSizeExceeded: the client reads `maximum-append-size` from the trailers. */
export const maxAppendSizeExceededError = (max: number): RpcError =>
  rpcError(grpc.status.INVALID_ARGUMENT, `Maximum Append Size of ${max} Exceeded.`, {
    exception: 'maximum-append-size-exceeded',
    'maximum-append-size': String(max),
  });

/** RpcExceptions.ServerNotReady / ServerBusy: UNAVAILABLE without an `exception` trailer. */
export const serverNotReadyError = (): RpcError =>
  rpcError(grpc.status.UNAVAILABLE, 'Server Is Not Ready', {});
export const serverBusyError = (): RpcError => rpcError(grpc.status.UNAVAILABLE, 'Server Is Too Busy', {});

/** RpcExceptions.Timeout: a commit or prepare timeout of Append is ABORTED (the write may still happen). */
export const timeoutError = (message: string): RpcError =>
  rpcError(grpc.status.ABORTED, `Operation timed out: ${message}`, {});

/** RpcExceptions.AccessDenied. */
export const accessDeniedError = (): RpcError =>
  rpcError(grpc.status.PERMISSION_DENIED, 'Access Denied', { exception: 'access-denied' });

/**
 * What a client sees when the server resets the HTTP/2 stream (RST_STREAM INTERNAL_ERROR): grpc-js reports
 * status INTERNAL. grpc-js gives a server handler no way to reset its stream, so the fake ends the call with
 * that status and the message grpc-js would produce.
 */
export const internalError = (): RpcError =>
  rpcError(grpc.status.INTERNAL, 'Received RST_STREAM with code 2 (Internal server error)', {});

export const invalidArgument = (details: string): RpcError =>
  rpcError(grpc.status.INVALID_ARGUMENT, details, {});

export const unimplemented = (details: string): RpcError => rpcError(grpc.status.UNIMPLEMENTED, details, {});

export const allFromOf = (all: ReadReq.Options.AllOptions): AllFrom => {
  if (all.hasStart()) return 'start';
  if (all.hasEnd()) return 'end';
  const p = all.getPosition();
  return { commit: BigInt(p?.getCommitPosition() ?? '0'), prepare: BigInt(p?.getPreparePosition() ?? '0') };
};

export type EventMatcher = (e: StoredEvent) => boolean;

/**
 * Server-side filters match the stream name or the event type, by any of several prefixes or by a regex.
 * Docs: https://developers.eventstore.com/clients/grpc/subscriptions.html (section "Server-side filtering").
 */
export const matcherOf = (filter: ReadReq.Options.FilterOptions): EventMatcher => {
  const onStream = filter.hasStreamIdentifier();
  const expr = onStream ? filter.getStreamIdentifier()! : filter.getEventType()!;
  const field = (e: StoredEvent): string => (onStream ? e.streamId : e.type);
  const regex = expr.getRegex();
  if (regex) {
    const re = new RegExp(regex);
    return (e) => re.test(field(e));
  }
  const prefixes = expr.getPrefixList();
  return (e) => prefixes.some((p) => field(e).startsWith(p));
};
