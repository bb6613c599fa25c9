/**
 * google.rpc.Status values of BatchAppend answers, as the server's `Status.cs` builds them (kurrent-io/KurrentDB
 * release/v24.10, src/EventStore.Core/Services/Transport/Grpc/Status.cs), and the answers of
 * Streams.BatchAppend.cs `ConvertMessage`. The client (6.2, streams/appendToStream/unpackError.js) picks its
 * error class from the type name of `details`: a not-ready or too-busy server packs `google.protobuf.Empty`
 * there, which the client does not recognise, so it throws an UnknownError ("Could not recognize Server Is
 * Not Ready"); a commit timeout packs `Timeout`, which the client throws as DeadlineExceededError.
 */
import { Code } from '@eventstore/db-client/generated/code_pb';
import {
  AccessDenied,
  Empty,
  MaximumAppendSizeExceeded,
  StreamDeleted,
  Timeout,
  Unknown,
  WrongExpectedVersion,
} from '@eventstore/db-client/generated/shared_pb';
import { Status } from '@eventstore/db-client/generated/status_pb';
import type { Expected } from './log';
import { streamIdentifier } from './wire';

type AnyMessage = { pack(serialized: Uint8Array, name: string, prefix?: string): void };
// google-protobuf ships no types next to this package; the client's generated code uses the same class.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { Any } = require('google-protobuf/google/protobuf/any_pb') as { Any: new () => AnyMessage };

const status = (
  code: Code,
  message: string,
  details: { serializeBinary(): Uint8Array },
  typeName: string,
): Status => {
  const s = new Status();
  s.setCode(code);
  s.setMessage(message);
  const any = new Any();
  any.pack(details.serializeBinary(), typeName);
  s.setDetails(any as never);
  return s;
};

export const wrongExpectedVersionStatus = (current: bigint, expected: Expected): Status => {
  const w = new WrongExpectedVersion();
  if (current < 0n) w.setCurrentNoStream(new Empty());
  else w.setCurrentStreamRevision(current.toString());
  if (expected.kind === 'any') w.setExpectedAny(new Empty());
  else if (expected.kind === 'stream_exists') w.setExpectedStreamExists(new Empty());
  else if (expected.kind === 'no_stream') w.setExpectedNoStream(new Empty());
  else w.setExpectedStreamPosition(expected.revision.toString());
  return status(Code.ALREADY_EXISTS, 'WrongExpectedVersion', w, 'event_store.client.WrongExpectedVersion');
};

export const streamDeletedStatus = (name: string): Status => {
  const d = new StreamDeleted();
  d.setStreamIdentifier(streamIdentifier(name));
  return status(Code.NOT_FOUND, 'StreamDeleted', d, 'event_store.client.StreamDeleted');
};

export const accessDeniedStatus = (): Status =>
  status(Code.PERMISSION_DENIED, 'AccessDenied', new AccessDenied(), 'event_store.client.AccessDenied');

export const timeoutStatus = (): Status =>
  status(Code.DEADLINE_EXCEEDED, 'Timeout', new Timeout(), 'event_store.client.Timeout');

export const unknownStatus = (): Status =>
  status(Code.UNKNOWN, 'Unknown', new Unknown(), 'event_store.client.Unknown');

export const maximumAppendSizeExceededStatus = (max: number): Status => {
  const m = new MaximumAppendSizeExceeded();
  m.setMaxappendsize(max);
  return status(
    Code.INVALID_ARGUMENT,
    'MaximumAppendSizeExceeded',
    m,
    'event_store.client.MaximumAppendSizeExceeded',
  );
};

/** `ClientMessage.NotHandled`: no code, an Empty detail and a message only (BatchAppend.cs ConvertMessage). */
export const notHandledStatus = (reason: 'not-ready' | 'too-busy'): Status =>
  status(
    Code.OK,
    reason === 'not-ready' ? 'Server Is Not Ready' : 'Server Is Busy',
    new Empty(),
    'google.protobuf.Empty',
  );
