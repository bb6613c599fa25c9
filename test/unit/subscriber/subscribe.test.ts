import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  CheckpointAheadOfFeedError,
  fileCheckpointStore,
  memoryCheckpointStore,
  subscribe,
  type AccountEvent,
  type FeedSource,
  type ReadRequest,
  type SourceMessage,
} from '../../../packages/subscriber/src';

const pos = (n: number): string => `${'0'.repeat(16)}-${n.toString(16).padStart(16, '0')}`;

const feedEvent = (
  n: number,
  type = 'LoginFailed',
  data: object = { at: new Date(n * 1000).toISOString(), consecutive_failures: 1 },
) => ({
  position: pos(n),
  stream: 'user-6c1c3a55-2d2a-4d6e-9d55-6f7e2bd1a001',
  revision: n,
  id: `6c1c3a55-2d2a-4d6e-9d55-${n.toString().padStart(12, '0')}`,
  type,
  occurred_at: new Date(n * 1000).toISOString(),
  schema_version: 1,
  data,
  metadata: { correlation_id: 'c', causation_id: 'c', actor: { type: 'user', id: null } },
});

/** A source over a fixed log that records every read it was asked for, then waits for more (a live feed). */
const logSource = (log: SourceMessage[]): FeedSource & { reads: ReadRequest[] } => {
  const reads: ReadRequest[] = [];
  return {
    reads,
    async *read(request) {
      reads.push(request);
      const start = request.after === null ? 0 : log.findIndex((m) => positionOf(m) > request.after!);
      for (const message of start < 0 ? [] : log.slice(start)) yield message;
      await new Promise<void>((resolve) => request.signal.addEventListener('abort', () => resolve()));
    },
  };
};

const positionOf = (m: SourceMessage): string =>
  m.kind === 'event' ? (m.event as { position: string }).position : m.position;

const until = async (predicate: () => boolean, timeoutMs = 5000): Promise<void> => {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, 5));
  }
};

const fast = { minMs: 1, maxMs: 5 };

describe('subscribe', () => {
  it('hands every event to the handler in order and moves the checkpoint after each', async () => {
    const source = logSource([1, 2, 3].map((n) => ({ kind: 'event', event: feedEvent(n) })));
    const checkpoints = memoryCheckpointStore();
    const seen: string[] = [];
    const ac = new AbortController();
    const done = subscribe({
      source,
      checkpointStore: checkpoints,
      signal: ac.signal,
      handler: (e) => {
        // The checkpoint still names the previous event while this one is handled.
        expect(checkpoints.current()).toBe(seen.length ? seen[seen.length - 1] : null);
        seen.push(e.position);
      },
    });
    await until(() => checkpoints.current() === pos(3));
    ac.abort();
    await done;
    expect(seen).toEqual([pos(1), pos(2), pos(3)]);
  });

  it('resumes from the stored checkpoint, not from the beginning', async () => {
    const source = logSource([1, 2, 3].map((n) => ({ kind: 'event', event: feedEvent(n) })));
    const seen: string[] = [];
    const ac = new AbortController();
    const checkpoints = memoryCheckpointStore(pos(2));
    const done = subscribe({
      source,
      checkpointStore: checkpoints,
      signal: ac.signal,
      handler: (e) => void seen.push(e.position),
    });
    await until(() => checkpoints.current() === pos(3));
    ac.abort();
    await done;
    expect(seen).toEqual([pos(3)]);
    expect(source.reads[0]!.after).toBe(pos(2));
  });

  it('retries a failing event from the checkpoint with backoff and never skips it', async () => {
    const source = logSource([1, 2, 3].map((n) => ({ kind: 'event', event: feedEvent(n) })));
    const checkpoints = memoryCheckpointStore();
    const seen: string[] = [];
    const errors: number[] = [];
    let failures = 0;
    const ac = new AbortController();
    const done = subscribe({
      source,
      checkpointStore: checkpoints,
      signal: ac.signal,
      backoff: fast,
      onError: (_e, retry) => errors.push(retry.attempt),
      handler: (e) => {
        if (e.position === pos(2) && failures++ < 3) throw new Error('downstream database down');
        seen.push(e.position);
      },
    });
    await until(() => checkpoints.current() === pos(3));
    ac.abort();
    await done;
    expect(seen).toEqual([pos(1), pos(2), pos(3)]);
    expect(errors).toEqual([1, 2, 3]);
    expect(source.reads.map((r) => r.after)).toEqual([null, pos(1), pos(1), pos(1)]);
  });

  it('delivers an event again when its checkpoint could not be saved (at-least-once)', async () => {
    const source = logSource([1, 2].map((n) => ({ kind: 'event', event: feedEvent(n) })));
    const inner = memoryCheckpointStore();
    let refused = false;
    const checkpoints = {
      load: inner.load,
      save: async (p: string) => {
        if (p === pos(2) && !refused) {
          refused = true;
          throw new Error('disk full');
        }
        await inner.save(p);
      },
    };
    const seen: string[] = [];
    const ac = new AbortController();
    const done = subscribe({
      source,
      checkpointStore: checkpoints,
      signal: ac.signal,
      backoff: fast,
      handler: (e) => void seen.push(e.position),
    });
    await until(() => inner.current() === pos(2));
    ac.abort();
    await done;
    expect(seen).toEqual([pos(1), pos(2), pos(2)]);
  });

  it('moves past checkpoints and unknown event types without calling the handler', async () => {
    const source = logSource([
      { kind: 'event', event: feedEvent(1) },
      { kind: 'checkpoint', position: pos(5) },
      { kind: 'event', event: feedEvent(6, 'SomethingAddedLater', { anything: true }) },
    ]);
    const checkpoints = memoryCheckpointStore();
    const seen: AccountEvent[] = [];
    const ac = new AbortController();
    const done = subscribe({
      source,
      checkpointStore: checkpoints,
      signal: ac.signal,
      handler: (e) => void seen.push(e),
    });
    await until(() => checkpoints.current() === pos(6));
    ac.abort();
    await done;
    expect(seen.map((e) => e.type)).toEqual(['LoginFailed']);
  });

  it('holds at an event of a known type whose shape is wrong, rather than dropping it', async () => {
    const source = logSource([
      { kind: 'event', event: feedEvent(1) },
      { kind: 'event', event: feedEvent(2, 'LoginFailed', { at: 'not a time' }) },
    ]);
    const checkpoints = memoryCheckpointStore();
    let errors = 0;
    const ac = new AbortController();
    const done = subscribe({
      source,
      checkpointStore: checkpoints,
      signal: ac.signal,
      backoff: fast,
      onError: () => void errors++,
      handler: () => undefined,
    });
    await until(() => errors >= 3);
    ac.abort();
    await done;
    expect(checkpoints.current()).toBe(pos(1));
  });

  it('passes the type filter to the source and reopens a source that ended by itself', async () => {
    let opened = 0;
    const source: FeedSource = {
      async *read() {
        opened += 1;
        yield { kind: 'checkpoint', position: pos(opened) };
      },
    };
    const checkpoints = memoryCheckpointStore();
    const ac = new AbortController();
    const types: (readonly string[] | undefined)[] = [];
    const recording: FeedSource = {
      read: (r) => {
        types.push(r.types);
        return source.read(r);
      },
    };
    const done = subscribe({
      source: recording,
      checkpointStore: checkpoints,
      signal: ac.signal,
      backoff: fast,
      types: ['User'],
      handler: () => undefined,
    });
    await until(() => opened >= 3);
    ac.abort();
    await done;
    expect(types[0]).toEqual(['User']);
  });
});

