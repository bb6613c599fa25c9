/**
 * The relay's Kafka transport against the wire-protocol test double (test/support/kafka-fake/): no Kafka
 * broker runs here, and this transport has not met a real one (README).
 */
import { randomUUID } from 'node:crypto';
import { startTestApp } from '../support/app';
import { testBackends } from '../support/databases';
import { startKafkaFake } from '../support/kafka-fake';
import { relayConfigFile, waitUntil } from '../support/relay';

for (const backend of testBackends()) {
  it(`produces every event once, key = stream id, in order per stream, across a dropped connection (${backend.name})`, async () => {
    const topics = ['user_updated', 'user_deactivated'].map((t) => ({ name: `acct.${t}`, partitions: 3 }));
    const kafka = await startKafkaFake({ topics });
    const t = await startTestApp(backend, {
      env: {
        RELAY_CONFIG: relayConfigFile([
          {
            name: 'kafka',
            type: 'kafka',
            brokers: kafka.brokers,
            topic_prefix: 'acct.',
            types: ['UserProfileUpdated', 'UserDeactivated'],
            from: 'start',
            batch_size: 10,
          },
        ]),
      },
    });
    try {
      const users = [randomUUID(), randomUUID(), randomUUID()];
      const ids: string[] = [];
      for (let i = 0; i < 60; i++) {
        const id = randomUUID();
        const type = i % 10 === 9 ? 'UserDeactivated' : 'UserProfileUpdated';
        await t.services.store.appendToStream(`user-${users[i % 3]}`, [
          {
            id,
            type,
            data: type === 'UserDeactivated' ? { at: new Date().toISOString() } : { username: null },
            metadata: { correlation_id: randomUUID(), schema_version: 1 },
          },
        ]);
        ids.push(id);
        if (i === 30) kafka.dropConnections();
      }
      const all = () => topics.flatMap((tp) => kafka.records(tp.name));
      const idOf = (r: { headers: Record<string, Buffer> }) => r.headers.message_id?.toString();
      await waitUntil(
        'every event in Kafka',
        () => ids.every((id) => all().some((r) => idOf(r) === id)),
        60_000,
      );
      const records = all();
      // The client retries a batch on the same producer id (the broker drops a rewrite); a batch the relay
      // retries after the client gave up comes from a new producer: at most one batch twice.
      expect(records.length - ids.length).toBeLessThanOrEqual(10);
      for (const r of records) {
        const body = JSON.parse(r.value!.toString('utf8')) as { stream: string; id: string; type: string };
        expect(r.key?.toString()).toBe(body.stream);
        expect(idOf(r)).toBe(body.id);
        expect(r.headers.type?.toString()).toBe(body.type);
      }
      // One stream's events stay in one partition, in order.
      for (const user of users) {
        const mine = records.filter((r) => r.key?.toString() === `user-${user}`);
        const seen = new Set<string>();
        const updates = mine
          .filter((r) => r.headers.type?.toString() === 'UserProfileUpdated')
          .sort((a, b) => Number(a.offset - b.offset))
          .filter((r) => !seen.has(idOf(r)!) && seen.add(idOf(r)!));
        expect(new Set(updates.map((r) => r.partition)).size).toBe(1);
        const order = ids.filter((id) => updates.some((r) => idOf(r) === id));
        expect(updates.map(idOf)).toEqual(order);
      }
    } finally {
      await t.close();
      await kafka.close();
    }
  }, 120_000);
}
