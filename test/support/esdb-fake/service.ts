/**
 * The `event_store.client.streams.Streams` service over the fake log: Read, Append, BatchAppend, Delete,
 * Tombstone. Sources (kurrent-io/KurrentDB release/v24.10, src/EventStore.Core/Services/Transport/Grpc/):
 * Streams.Append.cs, Streams.BatchAppend.cs, Streams.Delete.cs, Streams.Read.cs, RpcExceptions.cs, Status.cs.
 */
import * as grpc from '@grpc/grpc-js';
import {
  AppendReq,
  AppendResp,
  BatchAppendReq,
  BatchAppendResp,
  DeleteReq,
  DeleteResp,
  ReadReq,
  ReadResp,
  TombstoneReq,
  TombstoneResp,
} from '@eventstore/db-client/generated/streams_pb';
import { AllStreamPosition } from '@eventstore/db-client/generated/shared_pb';
import type { AppendFault, Faults } from './faults';
import type { CommitCheck, Expected, FakeLog, ProposedEvent, StoredEvent, StreamFrom } from './log';
import {
  maximumAppendSizeExceededStatus,
  notHandledStatus,
  streamDeletedStatus,
  timeoutStatus,
  wrongExpectedVersionStatus,
} from './status';
import {
  READ_BATCH_SIZE,
  runAllSubscription,
  sender,
  type RunningSubscription,
  type SubscriptionStats,
} from './subscription';
import {
  accessDeniedError,
  allFromOf,
  empty,
  eventResponse,
  expectedOf,
  internalError,
  invalidArgument,
  matcherOf,
  maxAppendSizeExceededError,
  parseUuid,
  requiredMetadataMissingError,
  serverBusyError,
  serverNotReadyError,
  streamDeletedError,
  streamIdentifier,
  streamName,
  streamNotFoundResponse,
  timeoutError,
  unimplemented,
  wrongExpectedVersionError,
  type RpcError,
} from './wire';

type ReadCall = grpc.ServerWritableStream<ReadReq, ReadResp>;

/** ClusterVNodeOptions.Application.MaxAppendSize: 1 MiB. */
export const MAX_APPEND_SIZE = 1024 * 1024;

export type CallTracker = {
  /** Aborts when the call is cancelled or the fake stops; abort it yourself when the call is over. */
  track(call: { on(event: 'cancelled', listener: () => void): unknown }): AbortController;
};

export type ServiceContext = {
  log: FakeLog;
  calls: CallTracker;
  faults: Faults;
  subscriptions: Set<RunningSubscription>;
  stats: SubscriptionStats;
  liveBuffer: number;
  batchAppend: boolean;
  sendCaughtUp: boolean;
};

/** Event.SizeOnDisk: data + metadata + twice the type's length; an append's sizes add up. */
const sizeOnDisk = (e: ProposedEvent): number => e.data.length + e.metadata.length + e.type.length * 2;

type Proposed = { type?: string; contentType?: string; id: string; data: Uint8Array; metadata: Uint8Array };

const toProposed = (message: {
  getMetadataMap(): { get(key: string): string | undefined };
  getId(): Parameters<typeof parseUuid>[0];
  getData_asU8(): Uint8Array;
  getCustomMetadata_asU8(): Uint8Array;
}): Proposed => ({
  id: parseUuid(message.getId()),
  type: message.getMetadataMap().get('type'),
  contentType: message.getMetadataMap().get('content-type'),
  data: message.getData_asU8(),
  metadata: message.getCustomMetadata_asU8(),
});

