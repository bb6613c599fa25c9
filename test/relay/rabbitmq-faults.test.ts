/**
 * The relay to RabbitMQ when things break: the broker connection cut mid-stream (a TCP proxy of the
 * test's own), the service killed with SIGKILL mid-stream, and two instances relaying one target. Events
 * are appended straight to the store (many, fast: the relay does not care who wrote them).
 */
import { randomUUID } from 'node:crypto';
import amqp from 'amqplib';
import type { EventStore } from '../../src/application/event-store';
import { startTestApp } from '../support/app';
import { openPostgres, testBackends } from '../support/databases';
import { freshDataDir, removeDataDir, ServiceProcess } from '../support/service-process';
import { TcpProxy } from '../support/tcp-proxy';
import {
  rabbitQueue,
  RABBITMQ_URL,
  relayConfigFile,
  uniqueName,
  waitUntil,
  type Received,
} from '../support/relay';

const rabbitUp = async (): Promise<boolean> => {
  try {
    await (await amqp.connect(RABBITMQ_URL)).close();
    return true;
  } catch {
    return false;
  }
};

/** Appends `count` events over `streams` account streams, a few at a time; returns their ids in order. */
const appendMany = async (store: EventStore, count: number, streams = 5, pauseMs = 0): Promise<string[]> => {
  const ids: string[] = [];
  const users = Array.from({ length: streams }, () => randomUUID());
  for (let i = 0; i < count; i++) {
    const id = randomUUID();
    await store.appendToStream(`user-${users[i % streams]}`, [
      {
        id,
        type: 'UserProfileUpdated',
        data: { username: `name${i}` },
        metadata: { correlation_id: randomUUID(), schema_version: 1, occurred_at: new Date().toISOString() },
      },
    ]);
    ids.push(id);
    if (pauseMs) await new Promise((r) => setTimeout(r, pauseMs));
  }
  return ids;
};

/** Per stream, the first deliveries of its events come in revision order. */
const expectPerStreamOrder = (received: Received[]) => {
  const seen = new Set<string>();
  const byStream = new Map<string, number[]>();
  for (const m of received) {
    if (seen.has(m.messageId)) continue;
    seen.add(m.messageId);
    const list = byStream.get(m.body.stream) ?? [];
    list.push(Number((m.body as unknown as { revision: number }).revision));
    byStream.set(m.body.stream, list);
  }
  for (const revisions of byStream.values()) expect([...revisions].sort((a, b) => a - b)).toEqual(revisions);
};

const counts = (received: Received[]) => {
  const n = new Map<string, number>();
  for (const m of received) n.set(m.messageId, (n.get(m.messageId) ?? 0) + 1);
  return n;
};

let up = false;
beforeAll(async () => {
  up = await rabbitUp();
  if (!up && process.env.CI === 'true') throw new Error(`RabbitMQ is not reachable at ${RABBITMQ_URL}`);
});