describe('subscribe with a checkpoint past the end of the source', () => {
  it('rejects with CheckpointAheadOfFeedError before reading, and tells onError once', async () => {
    const source = { ...logSource([{ kind: 'event', event: feedEvent(1) }]), head: async () => pos(1) };
    const errors: unknown[] = [];
    const handled: string[] = [];
    const done = subscribe({
      source,
      checkpointStore: memoryCheckpointStore(pos(9)),
      signal: new AbortController().signal,
      handler: (e) => void handled.push(e.position),
      onError: (e) => errors.push(e),
      backoff: fast,
    });
    await expect(done).rejects.toBeInstanceOf(CheckpointAheadOfFeedError);
    await expect(done).rejects.toMatchObject({ checkpoint: pos(9), head: pos(1) });
    expect(source.reads).toEqual([]);
    expect(handled).toEqual([]);
    expect(errors).toHaveLength(1);
  });

  it('follows as usual from a checkpoint at or before the head', async () => {
    const source = {
      ...logSource([1, 2].map((n) => ({ kind: 'event' as const, event: feedEvent(n) }))),
      head: async () => pos(2),
    };
    const checkpoints = memoryCheckpointStore(pos(1));
    const ac = new AbortController();
    const done = subscribe({
      source,
      checkpointStore: checkpoints,
      signal: ac.signal,
      handler: () => undefined,
    });
    await until(() => checkpoints.current() === pos(2));
    ac.abort();
    await done;
  });
});

describe('fileCheckpointStore', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'checkpoint-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('starts empty, keeps the last saved position across instances, and leaves no temporary file', async () => {
    const file = path.join(dir, 'nested', 'checkpoint.json');
    expect(await fileCheckpointStore(file).load()).toBeNull();
    await fileCheckpointStore(file).save(pos(7));
    await fileCheckpointStore(file).save(pos(9));
    expect(await fileCheckpointStore(file).load()).toBe(pos(9));
    expect(readdirSync(path.dirname(file))).toEqual(['checkpoint.json']);
  });
});
