import { randomUUID } from 'node:crypto';
import { eventSchemas, parseAccountEvent } from '../../src/application/events/schemas';
import { expectProblem, registerVerified } from '../support/account-flows';
import type { TestApp } from '../support/app';
import { testBackends } from '../support/databases';
import {
  feedReader,
  getFeed,
  readWholeFeed,
  startFeedApp,
  type Caller,
  type FeedPage,
} from '../support/feed';

const isOrdered = (positions: string[]): boolean =>
  positions.every((p, i) => i === 0 || positions[i - 1]! < p);

for (const backend of testBackends()) {
  describe(`GET /v1/events (${backend.name})`, () => {
    let t: TestApp;
    let admin: Caller;
    let reader: Caller;
    let piiReader: Caller;
    let ada: { email: string; userId: string };

    beforeAll(async () => {
      ({ t, admin } = await startFeedApp(backend));
      reader = await feedReader(t, admin, ['events:read']);
      piiReader = await feedReader(t, admin, ['events:read', 'pii:read']);
      ada = await registerVerified(t, { username: 'ada' });
    });
    afterAll(() => t.close());

    it('answers 401 without a token and 403 to callers without events:read, admins included', async () => {
      const anonymous = await getFeed(t, null);
      expect(anonymous.headers.get('www-authenticate')).toMatch(/^Bearer/);
      await expectProblem(anonymous, 401, 'invalid-token');
      await expectProblem(await getFeed(t, admin), 403, 'forbidden');
      const plain = await feedReader(t, admin, ['pii:read']);
      await expectProblem(await getFeed(t, plain), 403, 'forbidden');
    });

    it('shows the account streams in global commit order, never the email reservation streams', async () => {
      const { events } = await readWholeFeed(t, reader);
      expect(events.length).toBeGreaterThan(5);
      expect(isOrdered(events.map((e) => e.position))).toBe(true);
      expect(new Set(events.map((e) => e.stream.split('-')[0]))).toEqual(new Set(['user', 'session']));
      const adaTypes = events.filter((e) => e.stream === `user-${ada.userId}`).map((e) => e.type);
      expect(adaTypes).toEqual(
        expect.arrayContaining(['UserRegistered', 'EmailVerificationRequested', 'EmailVerified']),
      );
      // Every event is valid against its own schema, the one the subscriber library types are made from.
      for (const e of events) expect(parseAccountEvent(e)).not.toBeNull();
    });

    it('pages with next_cursor = the last position looked at, and echoes `after` when nothing is new', async () => {
      const whole = await readWholeFeed(t, reader);
      const paged = await readWholeFeed(t, reader, { limit: '2' });
      expect(paged.events.map((e) => e.id)).toEqual(whole.events.map((e) => e.id));
      expect(paged.pages).toBeGreaterThan(whole.events.length / 2);

      const first = (await (await getFeed(t, reader, 'limit=2')).json()) as FeedPage;
      expect(first.events).toHaveLength(2);
      expect(first.next_cursor).toBe(first.events[1]!.position);

      const end = whole.cursor!;
      const idle = await getFeed(t, reader, `after=${end}`);
      expect(idle.headers.get('cache-control')).toBe('no-store');
      expect(await idle.json()).toEqual({ events: [], next_cursor: end });
    });

    it('filters by type prefix and still moves the cursor over what it passed', async () => {
      // The newest event is one the filter passes over.
      await t.services.store.appendToStream(`user-${randomUUID()}`, [
        { type: 'LoginFailed', data: { at: new Date().toISOString(), consecutiveFailures: 1 } },
      ]);
      const all = await readWholeFeed(t, reader);
      const verified = await readWholeFeed(t, reader, { types: 'EmailVerified,Role' });
      expect(verified.events.length).toBeGreaterThan(0);
      expect(new Set(verified.events.map((e) => e.type))).toEqual(new Set(['EmailVerified', 'RoleGranted']));
      expect(verified.events.map((e) => e.id)).toEqual(
        all.events.filter((e) => e.type === 'EmailVerified' || e.type.startsWith('Role')).map((e) => e.id),
      );
      // The filtered reader ends where the unfiltered one does, not at its own last match.
      expect(verified.cursor).toBe(all.cursor);
      expect(verified.cursor! > verified.events.at(-1)!.position).toBe(true);
    });

    it('redacts personal data without pii:read, opens it with pii:read, and never shows a hash or secret', async () => {
      const registered = (feed: {
        events: { type: string; stream: string; data: Record<string, unknown> }[];
      }) => feed.events.find((e) => e.type === 'UserRegistered' && e.stream === `user-${ada.userId}`)!;
      const redacted = await readWholeFeed(t, reader);
      const opened = await readWholeFeed(t, piiReader);
      expect(registered(redacted).data).toMatchObject({ email: '[redacted]', username: '[redacted]' });
      expect(registered(opened).data).toMatchObject({ email: ada.email.toLowerCase(), username: 'ada' });
      for (const feed of [redacted, opened]) {
        const text = JSON.stringify(feed.events);
        expect(text).not.toMatch(/pii:v1|password|_hash|nonce|refresh_token|\$argon2/i);
      }
      expect(JSON.stringify(redacted.events)).not.toContain(ada.email.toLowerCase());
    });

    it.each([
      ['after=not-a-position', 'after'],
      ['limit=0', 'limit'],
      ['limit=201', 'limit'],
      ['limit=ten', 'limit'],
      ['types=user-', 'types'],
      ['types=', 'types'],
      ['types=UserRegisterd', 'types'],
      ['types=EmailVerified,Nope', 'types'],
      ['cursor=abc', '(body)'],
      [`after=${'0'.repeat(16)}-${'0'.repeat(16)}&after=${'0'.repeat(16)}-${'0'.repeat(16)}`, 'after'],
    ])('refuses %s with 400 validation-failed', async (query, path) => {
      const body = await expectProblem(await getFeed(t, reader, query), 400, 'validation-failed');
      expect(body.errors?.map((e) => e.path.split('.')[0])).toContain(path);
    });

    it('names a type that matches no event type of the feed instead of answering an empty list', async () => {
      const body = (await expectProblem(
        await getFeed(t, reader, 'types=UserRegistered,UserRegisterd'),
        400,
        'validation-failed',
      )) as { errors?: { path: string; message: string }[] };
      expect(body.errors?.map((e) => e.message).join(' ')).toContain('matches no event type');
    });

    it('never skips an event while concurrent writers commit out of order', async () => {
      const start = (await readWholeFeed(t, reader)).cursor;
      const streams = Array.from({ length: 8 }, () => `user-${randomUUID()}`);
      const written: string[] = [];
      const seen: string[] = [];
      let cursor = start;
      let writing = true;
      const writers = Promise.all(
        streams.map(async (stream) => {
          for (let i = 0; i < 15; i++) {
            const id = randomUUID();
            await t.services.store.appendToStream(stream, [
              { id, type: 'LoginFailed', data: { at: new Date().toISOString(), consecutiveFailures: i + 1 } },
            ]);
            written.push(id);
          }
        }),
      ).finally(() => (writing = false));
      while (writing || seen.length < written.length) {
        const page = (await (await getFeed(t, reader, `limit=7&after=${cursor}`)).json()) as FeedPage;
        seen.push(...page.events.map((e) => e.id));
        cursor = page.next_cursor;
        if (!writing && page.events.length === 0 && seen.length < written.length) break;
      }
      await writers;
      expect(seen.length).toBe(written.length);
      expect(new Set(seen)).toEqual(new Set(written));
    });
  });

  describe(`GET /v1/events/schema (${backend.name})`, () => {
    let t: TestApp;
    beforeAll(async () => ({ t } = await startFeedApp(backend)));
    afterAll(() => t.close());

    it('publishes a JSON Schema for the envelope and every event type, without a token', async () => {
      const res = await fetch(`${t.url}/v1/events/schema`);
      expect(res.status).toBe(200);
      const body = (await res.json()) as {
        envelope: { type: string };
        events: Record<string, { $schema: string }>;
      };
      expect(body.envelope.type).toBe('object');
      expect(Object.keys(body.events).sort()).toEqual(Object.keys(eventSchemas).sort());
      expect(body.events.SessionStarted!.$schema).toMatch(/json-schema\.org/);
    });
  });
}