for (const backend of testBackends()) {
  it(`resumes with nothing lost after the broker connection is cut mid-stream (${backend.name})`, async () => {
    if (!up) return console.warn('RabbitMQ not reachable: skipped');
    const exchange = uniqueName('identity-test');
    const queue = await rabbitQueue(exchange);
    const broker = new URL(RABBITMQ_URL);
    const proxy = await TcpProxy.start(broker.hostname, Number(broker.port || 5672));
    const t = await startTestApp(backend, {
      env: {
        RELAY_CONFIG: relayConfigFile([
          {
            name: 'cut',
            type: 'rabbitmq',
            url: proxy.rewrite(RABBITMQ_URL),
            exchange,
            from: 'start',
            batch_size: 20,
          },
        ]),
      },
    });
    try {
      const writing = appendMany(t.services.store, 300, 7, 2);
      await waitUntil('some deliveries', () => queue.received.length >= 40, 60_000);
      await proxy.kill();
      const during = queue.received.length;
      // Events written while the broker is out of reach: the relay's attempts fail, the API goes on.
      const later = await appendMany(t.services.store, 20, 3);
      let ready: { checks: Record<string, { status: string; detail?: string }> } = { checks: {} };
      const deadline = Date.now() + 30_000;
      while (ready.checks.relay?.status !== 'degraded' && Date.now() < deadline) {
        const res = await fetch(`${t.url}/health/ready`);
        expect(res.status).toBe(200);
        ready = (await res.json()) as typeof ready;
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(ready.checks.relay).toMatchObject({
        status: 'degraded',
        detail: expect.stringContaining('cut'),
      });
      await proxy.restart();
      const ids = [...(await writing), ...later];
      await waitUntil('every event', () => ids.every((id) => counts(queue.received).has(id)), 60_000);
      expect(during).toBeLessThan(ids.length);
      expect(proxy.accepted).toBeGreaterThanOrEqual(2);
      expectPerStreamOrder(queue.received);
      const metrics = await (await fetch(`${t.url}/metrics`)).text();
      expect(metrics).toMatch(/identity_relay_deliveries_total\{target="cut",result="failed"\} [1-9]/);
    } finally {
      await t.close();
      await proxy.close();
      await queue.close();
    }
  }, 120_000);
}

const pgOnly = process.env.DATABASE_URL ? it : it.skip;

pgOnly(
  'kill -9 mid-stream: nothing lost, duplicates only of the last unconfirmed batch',
  async () => {
    if (!up) return console.warn('RabbitMQ not reachable: skipped');
    const exchange = uniqueName('identity-test');
    const queue = await rabbitQueue(exchange);
    const db = await openPostgres();
    const dataDir = await freshDataDir({ seed: false });
    const batch = 25;
    const env = {
      DATABASE_URL: db.connectionString!,
      RELAY_CONFIG: relayConfigFile([
        { name: 'killed', type: 'rabbitmq', url: RABBITMQ_URL, exchange, from: 'start', batch_size: batch },
      ]),
    };
    const service = new ServiceProcess({ dataDir, env });
    try {
      await service.start();
      const writing = appendMany(db.store, 400, 9, 3);
      await waitUntil('some deliveries', () => queue.received.length >= 60, 60_000);
      await service.kill('SIGKILL');
      const ids = await writing;
      await service.start();
      await waitUntil('every event', () => ids.every((id) => counts(queue.received).has(id)), 90_000);
      await new Promise((r) => setTimeout(r, 500));
      const dupes = [...counts(queue.received)].filter(([, n]) => n > 1).map(([id]) => id);
      // At most one batch was published and not yet checkpointed when the process died.
      expect(dupes.length).toBeLessThanOrEqual(batch);
      for (const [, n] of counts(queue.received)) expect(n).toBeLessThanOrEqual(2);
      // ... and they are consecutive events of the global order.
      const order = ids.filter((id) => dupes.includes(id));
      if (order.length > 0) {
        const first = ids.indexOf(order[0]!);
        expect(ids.slice(first, first + order.length)).toEqual(order);
      }
      expectPerStreamOrder(queue.received);
    } finally {
      await service.dispose();
      removeDataDir(dataDir);
      await db.close();
      await queue.close();
    }
  },
  180_000,
);

pgOnly(
  'two instances: each event is published once',
  async () => {
    if (!up) return console.warn('RabbitMQ not reachable: skipped');
    const exchange = uniqueName('identity-test');
    const queue = await rabbitQueue(exchange);
    const db = await openPostgres();
    const dirs = [await freshDataDir({ seed: false }), await freshDataDir({ seed: false })];
    const env = {
      DATABASE_URL: db.connectionString!,
      RELAY_CONFIG: relayConfigFile([
        { name: 'shared', type: 'rabbitmq', url: RABBITMQ_URL, exchange, from: 'start', batch_size: 10 },
      ]),
    };
    const services = dirs.map((dataDir) => new ServiceProcess({ dataDir, env }));
    try {
      await Promise.all(services.map((s) => s.start()));
      const ids = await appendMany(db.store, 200, 6, 2);
      await waitUntil('every event', () => ids.every((id) => counts(queue.received).has(id)), 60_000);
      await new Promise((r) => setTimeout(r, 1000));
      expect([...counts(queue.received).values()].every((n) => n === 1)).toBe(true);
      expect(queue.received.length).toBe(ids.length);
      expectPerStreamOrder(queue.received);
    } finally {
      await Promise.all(services.map((s) => s.dispose()));
      dirs.forEach(removeDataDir);
      await db.close();
      await queue.close();
    }
  },
  120_000,
);