export const streamsService = (ctx: ServiceContext): grpc.UntypedServiceImplementation => {
  const { log, calls, faults } = ctx;
  const impl: grpc.UntypedServiceImplementation = {
    read: (call: ReadCall) => {
      const lifetime = calls.track(call);
      let ending: RpcError | null | undefined;
      const running: RunningSubscription = {
        end: (error) => {
          ending = error;
          lifetime.abort();
        },
      };
      ctx.subscriptions.add(running);
      read(call, ctx, lifetime.signal)
        .then(
          () => {
            if (ending) call.emit('error', ending);
            else call.end();
          },
          (e: unknown) =>
            call.emit('error', isRpcError(e) ? e : { code: grpc.status.UNKNOWN, details: String(e) }),
        )
        .finally(() => {
          ctx.subscriptions.delete(running);
          lifetime.abort();
        });
    },
    append: (
      call: grpc.ServerReadableStream<AppendReq, AppendResp>,
      callback: grpc.sendUnaryData<AppendResp>,
    ) => {
      let options: AppendReq.Options | undefined;
      const proposed: ProposedEvent[] = [];
      let size = 0;
      let answered = false;
      const answer = (error: RpcError | null, resp?: AppendResp): void => {
        if (answered) return;
        answered = true;
        if (error) callback(error);
        else callback(null, resp);
      };
      call.on('data', (req: AppendReq) => {
        if (answered) return;
        // Streams.Append — the first message carries the options, every later one a proposed event.
        if (!options) {
          options = req.getOptions();
          if (!options) answer(invalidArgument('the first append message must carry options'));
          return;
        }
        const message = req.getProposedMessage();
        if (!message) return answer(invalidArgument('expected a proposed message'));
        const p = toProposed(message);
        if (p.type === undefined) return answer(requiredMetadataMissingError('type'));
        if (p.contentType === undefined) return answer(requiredMetadataMissingError('content-type'));
        const event = { ...p, type: p.type, contentType: p.contentType };
        size += sizeOnDisk(event);
        // Checked message by message, so the call fails as soon as the sum passes the limit.
        if (size > MAX_APPEND_SIZE) return answer(maxAppendSizeExceededError(MAX_APPEND_SIZE));
        proposed.push(event);
      });
      call.on('error', () => undefined);
      call.on('end', () => {
        if (answered) return;
        const expected = options && expectedOf(options);
        if (!options || !expected)
          return answer(invalidArgument('append options without an expected revision'));
        const name = streamName(options.getStreamIdentifier());
        const fault = faults.takeAppendFault();
        if (fault && !commitsDespite(fault)) return answer(appendFaultError(fault));
        let result: AppendOutcome;
        try {
          result = write(log, name, expected, proposed);
        } catch (e) {
          return answer(e as RpcError);
        }
        if (fault) return answer(appendFaultError(fault));
        answer(null, appendResponse(result, expected));
      });
    },
    delete: (call: grpc.ServerUnaryCall<DeleteReq, DeleteResp>, callback: grpc.sendUnaryData<DeleteResp>) => {
      const options = call.request.getOptions();
      const expected = options && expectedOf(options);
      if (!options || !expected)
        return callback(invalidArgument('delete options without an expected revision'));
      const name = streamName(options.getStreamIdentifier());
      // StorageWriterService.WriteDelete: a stream with neither events nor metadata is a version conflict
      // even with `any` (also reported in kurrent-io/KurrentDB#4637); one with only metadata is deleted.
      const result = log.softDelete(name, expected);
      if ('decision' in result)
        return callback(refuse('Delete', name, expected, result) ?? invalidArgument('?'));
      const resp = new DeleteResp();
      const position = new DeleteResp.Position();
      setPosition(position, result);
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
      const check = log.checkCommit(name, expected);
      const refusal = refuse('Delete', name, expected, check);
      if (refusal) return callback(refusal);
      const resp = new TombstoneResp();
      const position = new TombstoneResp.Position();
      setPosition(position, log.tombstone(name));
      resp.setPosition(position);
      callback(null, resp);
    },
  };
  if (ctx.batchAppend) impl.batchAppend = (call: BatchCall) => batchAppend(call, ctx);
  return impl;
};

type BatchCall = grpc.ServerDuplexStream<BatchAppendReq, BatchAppendResp>;

/**
 * Streams.BatchAppend: one bidirectional call carries many appends, each keyed by its correlation id; the
 * first message of an append holds its options, `is_final` closes it. Answers go back in completion order.
 * The deadline in the options is capped by the server's write timeout (2 s by default); one already past
 * answers Timeout without writing.
 */
