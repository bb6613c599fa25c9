/**
 * Catch-up subscriptions to $all: a confirmation, the history in pages, `caught_up`, then live events,
 * with checkpoints for filtered subscriptions. Modelled on the server's
 * `Enumerators.AllSubscriptionFiltered` (EventStore/EventStore, src/EventStore.Core/Services/Transport/Grpc).
 */
import { randomUUID } from 'node:crypto';
import type * as grpc from '@grpc/grpc-js';
import type { ReadReq, ReadResp } from '@eventstore/db-client/generated/streams_pb';
import type { AllFrom, FakeLog } from './log';
import {
  caughtUpResponse,
  checkpointResponse,
  confirmationResponse,
  eventResponse,
  type EventMatcher,
} from './wire';

/** Server: `Enumerators.ReadBatchSize`, also the search window when the client asks for none (`count`). */
export const READ_BATCH_SIZE = 32;

export type SubscriptionSpec = {
  from: AllFrom;
  matcher?: EventMatcher;
  searchWindow: number;
  checkpointMultiplier: number;
  structuredIds: boolean;
};

type Call = grpc.ServerWritableStream<ReadReq, ReadResp>;

/** Writes with backpressure: waits for 'drain' when the call's buffer is full. */
export const sender =
  (call: Call, signal: AbortSignal) =>
  async (resp: ReadResp): Promise<void> => {
    if (signal.aborted) return;
    if (call.write(resp)) return;
    await new Promise<void>((resolve) => {
      const done = (): void => {
        call.off('drain', done);
        signal.removeEventListener('abort', done);
        resolve();
      };
      call.on('drain', done);
      signal.addEventListener('abort', done, { once: true });
    });
  };

/**
 * "The positions provided to the subscriptions are exclusive": the server reads the one event at (or after)
 * the given position and starts after it.
 * Docs: https://developers.eventstore.com/clients/grpc/subscriptions.html (section "Subscribing from a
 * specific position").
 */
const startIndex = (log: FakeLog, from: AllFrom): number => {
  if (from === 'start') return 0;
  if (from === 'end') return log.all.length;
  const i = log.firstIndexAtOrAfter(from);
  return i < log.all.length ? i + 1 : log.all.length;
};

export const runAllSubscription = async (
  call: Call,
  log: FakeLog,
  spec: SubscriptionSpec,
  signal: AbortSignal,
): Promise<void> => {
  const send = sender(call, signal);
  const matches = spec.matcher ?? (() => true);
  // Checkpoints come every `checkpointIntervalMultiplier * maxSearchWindow` considered events, and only on
  // filtered subscriptions. Docs: https://developers.eventstore.com/clients/grpc/subscriptions.html
  // (section "Server-side filtering", "Checkpointing").
  const interval = spec.checkpointMultiplier * spec.searchWindow;
  await send(confirmationResponse(randomUUID()));
  let next = startIndex(log, spec.from);
  let caughtUp = false;
  let considered = 0;
  while (!signal.aborted) {
    if (next < log.all.length) {
      if (!caughtUp) {
        // Catch-up reads one search window per page; the checkpoint of a page is its last matching event,
        // or where the page started when nothing in it matched (server: FilteredReadAllEventsForward).
        const page = log.all.slice(next, next + spec.searchWindow);
        let checkpoint = page[0]!.position;
        for (const e of page) {
          if (!matches(e)) continue;
          await send(eventResponse(e, spec.structuredIds));
          checkpoint = e.position;
        }
        next += page.length;
        considered += page.length;
        if (spec.matcher && next < log.all.length && considered >= interval) {
          considered %= interval;
          await send(checkpointResponse(checkpoint));
        }
      } else {
        const e = log.all[next++]!;
        considered += 1;
        if (matches(e)) await send(eventResponse(e, spec.structuredIds));
        if (spec.matcher && considered >= interval) {
          considered = 0;
          await send(checkpointResponse(e.position));
        }
      }
      continue;
    }
    if (!caughtUp) {
      // `caught_up` (server >= 23.10) marks the switch from history to live.
      caughtUp = true;
      await send(caughtUpResponse());
      // Look at the log again before waiting: a write may have landed while the message was sent.
      continue;
    }
    await log.nextWrite(signal);
  }
};
