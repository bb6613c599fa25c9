/**
 * The `event_store.client.streams.Streams` service over the fake log: Read, Append, Delete, Tombstone.
 * BatchAppend is left out on purpose: grpc-js answers UNIMPLEMENTED for it, and since the fake registers no
 * `ServerFeatures` service either, the client assumes an unknown server and appends with plain `Append`.
 */
import * as grpc from '@grpc/grpc-js';
import {
  AppendReq,
  AppendResp,
  DeleteReq,
  DeleteResp,
  ReadReq,
  ReadResp,
  TombstoneReq,
  TombstoneResp,
} from '@eventstore/db-client/generated/streams_pb';
import type { CommitCheck, Expected, FakeLog, ProposedEvent, StoredEvent, StreamFrom } from './log';
import { READ_BATCH_SIZE, runAllSubscription, sender } from './subscription';
import {
  allFromOf,
  empty,
  eventResponse,
  expectedOf,
  invalidArgument,
  matcherOf,
  parseUuid,
  requiredMetadataMissingError,
  streamDeletedError,
  streamName,
  streamNotFoundResponse,
  unimplemented,
  wrongExpectedVersionError,
  type RpcError,
} from './wire';

type ReadCall = grpc.ServerWritableStream<ReadReq, ReadResp>;

export type CallTracker = {
  /** Aborts when the call is cancelled or the fake stops; abort it yourself when the call is over. */
  track(call: { on(event: 'cancelled', listener: () => void): unknown }): AbortController;
};

export const streamsService = (log: FakeLog, calls: CallTracker): grpc.UntypedServiceImplementation => ({
  read: (call: ReadCall) => {
    const lifetime = calls.track(call);
    read(call, log, lifetime.signal)
      .then(
        () => call.end(),
        (e: unknown) =>
          call.emit('error', isRpcError(e) ? e : { code: grpc.status.UNKNOWN, details: String(e) }),
      )
      .finally(() => lifetime.abort());
  },
  append: (
    call: grpc.ServerReadableStream<AppendReq, AppendResp>,
    callback: grpc.sendUnaryData<AppendResp>,
  ) => {
    let options: AppendReq.Options | undefined;
    const proposed: ProposedEvent[] = [];
    let failure: RpcError | undefined;
    call.on('data', (req: AppendReq) => {
      if (failure) return;
      // Server: Streams.Append — the first message carries the options, every later one a proposed event.
      if (!options) {
        options = req.getOptions();
        if (!options) failure = invalidArgument('the first append message must carry options');
        return;
      }
      const message = req.getProposedMessage();
      if (!message) {
        failure = invalidArgument('expected a proposed message');
        return;
      }
      const type = message.getMetadataMap().get('type');
      const contentType = message.getMetadataMap().get('content-type');
      if (type === undefined) failure = requiredMetadataMissingError('type');
      else if (contentType === undefined) failure = requiredMetadataMissingError('content-type');
      else
        proposed.push({
          id: parseUuid(message.getId()),
          type,
          contentType,
          data: message.getData_asU8(),
          metadata: message.getCustomMetadata_asU8(),
        });
    });
    call.on('error', () => undefined);
    call.on('end', () => {
      if (failure) return callback(failure);
      const expected = options && expectedOf(options);
      if (!options || !expected)
        return callback(invalidArgument('append options without an expected revision'));
      try {
        callback(null, append(log, streamName(options.getStreamIdentifier()), expected, proposed));
      } catch (e) {
        callback(e as RpcError);
      }
    });
  },
  delete: (call: grpc.ServerUnaryCall<DeleteReq, DeleteResp>, callback: grpc.sendUnaryData<DeleteResp>) => {
    const options = call.request.getOptions();
    const expected = options && expectedOf(options);
    if (!options || !expected)
      return callback(invalidArgument('delete options without an expected revision'));
    const name = streamName(options.getStreamIdentifier());
    const check = log.checkCommit(name, expected);
    const refusal = refuse('Delete', name, expected, check);
    if (refusal) return callback(refusal);
    // Soft-deleting a stream that never had an event is a version conflict even with `any`: observed on the
    // server and reported in https://github.com/kurrent-io/KurrentDB/issues/4637 (and EventStore#3154 for
    // NoStream).
    if (check.decision === 'ok' && check.current === -1n) {
      return callback(wrongExpectedVersionError('Delete', name, expected, -1n));
    }
    const resp = new DeleteResp();
    const position = new DeleteResp.Position();
    setPosition(position, log.softDelete(name));
    resp.setPosition(position);
    callback(null, resp);
  },
  tombstone: (
    call: grpc.ServerUnaryCall<TombstoneReq, TombstoneResp>,
    callback: grpc.sendUnaryData<TombstoneResp>,
  ) => {
    const options = call.request.getOptions();
    const expected = options && expectedOf(options);
    if (!options || !expected)
      return callback(invalidArgument('tombstone options without an expected revision'));
    const name = streamName(options.getStreamIdentifier());
    const refusal = refuse('Delete', name, expected, log.checkCommit(name, expected));
    if (refusal) return callback(refusal);
    const resp = new TombstoneResp();
    const position = new TombstoneResp.Position();
    setPosition(position, log.tombstone(name));
    resp.setPosition(position);
    callback(null, resp);
  },
});

const isRpcError = (e: unknown): e is RpcError =>
  e instanceof Error && typeof (e as RpcError).code === 'number';

