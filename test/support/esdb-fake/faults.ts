/**
 * What a test can make the fake do wrong, each the way a 24.10 server does it (see status.ts and wire.ts for
 * the exact answers):
 *
 * - `not-ready` / `too-busy`: the request was not handled (ClientMessage.NotHandled): nothing is written.
 *   Append: UNAVAILABLE; BatchAppend: a Status with an Empty detail (the client's UnknownError).
 * - `timeout`: the commit timed out (OperationResult.CommitTimeout): the write may still happen, `commit`
 *   says whether it did. Append: ABORTED (the client's TimeoutError); BatchAppend: Status Timeout (the
 *   client's DeadlineExceededError).
 * - `internal`: the HTTP/2 stream is reset after the write reached the server (`commit` again says whether
 *   it was written): status INTERNAL. On BatchAppend it ends the whole call, failing every pending append
 *   on it.
 */
export type AppendFault =
  { kind: 'not-ready' | 'too-busy' } | { kind: 'timeout' | 'internal'; commit: boolean };

/** How the server can end a subscription: with one of these errors, or normally ('end'). */
export type SubscriptionEnding = 'not-ready' | 'internal' | 'aborted' | 'access-denied' | 'end';

export class Faults {
  private readonly appends: AppendFault[] = [];

  /** The next appends (Append or BatchAppend), one fault each, in order. */
  failNextAppend(...faults: AppendFault[]): void {
    this.appends.push(...faults);
  }

  takeAppendFault(): AppendFault | undefined {
    return this.appends.shift();
  }
}
