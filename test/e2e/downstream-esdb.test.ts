import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { eventMetadata } from '../../src/application/write/handle';
import { encodePosition, type NewEvent } from '../../src/application/event-store';
import { EventStoreDbEventStore } from '../../src/infrastructure/event-store/esdb-event-store';
import { startWelcomeService } from '../../examples/welcome-service/src/welcome-service';
import {
  CheckpointAheadOfFeedError,
  eventStoreDb,
  memoryCheckpointStore,
  subscribe,
  type AccountEvent,
} from '../../packages/subscriber/src';
import { FakeEventStoreDb, whenBack } from '../support/esdb-fake';

const metadata = () =>
  eventMetadata({
    correlationId: randomUUID(),
    causationId: randomUUID(),
    actor: { type: 'system', id: null },
    now: new Date(),
  });

const sealed = (what: string) => `pii:v1:${Buffer.from(what).toString('base64url')}.Y2lwaGVy.dGFn`;
const now = () => new Date().toISOString();

const registered = (userId: string): NewEvent[] => [
  {
    type: 'UserRegistered',
    data: {
      userId,
      email: sealed('ada@example.com'),
      passwordHash: sealed('$argon2id$x'),
      registeredAt: now(),
    },
    metadata: metadata(),
  },
  { type: 'EmailVerified', data: { at: now() }, metadata: metadata() },
];

