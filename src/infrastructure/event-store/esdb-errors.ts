import {
  AccessDeniedError,
  CancelledError,
  DeadlineExceededError,
  MaxAppendSizeExceededError,
  StreamDeletedError as EsdbStreamDeletedError,
  StreamNotFoundError as EsdbStreamNotFoundError,
  TimeoutError,
  UnavailableError,
  UnknownError,
  WrongExpectedVersionError as EsdbWrongExpectedVersionError,
} from '@eventstore/db-client';
import {
  AppendTooLargeError,
  StoreUnavailableError,
  StreamDeletedError,
  StreamNotFoundError,
  WrongExpectedVersionError,
  type ExpectedRevision,
} from '../../application/event-store';

/**
 * gRPC codes of failures that say nothing about the request itself: CANCELLED, UNKNOWN, DEADLINE_EXCEEDED,
 * ABORTED (the server's commit timeout on Append, RpcExceptions.Timeout), INTERNAL (an HTTP/2 RST_STREAM)
 * and UNAVAILABLE.
 */
const TRANSIENT_CODES = new Set([1, 2, 4, 10, 13, 14]);

/**
 * A failure after which the store may or may not have done what was asked, and trying again later can
 * succeed. Client 6.2 reports:
 * - UnavailableError: no connection, or the server "Is Not Ready" / "Is Too Busy" on Append;
 * - UnknownError: BatchAppend's not-ready and too-busy answers (an Empty detail the client does not know),
 *   an INTERNAL status (RST_STREAM) and anything else it cannot classify;
 * - TimeoutError (ABORTED) on Append and DeadlineExceededError on BatchAppend: a commit timeout, after which
 *   the write may still happen;
 * - CancelledError: the server went away mid-call.
 */
export const isTransient = (e: unknown): boolean =>
  e instanceof UnavailableError ||
  e instanceof UnknownError ||
  e instanceof TimeoutError ||
  e instanceof DeadlineExceededError ||
  e instanceof CancelledError ||
  (e instanceof Error && TRANSIENT_CODES.has((e as { code?: unknown }).code as number));

/** The server is older than the adapter supports (`caughtUp` needs 23.10), or says nothing of its version. */
export class UnsupportedEventStoreError extends Error {
  readonly code = 'eventstoredb-unsupported';
  constructor(readonly serverVersion: string) {
    super(
      serverVersion === 'unknown'
        ? 'eventstoredb did not report its version (ServerFeatures is missing: a server older than 21.10); ' +
            'EventStoreDB 23.10 or later is required, as older servers never tell a subscription it caught up'
        : `eventstoredb ${serverVersion} is not supported: 23.10 or later is required, as older servers ` +
            'never tell a subscription it caught up',
    );
    this.name = 'UnsupportedEventStoreError';
  }
}

/** The client's errors as the port's. */
export const translate = (e: unknown, streamId: string, expected: ExpectedRevision = 'any'): unknown => {
  if (e instanceof EsdbWrongExpectedVersionError) {
    const actual = e.actualVersion;
    return new WrongExpectedVersionError(
      streamId,
      expected,
      typeof actual === 'bigint' && actual >= 0n ? Number(actual) : 'no_stream',
    );
  }
  if (e instanceof EsdbStreamNotFoundError) return new StreamNotFoundError(streamId);
  if (e instanceof EsdbStreamDeletedError) return new StreamDeletedError(streamId);
  if (e instanceof MaxAppendSizeExceededError) return new AppendTooLargeError(streamId, e.maxAppendSize);
  // A credentials or ACL problem: no request of this service succeeds until an operator fixes it, so the
  // API answers 503 and readiness fails, as for a store it cannot reach.
  if (e instanceof AccessDeniedError) {
    return new StoreUnavailableError(`eventstoredb denied access: ${e.message}`, { cause: e });
  }
  if (isTransient(e)) {
    return new StoreUnavailableError(`eventstoredb unavailable: ${(e as Error).message}`, { cause: e });
  }
  return e;
};
