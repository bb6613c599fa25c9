import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startWelcomeService } from '../../examples/welcome-service/src/welcome-service';
import type { WelcomeStore } from '../../examples/welcome-service/src/welcome-store';
import {
  fileCheckpointStore,
  httpFeed,
  type CheckpointStore,
  type FeedSource,
  type ReadRequest,
} from '../../packages/subscriber/src';
import { register, registerVerified } from '../support/account-flows';
import type { TestApp } from '../support/app';
import { testBackends } from '../support/databases';
import { feedReader, readWholeFeed, startFeedApp, type Caller } from '../support/feed';
import { postJson } from '../support/session-fixtures';

/** The HTTP feed, recording what it was asked for and every event it handed out. */
const recordingFeed = (t: TestApp, reader: Caller) => {
  const inner = httpFeed({
    baseUrl: t.url,
    getAccessToken: () => reader.accessToken,
    idle: { minMs: 20, maxMs: 100 },
  });
  const reads: ReadRequest[] = [];
  const delivered: string[] = [];
  const source: FeedSource = {
    async *read(request) {
      reads.push(request);
      for await (const message of inner.read(request)) {
        if (message.kind === 'event') delivered.push((message.event as { id: string }).id);
        yield message;
      }
    },
  };
  return { source, reads, delivered };
};

const until = async (
  what: string,
  predicate: () => boolean | Promise<boolean>,
  timeoutMs = 15_000,
): Promise<void> => {
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`not reached in time: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
};

const welcomedIds = (store: WelcomeStore): string[] => store.welcomes().map((w) => w.user_id);

for (const backend of testBackends()) {
  describe(`a downstream service following the feed (${backend.name})`, () => {
    let t: TestApp;
    let admin: Caller;
    let reader: Caller;
    let dataDir: string;
    const running: { stop: AbortController; stopped: Promise<void> }[] = [];
    /** Starts the example; whatever a test leaves running is stopped after it. */
    const start = async (options: Omit<Parameters<typeof startWelcomeService>[0], 'dataDir' | 'signal'>) => {
      const stop = new AbortController();
      const run = await startWelcomeService({ ...options, dataDir, signal: stop.signal });
      running.push({ stop, stopped: run.stopped });
      return { ...run, stop: async () => (stop.abort(), await run.stopped) };
    };

    beforeAll(async () => {
      ({ t, admin } = await startFeedApp(backend));
      reader = await feedReader(t, admin, ['events:read', 'pii:read']);
    });
    beforeEach(() => {
      dataDir = mkdtempSync(path.join(os.tmpdir(), 'welcome-'));
    });
    afterEach(async () => {
      for (const r of running.splice(0)) r.stop.abort();
      await Promise.all(running.map((r) => r.stopped));
      rmSync(dataDir, { recursive: true, force: true });
    });
    afterAll(() => t.close());

    it('builds its table from zero, follows live, and resumes after a stop with no loss and no duplicate', async () => {
      const before = [await registerVerified(t, { username: 'first' }), await registerVerified(t)];
      const pending = await register(t);

      const first = recordingFeed(t, reader);
      const run1 = await start({ source: first.source });
      await until('first read', () => first.reads.length > 0);
      expect(first.reads[0]!.after).toBeNull();
      await until('history welcomed', () => before.every((u) => welcomedIds(run1.store).includes(u.userId)));
      expect(welcomedIds(run1.store)).not.toContain(pending.userId);

      const live = await registerVerified(t);
      expect((await postJson(t, '/v1/auth/verify-email', { token: pending.token })).status).toBe(200);
      await until('live users welcomed', () =>
        [live.userId, pending.userId].every((id) => welcomedIds(run1.store).includes(id)),
      );

      await run1.stop();
      const checkpoint = await fileCheckpointStore(path.join(dataDir, 'checkpoint.json')).load();
      expect(checkpoint).not.toBeNull();

      // While it is down the service goes on: a new user, and an erasure.
      const whileDown = await registerVerified(t);
      const erased = before[1]!;
      const erase = await postJson(
        t,
        `/v1/admin/users/${erased.userId}/erase`,
        { reason: 'user request' },
        admin.auth,
      );
      expect(erase.status).toBe(204);

      const second = recordingFeed(t, reader);
      const run2 = await start({ source: second.source });
      try {
        await until('first read', () => second.reads.length > 0);
        expect(second.reads[0]!.after).toBe(checkpoint);
        await until('resumed', () => welcomedIds(run2.store).includes(whileDown.userId));
        await until(
          'erasure applied',
          () => !run2.store.verifiedUsers().some((u) => u.user_id === erased.userId),
        );
        // Nothing before the checkpoint came again: the restart did not replay the history.
        expect(second.delivered.filter((id) => first.delivered.includes(id))).toEqual([]);
      } finally {
        await run2.stop();
      }

      const everyone = [admin, reader, ...before, pending, live, whileDown].map((u) => u.userId);
      expect([...welcomedIds(run2.store)].sort()).toEqual([...everyone].sort());
      const users = new Map(run2.store.verifiedUsers().map((u) => [u.user_id, u]));
      expect(users.get(before[0]!.userId)).toMatchObject({
        email: before[0]!.email.toLowerCase(),
        username: 'first',
      });
      expect(users.has(erased.userId)).toBe(false);
      expect(run2.store.welcomes().find((w) => w.user_id === erased.userId)!.email).toBeNull();
      expect(JSON.stringify(run2.store.welcomes())).not.toContain(erased.email.toLowerCase());
    });

    it('gets an event again after a crash between its effect and its checkpoint, and welcomes once', async () => {
      const user = await registerVerified(t);
      const verified = (await readWholeFeed(t, reader, { types: 'EmailVerified' })).events.find(
        (e) => e.stream === `user-${user.userId}`,
      )!;
      const file = fileCheckpointStore(path.join(dataDir, 'checkpoint.json'));
      let crashed = false;
      // Refuses the checkpoint of the verification once, as a process killed right after the welcome would.
      const crashing: CheckpointStore = {
        load: file.load,
        save: async (position) => {
          if (position === verified.position && !crashed) {
            crashed = true;
            throw new Error('killed before the checkpoint was written');
          }
          await file.save(position);
        },
      };
      const feed = recordingFeed(t, reader);
      const run = await start({
        source: feed.source,
        checkpointStore: crashing,
        backoff: { minMs: 10, maxMs: 50 },
      });
      try {
        await until('checkpoint past it', async () => ((await file.load()) ?? '') >= verified.position);
      } finally {
        await run.stop();
      }
      expect(crashed).toBe(true);
      // The subscriber reopened the feed from the last saved checkpoint and got the verification again...
      expect(feed.reads.length).toBeGreaterThanOrEqual(2);
      expect(feed.delivered.filter((id) => id === verified.id)).toHaveLength(2);
      // ...and the table knew it had already welcomed that user.
      expect(welcomedIds(run.store).filter((id) => id === user.userId)).toHaveLength(1);
    });
  });
}