const until = async (what: string, predicate: () => boolean, timeoutMs = 10_000): Promise<void> => {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`not reached in time: ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
};

describe('the native EventStoreDB source (wire fake)', () => {
  let fake: FakeEventStoreDb;
  let store: EventStoreDbEventStore;

  beforeEach(async () => {
    fake = await FakeEventStoreDb.start();
    store = new EventStoreDbEventStore(fake.connectionString);
  });
  afterEach(async () => {
    await store.close();
    await fake.stop();
  });

  it('delivers the user- streams only, presented and redacted, then live, and resumes from its checkpoint', async () => {
    const ada = randomUUID();
    const bob = randomUUID();
    await store.appendToStream(`user-${ada}`, registered(ada));
    await store.appendToStream(`email-${'ab'.repeat(32)}`, [
      { type: 'EmailReserved', data: { userId: bob, at: now() }, metadata: metadata() },
    ]);
    await store.appendToStream(`session-${randomUUID()}`, [
      { type: 'SessionEnded', data: { reason: 'logout', at: now() }, metadata: metadata() },
    ]);
    await store.appendToStream(`user-${bob}`, registered(bob));

    const checkpoints = memoryCheckpointStore();
    const seen: AccountEvent[] = [];
    const source = eventStoreDb({ connectionString: fake.connectionString });
    let stop = new AbortController();
    let done = subscribe({
      source,
      checkpointStore: checkpoints,
      signal: stop.signal,
      handler: (e) => void seen.push(e),
    });
    await until('history', () => seen.length === 4);
    expect(seen.map((e) => [e.stream, e.type])).toEqual([
      [`user-${ada}`, 'UserRegistered'],
      [`user-${ada}`, 'EmailVerified'],
      [`user-${bob}`, 'UserRegistered'],
      [`user-${bob}`, 'EmailVerified'],
    ]);
    expect(seen[0]!.data).toEqual({ user_id: ada, email: '[redacted]', registered_at: expect.any(String) });
    expect(JSON.stringify(seen)).not.toMatch(/pii:v1|password|hash/i);
    expect((await store.readAll()).events.map((e) => e.position)).toContain(seen[3]!.position);

    const live = await store.appendToStream(`user-${ada}`, [
      { type: 'UserDeactivated', data: { at: now() }, metadata: metadata() },
    ]);
    await until('live', () => seen.length === 5);
    expect(seen[4]!.position).toBe(live.position);
    await until('checkpoint', () => checkpoints.current() === live.position);
    stop.abort();
    await done;

    await store.appendToStream(`user-${bob}`, [
      { type: 'UserErased', data: { at: now() }, metadata: metadata() },
    ]);
    stop = new AbortController();
    done = subscribe({
      source,
      checkpointStore: checkpoints,
      signal: stop.signal,
      handler: (e) => void seen.push(e),
    });
    await until('resumed', () => seen.length === 6);
    await new Promise((r) => setTimeout(r, 100));
    stop.abort();
    await done;
    expect(seen.map((e) => e.type).slice(4)).toEqual(['UserDeactivated', 'UserErased']);
    expect(new Set(seen.map((e) => e.id)).size).toBe(seen.length);
  });

  it('runs the welcome service natively, and rides out a lost server without losing an event', async () => {
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'welcome-esdb-'));
    const stop = new AbortController();
    const errors: unknown[] = [];
    try {
      const first = randomUUID();
      await store.appendToStream(`user-${first}`, registered(first));
      const run = await startWelcomeService({
        source: eventStoreDb({ connectionString: fake.connectionString }),
        dataDir,
        signal: stop.signal,
        backoff: { minMs: 20, maxMs: 200 },
        onError: (e) => errors.push(e),
      });
      await until('first welcomed', () => run.store.welcomes().length === 1);

      // Whether the subscriber sees the outage as an error depends on where its call was when the server
      // went: a call still connecting simply completes against the restarted server. The promise under
      // test is that no event is lost or repeated either way (the adapter's own tests cover the error).
      await fake.stop();
      await fake.restart();
      const second = randomUUID();
      await whenBack(() => store.appendToStream(`user-${second}`, registered(second)));
      await until('second welcomed after the outage', () => run.store.welcomes().length === 2, 20_000);
      expect(run.store.welcomes().map((w) => [w.user_id, w.email])).toEqual([
        [first, '[redacted]'],
        [second, '[redacted]'],
      ]);
      stop.abort();
      await run.stopped;
    } finally {
      stop.abort();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('refuses a stored checkpoint past the end of EventStoreDB instead of skipping up to it', async () => {
    const ada = randomUUID();
    await store.appendToStream(`user-${ada}`, registered(ada));
    const seen: AccountEvent[] = [];
    const done = subscribe({
      source: eventStoreDb({ connectionString: fake.connectionString }),
      // Stored while following an earlier, longer store (its volume was recreated since).
      checkpointStore: memoryCheckpointStore(encodePosition(0xfffffffn, 0xfffffffn)),
      signal: new AbortController().signal,
      handler: (e) => void seen.push(e),
    });
    await expect(done).rejects.toBeInstanceOf(CheckpointAheadOfFeedError);
    expect(seen).toEqual([]);
  });
});

/**
 * With the system projections on (docker-compose.yml), the `$by_category` projection writes a `$>` link
 * event to `$ce-user` after every event of a `user-` stream; the links sit in `$all` with positions of their
 * own. The library follows `$all` by the `user-` prefix: every account event once, at its own position, and
 * never a link.
 */
describe('the native EventStoreDB source beside $ce- link events (wire fake)', () => {
  it('delivers each account event once, at its own position, and no link event', async () => {
    const fake = await FakeEventStoreDb.start({ categoryStreams: true });
    const store = new EventStoreDbEventStore(fake.connectionString);
    try {
      const ada = randomUUID();
      const bob = randomUUID();
      await store.appendToStream(`user-${ada}`, registered(ada));
      await store.appendToStream(`user-${bob}`, registered(bob));
      expect(
        fake.log.all.filter((e) => e.streamId === '$ce-user').map((e) => new TextDecoder().decode(e.data)),
      ).toEqual([`0@user-${ada}`, `1@user-${ada}`, `0@user-${bob}`, `1@user-${bob}`]);
      const checkpoints = memoryCheckpointStore();
      const seen: AccountEvent[] = [];
      const stop = new AbortController();
      const done = subscribe({
        source: eventStoreDb({ connectionString: fake.connectionString }),
        checkpointStore: checkpoints,
        signal: stop.signal,
        handler: (e) => void seen.push(e),
      });
      await until('history', () => seen.length === 4);
      const live = await store.appendToStream(`user-${ada}`, [
        { type: 'UserDeactivated', data: { at: now() }, metadata: metadata() },
      ]);
      await until('live', () => seen.length === 5);
      // The link written after the live event moves the checkpoint past it without delivering anything.
      await until('checkpoint past the link', () => (checkpoints.current() ?? '') > live.position);
      stop.abort();
      await done;
      const own = (await store.readAll({ filter: { streamPrefixes: ['user-'] } })).events;
      expect(seen.map((e) => e.position)).toEqual(own.map((e) => e.position));
      expect(seen.map((e) => e.stream)).toEqual([
        `user-${ada}`,
        `user-${ada}`,
        `user-${bob}`,
        `user-${bob}`,
        `user-${ada}`,
      ]);
    } finally {
      await store.close();
      await fake.stop();
    }
  });
});
