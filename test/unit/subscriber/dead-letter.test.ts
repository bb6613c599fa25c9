import {
  HandlerGaveUpError,
  memoryCheckpointStore,
  subscribe,
  type AccountEvent,
  type FeedSource,
  type SourceMessage,
} from '../../../packages/subscriber/src';

const pos = (n: number): string => `${'0'.repeat(16)}-${n.toString(16).padStart(16, '0')}`;

const feedEvent = (n: number) => ({
  position: pos(n),
  stream: 'user-6c1c3a55-2d2a-4d6e-9d55-6f7e2bd1a001',
  revision: n,
  id: `6c1c3a55-2d2a-4d6e-9d55-${n.toString().padStart(12, '0')}`,
  type: 'LoginFailed',
  occurred_at: new Date(n * 1000).toISOString(),
  schema_version: 1,
  data: { at: new Date(n * 1000).toISOString(), consecutive_failures: 1 },
  metadata: { correlation_id: 'c', causation_id: 'c', actor: { type: 'user', id: null } },
});

const logSource = (log: SourceMessage[]): FeedSource => ({
  async *read(request) {
    const start =
      request.after === null
        ? 0
        : log.findIndex((m) => (m as { event: { position: string } }).event.position > request.after!);
    for (const message of start < 0 ? [] : log.slice(start)) yield message;
    await new Promise<void>((resolve) => request.signal.addEventListener('abort', () => resolve()));
  },
});

const until = async (predicate: () => boolean, timeoutMs = 5000): Promise<void> => {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, 5));
  }
};

const fast = { minMs: 1, maxMs: 2 };
const log = (): SourceMessage[] => [1, 2, 3].map((n) => ({ kind: 'event', event: feedEvent(n) }));

describe('dead letters', () => {
  it('park: after N failures on one event it is handed over, counted, and the subscriber goes on', async () => {
    const checkpoints = memoryCheckpointStore();
    const parked: { event: AccountEvent; error: unknown; failures: number }[] = [];
    const counted: string[] = [];
    const handled: string[] = [];
    let attemptsOn2 = 0;
    const ac = new AbortController();
    const done = subscribe({
      source: logSource(log()),
      checkpointStore: checkpoints,
      signal: ac.signal,
      backoff: fast,
      deadLetter: {
        afterFailures: 3,
        action: 'park',
        onParked: (event, error, failures) => void parked.push({ event, error, failures }),
        counter: { inc: ({ type }) => void counted.push(type) },
      },
      handler: (e) => {
        if (e.position === pos(2)) {
          attemptsOn2 += 1;
          throw new Error('poison');
        }
        handled.push(e.position);
      },
    });
    await until(() => checkpoints.current() === pos(3));
    ac.abort();
    await done;
    expect(attemptsOn2).toBe(3);
    expect(handled).toEqual([pos(1), pos(3)]);
    expect(parked).toHaveLength(1);
    expect(parked[0]).toMatchObject({ event: { position: pos(2) }, failures: 3 });
    expect((parked[0]!.error as Error).message).toBe('poison');
    expect(counted).toEqual(['LoginFailed']);
  });

  it('a handler that recovers before N failures is not parked; failures count per event', async () => {
    const checkpoints = memoryCheckpointStore();
    let attempts = 0;
    const parked: string[] = [];
    const ac = new AbortController();
    const done = subscribe({
      source: logSource(log()),
      checkpointStore: checkpoints,
      signal: ac.signal,
      backoff: fast,
      deadLetter: { afterFailures: 3, action: 'park', onParked: (e) => void parked.push(e.position) },
      handler: (e) => {
        if (e.position === pos(2) && ++attempts < 3) throw new Error('flaky');
      },
    });
    await until(() => checkpoints.current() === pos(3));
    ac.abort();
    await done;
    expect(parked).toEqual([]);
    expect(attempts).toBe(3);
  });

  it('an onParked that throws parks nothing: the event is retried', async () => {
    const checkpoints = memoryCheckpointStore();
    let parkCalls = 0;
    const ac = new AbortController();
    const done = subscribe({
      source: logSource(log()),
      checkpointStore: checkpoints,
      signal: ac.signal,
      backoff: fast,
      deadLetter: {
        afterFailures: 1,
        action: 'park',
        onParked: () => {
          parkCalls += 1;
          if (parkCalls < 3) throw new Error('dead-letter store down');
        },
      },
      handler: (e) => {
        if (e.position === pos(2)) throw new Error('poison');
      },
    });
    await until(() => checkpoints.current() === pos(3));
    ac.abort();
    await done;
    expect(parkCalls).toBe(3);
  });

  it('stop: rejects with HandlerGaveUpError naming the event, checkpoint before it', async () => {
    const checkpoints = memoryCheckpointStore();
    const ac = new AbortController();
    const outcome = subscribe({
      source: logSource(log()),
      checkpointStore: checkpoints,
      signal: ac.signal,
      backoff: fast,
      deadLetter: { afterFailures: 2, action: 'stop' },
      handler: (e) => {
        if (e.position === pos(2)) throw new Error('poison');
      },
    });
    const error = await outcome.then(
      () => null,
      (e: unknown) => e,
    );
    ac.abort();
    expect(error).toBeInstanceOf(HandlerGaveUpError);
    expect(error).toMatchObject({ failures: 2, event: { position: pos(2) } });
    expect(checkpoints.current()).toBe(pos(1));
  });

  it('refuses a nonsensical afterFailures', async () => {
    await expect(
      subscribe({
        source: logSource([]),
        checkpointStore: memoryCheckpointStore(),
        signal: new AbortController().signal,
        handler: () => undefined,
        deadLetter: { afterFailures: 0, action: 'park' },
      }),
    ).rejects.toThrow(RangeError);
  });
});