const batchAppend = (call: BatchCall, ctx: ServiceContext): void => {
  const lifetime = ctx.calls.track(call);
  type Pending = { options: BatchAppendReq.Options; name: string; events: ProposedEvent[]; size: number };
  const pending = new Map<string, Pending>();
  let failed = false;
  const respond = (req: BatchAppendReq, name: string, fill: (resp: BatchAppendResp) => void): void => {
    const resp = new BatchAppendResp();
    resp.setCorrelationId(req.getCorrelationId());
    resp.setStreamIdentifier(streamIdentifier(name));
    fill(resp);
    if (!lifetime.signal.aborted) call.write(resp);
  };
  call.on('data', (req: BatchAppendReq) => {
    if (failed) return;
    const correlation = parseUuid(req.getCorrelationId());
    const options = req.getOptions();
    if (options) {
      const name = streamName(options.getStreamIdentifier());
      const deadline = options.getDeadline();
      if (deadline && deadline.toDate().getTime() <= Date.now()) {
        return respond(req, name, (r) => r.setError(timeoutStatus()));
      }
      if (!pending.has(correlation)) pending.set(correlation, { options, name, events: [], size: 0 });
    }
    const append = pending.get(correlation);
    if (!append) return;
    for (const message of req.getProposedMessagesList()) {
      const p = toProposed(message);
      const event = { ...p, type: p.type ?? '', contentType: p.contentType ?? 'application/octet-stream' };
      append.size += sizeOnDisk(event);
      append.events.push(event);
    }
    if (append.size > MAX_APPEND_SIZE) {
      pending.delete(correlation);
      return respond(req, append.name, (r) => r.setError(maximumAppendSizeExceededStatus(MAX_APPEND_SIZE)));
    }
    if (!req.getIsFinal()) return;
    pending.delete(correlation);
    const expected = batchExpectedOf(append.options);
    const fault = ctx.faults.takeAppendFault();
    if (fault && !commitsDespite(fault)) return answerBatchFault(fault);
    let outcome: AppendOutcome | RpcError;
    try {
      outcome = write(ctx.log, append.name, expected, append.events);
    } catch (e) {
      outcome = e as RpcError;
    }
    if (fault) return answerBatchFault(fault);
    respond(req, append.name, (r) => {
      if (isRpcError(outcome)) r.setError(streamDeletedStatus(append.name));
      else if (outcome.kind === 'wrong-expected-version') {
        r.setError(wrongExpectedVersionStatus(outcome.current, expected));
      } else {
        const success = new BatchAppendResp.Success();
        if (outcome.revision < 0n) success.setNoStream(empty());
        else success.setCurrentRevision(outcome.revision.toString());
        if (outcome.position === undefined) success.setNoPosition(empty());
        else {
          const position = new AllStreamPosition();
          position.setCommitPosition(outcome.position.toString());
          position.setPreparePosition(outcome.position.toString());
          success.setPosition(position);
        }
        r.setSuccess(success);
      }
    });

    function answerBatchFault(f: AppendFault): void {
      if (f.kind === 'internal') {
        // The whole call goes: every append pending on it fails on the client.
        failed = true;
        call.emit('error', internalError());
        return;
      }
      const kind = f.kind;
      respond(req, append!.name, (r) =>
        r.setError(kind === 'timeout' ? timeoutStatus() : notHandledStatus(kind)),
      );
    }
  });
  call.on('error', () => undefined);
  call.on('end', () => {
    if (!failed) call.end();
    lifetime.abort();
  });
  lifetime.signal.addEventListener('abort', () => pending.clear(), { once: true });
};

const batchExpectedOf = (o: BatchAppendReq.Options): Expected =>
  o.hasStreamPosition()
    ? { kind: 'revision', revision: BigInt(o.getStreamPosition()) }
    : o.hasNoStream()
      ? { kind: 'no_stream' }
      : o.hasStreamExists()
        ? { kind: 'stream_exists' }
        : { kind: 'any' };

const commitsDespite = (f: AppendFault): boolean => 'commit' in f && f.commit;

