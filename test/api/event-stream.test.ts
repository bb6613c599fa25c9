import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import type { EventStore } from '../../src/application/event-store';
import { createApp } from '../../src/api/app';
import { eventRoutes, type EventFeedOptions } from '../../src/api/routes/events';
import { expectProblem, registerVerified } from '../support/account-flows';
import type { TestApp } from '../support/app';
import { testBackends } from '../support/databases';
import {
  feedReader,
  readWholeFeed,
  revokeRole,
  startFeedApp,
  type Caller,
  type FeedEventJson,
} from '../support/feed';
import { bearer } from '../support/session-fixtures';
import { connectSse, eventsOf, type SseConnection } from '../support/sse';

/**
 * The stream endpoint on its own server, so a test can set the heartbeat, hold the shutdown signal, stop
 * the server, and count the store subscriptions the streams hold open.
 */
const streamServer = async (t: TestApp, options: EventFeedOptions) => {
  let open = 0;
  const store: EventStore = Object.create(t.services.store) as EventStore;
  store.subscribeToAll = (o) => ({
    async *[Symbol.asyncIterator]() {
      open += 1;
      try {
        yield* t.services.store.subscribeToAll(o);
      } finally {
        open -= 1;
      }
    },
  });
  const app = createApp({
    logger: t.services.logger,
    trustProxy: false,
    tables: [eventRoutes({ ...t.services, store }, options)],
  });
  const server = http.createServer(app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/events/stream`;
  return {
    url,
    server,
    openSubscriptions: () => open,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
};

const until = async (predicate: () => boolean, timeoutMs = 5000): Promise<void> => {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, 10));
  }
};

const failedLogin = (t: TestApp, stream = `user-${randomUUID()}`) =>
  t.services.store.appendToStream(stream, [
    { type: 'LoginFailed', data: { at: new Date().toISOString(), consecutiveFailures: 1 } },
  ]);

for (const backend of testBackends()) {
  describe(`GET /v1/events/stream (${backend.name})`, () => {
    let t: TestApp;
    let admin: Caller;
    let reader: Caller;
    let history: FeedEventJson[];
    let streams: SseConnection[] = [];
    const connect = async (url: string, headers: Record<string, string>) => {
      const c = await connectSse(url, headers);
      streams.push(c);
      return c;
    };

    beforeAll(async () => {
      ({ t, admin } = await startFeedApp(backend));
      reader = await feedReader(t, admin, ['events:read']);
      await registerVerified(t);
      history = (await readWholeFeed(t, reader)).events;
    });
    afterEach(() => {
      for (const s of streams) s.close();
      streams = [];
    });
    afterAll(() => t.close());

    it('catches up from `after` with the same event JSON as the page endpoint, then goes live', async () => {
      const s = await connect(`${t.url}/v1/events/stream?after=${history[1]!.position}`, reader.auth);
      expect(s.status).toBe(200);
      expect(s.headers.get('content-type')).toMatch(/^text\/event-stream/);
      await s.waitFor((f) => eventsOf(f).length >= history.length - 2);
      const caughtUp = s.frames.filter((f) => f.data !== undefined).slice(0, history.length - 2);
      expect(caughtUp.map((f) => JSON.parse(f.data!))).toEqual(history.slice(2));
      expect(caughtUp.map((f) => [f.id, f.event])).toEqual(history.slice(2).map((e) => [e.position, e.type]));

      const live = await failedLogin(t);
      await s.waitFor((f) => f.some((x) => x.id === live.position && x.event === 'LoginFailed'));
    });

    it('resumes after Last-Event-ID without repeating or losing an event', async () => {
      const s = await connect(`${t.url}/v1/events/stream?after=${history[0]!.position}`, {
        ...reader.auth,
        'last-event-id': history[2]!.position,
      });
      await s.waitFor((f) => eventsOf(f).length >= history.length - 3);
      expect(
        eventsOf(s.frames)
          .slice(0, history.length - 3)
          .map((e) => e.position),
      ).toEqual(history.slice(3).map((e) => e.position));
    });

    it('moves the last event id over events a type filter passes by', async () => {
      const s = await connect(`${t.url}/v1/events/stream?types=EmailVerified`, reader.auth);
      await s.waitFor((f) => eventsOf(f).length >= 1);
      const passed = await failedLogin(t);
      await s.waitFor((f) => f.some((x) => x.id !== undefined && x.id >= passed.position));
      expect(eventsOf(s.frames).every((e) => e.type === 'EmailVerified')).toBe(true);
    });

    it('refuses callers without events:read and a Last-Event-ID that is not a position', async () => {
      await expectProblem(await fetch(`${t.url}/v1/events/stream`), 401, 'invalid-token');
      await expectProblem(
        await fetch(`${t.url}/v1/events/stream`, { headers: admin.auth }),
        403,
        'forbidden',
      );
      await expectProblem(
        await fetch(`${t.url}/v1/events/stream`, { headers: { ...reader.auth, 'last-event-id': 'x' } }),
        400,
        'validation-failed',
      );
    });

    describe('on its own server', () => {
      let server: Awaited<ReturnType<typeof streamServer>>;
      let shutdown: AbortController;
      beforeEach(async () => {
        shutdown = new AbortController();
        server = await streamServer(t, { heartbeatMs: 100, shutdown: shutdown.signal });
      });
      afterEach(() => server.close());

      it('sends keep-alive comments while idle', async () => {
        const s = await connect(`${server.url}?after=${history.at(-1)!.position}`, reader.auth);
        await s.waitFor((f) => f.filter((x) => x.comments.includes('keep-alive')).length >= 2, 3000);
      });

      it('ends the store subscription when the client goes away', async () => {
        const s = await connect(server.url, reader.auth);
        await s.waitFor((f) => eventsOf(f).length > 0);
        expect(server.openSubscriptions()).toBe(1);
        s.close();
        await until(() => server.openSubscriptions() === 0);
      });

      it('ends every stream on service shutdown, by signal or when the server stops listening', async () => {
        const a = await connect(server.url, reader.auth);
        await a.waitFor((f) => eventsOf(f).length > 0);
        shutdown.abort();
        await a.ended;
        expect(server.openSubscriptions()).toBe(0);

        const other = await streamServer(t, { heartbeatMs: 60_000 });
        const b = await connect(other.url, reader.auth);
        await b.waitFor((f) => eventsOf(f).length > 0);
        // What a graceful shutdown does first: stop listening, then wait for open responses to finish.
        other.server.close();
        await b.ended;
        await other.close();
      });

      it('ends the stream once the caller loses events:read', async () => {
        const revoked = await feedReader(t, admin, ['events:read']);
        const s = await connect(server.url, bearer(revoked.accessToken));
        await s.waitFor((f) => eventsOf(f).length > 0);
        await revokeRole(t, admin, revoked.userId, 'events:read');
        await s.ended;
        const again = await fetch(server.url, { headers: revoked.auth });
        await expectProblem(again, 403, 'forbidden');
      });
    });
  });
}
