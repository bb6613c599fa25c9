/**
 * Catch-up subscriptions to $all, modelled step by step on the server's filtered enumerator
 * (kurrent-io/KurrentDB release/v24.10, src/EventStore.Core/Services/Transport/Enumerators/
 * Enumerator.AllSubscriptionFiltered.cs, with Enumerator.cs for the buffer sizes and
 * src/EventStore.Core/Services/SubscriptionsService.cs `ProcessEventCommited` for live checkpoints):
 *
 * 1. Subscribe to live events FIRST, into a buffer of 32 that drops its oldest entry when full
 *    (`LiveChannelOptions`, `BoundedChannelFullMode.DropOldest`); every entry carries a sequence number.
 *    The confirmation carries the last indexed position.
 * 2. The start checkpoint is the given position ((-1, -1) from the start, the last indexed position from the
 *    end). At or past the last indexed position the subscription goes live at once.
 * 3. Catch-up reads pages (32 matching events or `maxSearchWindow` considered ones), skips every event at or
 *    below the checkpoint, moves the checkpoint to each event sent and to a page's start when nothing of the
 *    previous page was sent ((X, 0) shapes), sends a checkpoint every `interval` considered events and
 *    ALWAYS one at the end ((0, 0) when nothing else was ever reached).
 * 4. Live: `caughtUp`, then the buffer. Events at or below the checkpoint are skipped, silently: a
 *    checkpoint past the end of the log skips every later event up to it, live ones included. A gap in the
 *    sequence numbers (the buffer dropped entries) sends a checkpoint and goes back to 3; the server's
 *    "fell behind" message is not sent to clients (Streams.Read.cs: `SubscriptionFellBehind => null`), so the
 *    next sign of it is a second `caughtUp`.
 * 5. Live checkpoints: every committed record counts towards `interval`, matching or not, system or not.
 *
 * The server sends every message through a bounded channel of 32 (`BoundedChannelOptions`, Wait) to the
 * gRPC stream; here a write waits for the call's 'drain' instead, so a client that stops reading holds the
 * enumerator back just as HTTP/2 flow control holds the server's.
 */
import { randomUUID } from 'node:crypto';
import type * as grpc from '@grpc/grpc-js';
import type { ReadReq, ReadResp } from '@eventstore/db-client/generated/streams_pb';
import {
  comparePositions,
  positionOf,
  type AllFrom,
  type AllPosition,
  type FakeLog,
  type StoredEvent,
} from './log';
import {
  caughtUpResponse,
  checkpointResponse,
  confirmationResponse,
  eventResponse,
  type EventMatcher,
  type RpcError,
} from './wire';

/** Server: `Enumerator.ReadBatchSize`, the page size and the default search window. */
export const READ_BATCH_SIZE = 32;
/** Server: `Enumerator.MaxLiveEventBufferCount`. */
export const LIVE_BUFFER = 32;

const HEAD_OF_TF: AllPosition = { commit: -1n, prepare: -1n };
const FIRST_RECORD_OF_TF: AllPosition = { commit: 0n, prepare: 0n };

export type SubscriptionSpec = {
  from: AllFrom;
  /** Undefined: an unfiltered subscription (the server's AllSubscription: no checkpoints at all). */
  matcher?: EventMatcher;
  searchWindow: number;
  checkpointMultiplier: number;
  structuredIds: boolean;
  liveBuffer?: number;
  /** false for a server below 23.10, which never sends `caughtUp` (the message came with 23.10). */
  sendCaughtUp?: boolean;
};

type Call = grpc.ServerWritableStream<ReadReq, ReadResp>;

/** A running subscription the fake can end from the server side (see `FakeEventStoreDb.endSubscriptions`). */
export type RunningSubscription = { end(error: RpcError | null): void };

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

type LiveEntry = { seq: number; event?: StoredEvent; checkpoint?: AllPosition };

/** The live channel: bounded, drops its oldest entry when full, wakes one reader. */
class LiveBuffer {
  private readonly entries: LiveEntry[] = [];
  private wake: (() => void) | undefined;
  dropped = 0;
  constructor(private readonly capacity: number) {}

  push(entry: LiveEntry): void {
    if (this.entries.length >= this.capacity) {
      this.entries.shift();
      this.dropped += 1;
    }
    this.entries.push(entry);
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }

  async next(signal: AbortSignal): Promise<LiveEntry | undefined> {
    while (!signal.aborted) {
      const entry = this.entries.shift();
      if (entry) return entry;
      await new Promise<void>((resolve) => {
        this.wake = resolve;
        signal.addEventListener('abort', () => resolve(), { once: true });
      });
    }
    return undefined;
  }
}

const lte = (a: AllPosition, b: AllPosition): boolean => comparePositions(a, b) <= 0;
const lt = (a: AllPosition, b: AllPosition): boolean => comparePositions(a, b) < 0;

export type SubscriptionStats = { catchUps: number; pages: number; checkpoints: number; liveDropped: number };