const setPosition = (
  target: { setCommitPosition(v: string): unknown; setPreparePosition(v: string): unknown },
  e: StoredEvent,
): void => {
  target.setCommitPosition(e.position.toString());
  target.setPreparePosition(e.position.toString());
};

/** Delete and Tombstone fail with RPC errors (server: Streams.Delete.cs -> RpcExceptions). */
const refuse = (
  operation: string,
  name: string,
  expected: Expected,
  check: CommitCheck,
): RpcError | undefined => {
  if (check.decision === 'deleted') return streamDeletedError(name);
  if (check.decision === 'wrong-expected-version') {
    return wrongExpectedVersionError(operation, name, expected, check.current);
  }
  return undefined;
};

/**
 * A version conflict on append is an ordinary response (`wrong_expected_version`), not an RPC error; a
 * deleted stream is an RPC error (server: Streams.Append.cs).
 * Docs: https://developers.eventstore.com/clients/grpc/appending-events.html (section "Handling concurrency").
 */
const append = (log: FakeLog, name: string, expected: Expected, proposed: ProposedEvent[]): AppendResp => {
  const check = log.checkCommit(name, expected);
  if (check.decision === 'deleted') throw streamDeletedError(name);
  const resp = new AppendResp();
  if (check.decision === 'wrong-expected-version') {
    const w = new AppendResp.WrongExpectedVersion();
    if (check.current < 0n) w.setCurrentNoStream(empty());
    else w.setCurrentRevision(check.current.toString());
    if (expected.kind === 'any') w.setExpectedAny(empty());
    else if (expected.kind === 'stream_exists') w.setExpectedStreamExists(empty());
    else if (expected.kind === 'no_stream') w.setExpectedNoStream(empty());
    else w.setExpectedRevision(expected.revision.toString());
    resp.setWrongExpectedVersion(w);
    return resp;
  }
  const written = log.append(name, check, proposed);
  const success = new AppendResp.Success();
  const last = written[written.length - 1];
  const revision = last ? last.revision : check.current;
  if (revision < 0n) success.setNoStream(empty());
  else success.setCurrentRevision(revision.toString());
  const first = written[0];
  if (first) {
    // The server answers the commit position of the write for both fields (Managers/WriteEvents.cs:
    // "not technically correct, but matches current behavior"), which is where the FIRST event of a
    // multi-event append sits, not the last.
    const position = new AppendResp.Position();
    setPosition(position, first);
    success.setPosition(position);
  } else {
    success.setNoPosition(empty());
  }
  resp.setSuccess(success);
  return resp;
};

const read = async (call: ReadCall, log: FakeLog, signal: AbortSignal): Promise<void> => {
  const options = call.request.getOptions();
  if (!options) throw invalidArgument('read without options');
  const structuredIds = options.getUuidOption()?.hasStructured() ?? false;
  const direction =
    options.getReadDirection() === ReadReq.Options.ReadDirection.BACKWARDS ? 'backwards' : 'forwards';
  const filter = options.hasFilter() ? options.getFilter() : undefined;
  const send = sender(call, signal);

  if (options.hasStream()) {
    if (options.hasSubscription()) throw unimplemented('the fake has no stream subscriptions');
    const stream = options.getStream()!;
    const name = streamName(stream.getStreamIdentifier());
    const from: StreamFrom = stream.hasStart()
      ? 'start'
      : stream.hasEnd()
        ? 'end'
        : BigInt(stream.getRevision());
    const result = log.readStream(name, from, direction, BigInt(options.getCount()));
    // Reading a tombstoned stream fails with StreamDeleted; a missing or soft-deleted one answers a
    // `stream_not_found` message. Docs: https://developers.eventstore.com/clients/grpc/reading-events.html
    // (section "Checking if the stream exists"); server: Enumerators.ReadStreamForwards.
    if (result.kind === 'deleted') throw streamDeletedError(name);
    if (result.kind === 'not-found') return send(streamNotFoundResponse(name));
    for (const e of result.events) {
      if (signal.aborted) return;
      await send(eventResponse(e, structuredIds));
    }
    return;
  }

  const all = options.getAll();
  if (!all) throw invalidArgument('read of neither a stream nor $all');
  const matcher = filter ? matcherOf(filter) : undefined;
  if (options.hasSubscription()) {
    if (direction === 'backwards') throw invalidArgument('subscriptions only go forwards');
    return runAllSubscription(
      call,
      log,
      {
        from: allFromOf(all),
        matcher,
        searchWindow: filter?.hasMax() ? filter.getMax() : READ_BATCH_SIZE,
        checkpointMultiplier: Math.max(1, filter?.getCheckpointintervalmultiplier() ?? 1),
        structuredIds,
      },
      signal,
    );
  }
  // $all keeps the events of deleted streams until a scavenge ("$all bypasses the index").
  // Docs: https://developers.eventstore.com/server/v20.10/streams/deleting-streams-and-events.html
  let remaining = Number(
    BigInt(options.getCount()) > BigInt(Number.MAX_SAFE_INTEGER)
      ? Number.MAX_SAFE_INTEGER
      : options.getCount(),
  );
  for (const e of log.readAll(allFromOf(all), direction)) {
    if (remaining <= 0 || signal.aborted) return;
    if (matcher && !matcher(e)) continue;
    await send(eventResponse(e, structuredIds));
    remaining -= 1;
  }
};