const appendFaultError = (f: AppendFault): RpcError =>
  f.kind === 'not-ready'
    ? serverNotReadyError()
    : f.kind === 'too-busy'
      ? serverBusyError()
      : f.kind === 'timeout'
        ? timeoutError('Commit phase timeout.')
        : internalError();

const isRpcError = (e: unknown): e is RpcError =>
  e instanceof Error && typeof (e as RpcError).code === 'number';

const setPosition = (
  target: { setCommitPosition(v: string): unknown; setPreparePosition(v: string): unknown },
  e: StoredEvent,
): void => {
  target.setCommitPosition(e.position.toString());
  target.setPreparePosition(e.position.toString());
};

/** Delete and Tombstone fail with RPC errors (Streams.Delete.cs -> RpcExceptions). */
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

type AppendOutcome =
  | { kind: 'success'; revision: bigint; position: bigint | undefined }
  | { kind: 'wrong-expected-version'; current: bigint };

/**
 * The write behind Append and BatchAppend. Success answers the position of the FIRST event written (the
 * request manager's CommitPosition is the commit's log position: "not technically correct, but matches
 * current behavior", WriteEvents.cs); an idempotent re-append writes nothing and answers the position of
 * the LAST event of the matched range (IndexWriter.CheckCommit -> ReturnCommitAt). A deleted stream throws.
 */
const write = (log: FakeLog, name: string, expected: Expected, proposed: ProposedEvent[]): AppendOutcome => {
  const check = log.checkCommit(
    name,
    expected,
    proposed.map((e) => e.id),
  );
  if (check.decision === 'deleted') throw streamDeletedError(name);
  if (check.decision === 'wrong-expected-version')
    return { kind: 'wrong-expected-version', current: check.current };
  if (check.decision === 'idempotent')
    return { kind: 'success', revision: check.last, position: check.position };
  const written = log.append(name, check, proposed);
  const last = written[written.length - 1];
  return { kind: 'success', revision: last ? last.revision : check.current, position: written[0]?.position };
};

/** A version conflict on Append is an ordinary response (`wrong_expected_version`), not an RPC error. */
const appendResponse = (outcome: AppendOutcome, expected: Expected): AppendResp => {
  const resp = new AppendResp();
  if (outcome.kind === 'wrong-expected-version') {
    const w = new AppendResp.WrongExpectedVersion();
    if (outcome.current < 0n) w.setCurrentNoStream(empty());
    else w.setCurrentRevision(outcome.current.toString());
    if (expected.kind === 'any') w.setExpectedAny(empty());
    else if (expected.kind === 'stream_exists') w.setExpectedStreamExists(empty());
    else if (expected.kind === 'no_stream') w.setExpectedNoStream(empty());
    else w.setExpectedRevision(expected.revision.toString());
    resp.setWrongExpectedVersion(w);
    return resp;
  }
  const success = new AppendResp.Success();
  if (outcome.revision < 0n) success.setNoStream(empty());
  else success.setCurrentRevision(outcome.revision.toString());
  if (outcome.position !== undefined) {
    const position = new AppendResp.Position();
    position.setCommitPosition(outcome.position.toString());
    position.setPreparePosition(outcome.position.toString());
    success.setPosition(position);
  } else {
    success.setNoPosition(empty());
  }
  resp.setSuccess(success);
  return resp;
};

const read = async (call: ReadCall, ctx: ServiceContext, signal: AbortSignal): Promise<void> => {
  const { log } = ctx;
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
    // `stream_not_found` message (Enumerators.ReadStreamForwards).
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
        liveBuffer: ctx.liveBuffer,
        sendCaughtUp: ctx.sendCaughtUp,
      },
      signal,
      ctx.stats,
    );
  }
  // $all keeps the events of deleted streams until a scavenge ("$all bypasses the index").
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

export const subscriptionEndingError = (
  ending: 'not-ready' | 'internal' | 'aborted' | 'access-denied',
): RpcError =>
  ending === 'not-ready'
    ? serverNotReadyError()
    : ending === 'internal'
      ? internalError()
      : ending === 'aborted'
        ? timeoutError('subscription read timed out')
        : accessDeniedError();