export const runAllSubscription = async (
  call: Call,
  log: FakeLog,
  spec: SubscriptionSpec,
  signal: AbortSignal,
  stats?: SubscriptionStats,
): Promise<void> => {
  const write = sender(call, signal);
  const matches = spec.matcher ?? (() => true);
  const filtered = spec.matcher !== undefined;
  const interval = spec.checkpointMultiplier * spec.searchWindow;
  // MoveNextAsync: never an event at or below the last one sent, never a checkpoint at or below the last
  // checkpoint sent.
  let lastEvent: AllPosition | undefined;
  let lastCheckpoint: AllPosition | undefined;
  const sendEvent = async (e: StoredEvent): Promise<void> => {
    const p = positionOf(e);
    if (lastEvent && lte(p, lastEvent)) return;
    lastEvent = p;
    await write(eventResponse(e, spec.structuredIds));
  };
  const sendCheckpoint = async (p: AllPosition): Promise<void> => {
    // Unfiltered subscriptions (Enumerator.AllSubscription) send no checkpoints; HeadOfTf is never sent.
    if (!filtered || comparePositions(p, HEAD_OF_TF) === 0) return;
    if (lastCheckpoint && lte(p, lastCheckpoint)) return;
    lastCheckpoint = p;
    if (stats) stats.checkpoints += 1;
    await write(checkpointResponse(p));
  };

  // SubscribeToLive: every committed record, as SubscriptionsService.ProcessEventCommited sees it.
  const live = new LiveBuffer(spec.liveBuffer ?? LIVE_BUFFER);
  let nextSeq = 0;
  let liveCounter = 0;
  const stopListening = log.listen((e) => {
    if (matches(e)) live.push({ seq: ++nextSeq, event: e });
    if (!filtered) return;
    liveCounter += 1;
    if (liveCounter >= interval) {
      live.push({ seq: ++nextSeq, checkpoint: positionOf(e) });
      liveCounter = 0;
    }
  });
  try {
    const confirmationLastPos = log.lastPosition() ?? FIRST_RECORD_OF_TF;
    await write(confirmationResponse(randomUUID()));
    let checkpoint =
      spec.from === 'start' ? HEAD_OF_TF : spec.from === 'end' ? confirmationLastPos : spec.from;
    let seq = 0;

    const catchUp = async (): Promise<void> => {
      if (stats) stats.catchUps += 1;
      let counter = 0;
      let pos = checkpoint.commit < 0n && checkpoint.prepare < 0n ? FIRST_RECORD_OF_TF : checkpoint;
      while (!signal.aborted) {
        const page = log.readAllPage(pos, READ_BATCH_SIZE, spec.searchWindow, matches);
        if (stats) stats.pages += 1;
        for (const e of page.events) {
          // Only the first event of the first page can be at or below: pages start at the checkpoint.
          if (lte(positionOf(e), checkpoint)) continue;
          await sendEvent(e);
          checkpoint = positionOf(e);
        }
        // When CurrentPos == NextPos the record there has not been processed, so it cannot be the checkpoint.
        if (lt(checkpoint, page.currentPos) && lt(page.currentPos, page.nextPos))
          checkpoint = page.currentPos;
        counter += page.consideredEvents;
        if (page.isEndOfStream) {
          // The end of the log without any checkpoint update: a trivial one keeps the interval's promise.
          if (lt(checkpoint, FIRST_RECORD_OF_TF) && lt(FIRST_RECORD_OF_TF, page.nextPos)) {
            checkpoint = FIRST_RECORD_OF_TF;
          }
          await sendCheckpoint(checkpoint);
          return;
        }
        if (counter >= interval) {
          counter %= interval;
          await sendCheckpoint(checkpoint);
        }
        pos = page.nextPos;
      }
    };

    /** Answers when the buffer showed a gap (back to catch-up); runs until the call ends otherwise. */
    const goLive = async (): Promise<void> => {
      if (spec.sendCaughtUp !== false) await write(caughtUpResponse());
      for (;;) {
        const entry = await live.next(signal);
        if (!entry) return;
        const inSequence = entry.seq === seq + 1;
        seq = entry.seq;
        if (entry.event && lte(positionOf(entry.event), checkpoint)) continue;
        if (entry.checkpoint && lt(entry.checkpoint, checkpoint)) continue;
        if (!inSequence) {
          if (stats) stats.liveDropped = live.dropped;
          await sendCheckpoint(checkpoint);
          return;
        }
        if (entry.event) {
          await sendEvent(entry.event);
          checkpoint = positionOf(entry.event);
        } else if (entry.checkpoint) {
          await sendCheckpoint(entry.checkpoint);
          checkpoint = entry.checkpoint;
        }
      }
    };

    if (!lt(checkpoint, confirmationLastPos)) await goLive();
    while (!signal.aborted) {
      await catchUp();
      if (signal.aborted) return;
      await goLive();
    }
  } finally {
    stopListening();
  }
};
