import amqp from 'amqplib';
import { startTestApp, type TestApp } from '../support/app';
import { testBackends } from '../support/databases';
import {
  JOURNEY_SEED_TOPICS,
  journey,
  makeAdmin,
  rabbitQueue,
  RABBITMQ_URL,
  relayConfigFile,
  uniqueName,
  waitUntil,
} from '../support/relay';

const rabbitUp = async (): Promise<boolean> => {
  try {
    const c = await amqp.connect(RABBITMQ_URL);
    await c.close();
    return true;
  } catch {
    return false;
  }
};

for (const backend of testBackends()) {
  describe(`relay to RabbitMQ (${backend.name})`, () => {
    let up = false;
    beforeAll(async () => {
      up = await rabbitUp();
      if (!up && process.env.CI === 'true') throw new Error(`RabbitMQ is not reachable at ${RABBITMQ_URL}`);
    });

    it('publishes the account journey in order, with the seed topic names, headers and the feed JSON', async () => {
      if (!up) return console.warn('RabbitMQ not reachable: skipped');
      const exchange = uniqueName('identity-test');
      const queue = await rabbitQueue(exchange);
      const t: TestApp = await startTestApp(backend, {
        env: {
          RELAY_CONFIG: relayConfigFile([
            { name: 'rabbit', type: 'rabbitmq', url: RABBITMQ_URL, exchange, topics: 'seed', from: 'start' },
          ]),
        },
      });
      try {
        const admin = await makeAdmin(t);
        const userId = await journey(t, admin);
        const mine = () => queue.received.filter((m) => m.headers.user_id === userId);
        await waitUntil('the deactivation on the queue', () =>
          mine().some((m) => m.routingKey === 'user_deactivated'),
        );
        const got = mine();
        const topics = got.map((m) => m.routingKey);
        expect(topics.filter((k) => JOURNEY_SEED_TOPICS.includes(k))).toEqual(JOURNEY_SEED_TOPICS);
        // Global order: positions strictly increasing, each event once.
        const positions = got.map((m) => m.headers.position);
        expect([...positions].sort()).toEqual(positions);
        expect(new Set(got.map((m) => m.messageId)).size).toBe(got.length);
        for (const m of got) {
          expect(m.messageId).toBe(m.body.id);
          expect(m.headers).toMatchObject({
            type: m.body.type,
            stream: m.body.stream,
            position: m.body.position,
            schema_version: '1',
          });
          expect(m.headers.correlation_id).toEqual(expect.any(String));
        }
        // The body is the feed's JSON: personal data redacted (pii is false by default), no secrets.
        const registered = got.find((m) => m.routingKey === 'user_registered')!;
        expect(registered.body.data.email).toBe('[redacted]');
        expect(JSON.stringify(got.map((m) => m.body))).not.toMatch(/argon2|password_hash|hash"/);
        // The login is the session's start, and names the user.
        const login = got.find((m) => m.routingKey === 'user_logged_in')!;
        expect(login.headers.stream).toMatch(/^session-/);
        // Only the feed's streams: no email reservation bookkeeping.
        expect(queue.received.some((m) => (m.headers.stream ?? '').startsWith('email-'))).toBe(false);
      } finally {
        await t.close();
        await queue.close();
      }
    });

    it('pii: true opens personal data; topics: type names topics by event type; types filters by prefix', async () => {
      if (!up) return console.warn('RabbitMQ not reachable: skipped');
      const exchange = uniqueName('identity-test');
      const queue = await rabbitQueue(exchange);
      const t = await startTestApp(backend, {
        env: {
          RELAY_CONFIG: relayConfigFile([
            {
              name: 'typed',
              type: 'rabbitmq',
              url: RABBITMQ_URL,
              exchange,
              topics: 'type',
              pii: true,
              types: ['UserRegistered', 'Password'],
              from: 'start',
            },
          ]),
        },
      });
      try {
        const admin = await makeAdmin(t);
        const userId = await journey(t, admin);
        const mine = () => queue.received.filter((m) => m.headers.user_id === userId);
        await waitUntil('the reset on the queue', () =>
          mine().some((m) => m.routingKey === 'PasswordResetCompleted'),
        );
        const keys = mine().map((m) => m.routingKey);
        expect(keys).toEqual(['UserRegistered', 'PasswordResetRequested', 'PasswordResetCompleted']);
        const registered = mine()[0]!;
        expect(registered.body.data.email).toMatch(/@example\.com$/);
      } finally {
        await t.close();
        await queue.close();
      }
    });

    it('from: now starts a new target at the head; /health/ready and /metrics show the target', async () => {
      if (!up) return console.warn('RabbitMQ not reachable: skipped');
      const exchange = uniqueName('identity-test');
      const queue = await rabbitQueue(exchange);
      const db = await backend.open();
      const first = await startTestApp(backend, { db });
      const admin = await makeAdmin(first);
      const before = await journey(first, admin);
      await first.close();
      const t = await startTestApp(backend, {
        db,
        env: {
          RELAY_CONFIG: relayConfigFile([{ name: 'fresh', type: 'rabbitmq', url: RABBITMQ_URL, exchange }]),
        },
      });
      try {
        const after = await journey(t, admin);
        await waitUntil('the new journey', () =>
          queue.received.some((m) => m.headers.user_id === after && m.routingKey === 'user_deactivated'),
        );
        expect(queue.received.some((m) => m.headers.user_id === before)).toBe(false);
        const ready = (await (await fetch(`${t.url}/health/ready`)).json()) as {
          checks: Record<string, { status: string }>;
        };
        expect(ready.checks.relay).toEqual({ status: 'up' });
        const metrics = await (await fetch(`${t.url}/metrics`)).text();
        expect(metrics).toMatch(/identity_relay_deliveries_total\{target="fresh",result="confirmed"\} [1-9]/);
        expect(metrics).toMatch(/identity_relay_lag_seconds\{target="fresh"\} 0/);
        expect(metrics).toMatch(/identity_relay_owner\{target="fresh"\} 1/);
      } finally {
        await t.close();
        await db.close();
        await queue.close();
      }
    });
  });
}
