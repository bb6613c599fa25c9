/**
 * The Kafka wire-protocol test double (test/support/kafka-fake) against the real kafkajs client with an
 * idempotent producer (the relay's settings: idempotent, maxInFlightRequests 1, acks -1). The rules kafkajs
 * never breaks on its own (checksums, sequence gaps, replays) are in kafka-fake-requests.test.ts.
 */
import { CompressionTypes, Kafka, logLevel, Partitioners, type Producer } from 'kafkajs';
import { ApiKey, startKafkaFake, type KafkaFake } from '../support/kafka-fake';
import { TcpProxy } from '../support/tcp-proxy';

const fakes: KafkaFake[] = [];
const producers: Producer[] = [];

afterEach(async () => {
  for (const p of producers.splice(0)) await p.disconnect().catch(() => {});
  for (const f of fakes.splice(0)) await f.close();
});

async function fake(options?: Parameters<typeof startKafkaFake>[0]): Promise<KafkaFake> {
  const f = await startKafkaFake(options);
  fakes.push(f);
  return f;
}

async function idempotentProducer(f: KafkaFake, brokers = f.brokers): Promise<Producer> {
  const kafka = new Kafka({
    brokers,
    clientId: 'kafka-fake-test',
    logLevel: logLevel.NOTHING,
    retry: { initialRetryTime: 20, maxRetryTime: 200, retries: 20 },
  });
  const producer = kafka.producer({
    idempotent: true,
    maxInFlightRequests: 1,
    createPartitioner: Partitioners.DefaultPartitioner,
    retry: { initialRetryTime: 20, maxRetryTime: 200, retries: 20 },
  });
  producers.push(producer);
  await producer.connect();
  return producer;
}

const text = (b: Buffer | null): string | null => (b === null ? null : b.toString('utf8'));

describe('Kafka fake with kafkajs (idempotent producer, acks -1)', () => {
  it('negotiates the versions the fake implements and keeps every record as sent, one key to one partition', async () => {
    const f = await fake({ topics: [{ name: 'accounts', partitions: 4 }] });
    const producer = await idempotentProducer(f);

    const keys = Array.from({ length: 12 }, (_, i) => `user-${i}`);
    const sent: { key: string; value: string; headers: Record<string, string> }[] = [];
    for (let round = 0; round < 5; round++) {
      const messages = keys.map((key) => ({
        key,
        value: JSON.stringify({ key, round }),
        headers: { type: `t${round}`, stream: key, 'correlation-id': `c-${round}-${key}` },
      }));
      sent.push(...messages);
      const result = await producer.send({ topic: 'accounts', acks: -1, messages });
      expect(result.every((r) => r.errorCode === 0)).toBe(true);
    }

    const stored = f.records('accounts');
    expect(stored).toHaveLength(sent.length);
    const partitionOfKey = new Map<string, number>();
    for (const r of stored) {
      const key = text(r.key)!;
      expect(partitionOfKey.get(key) ?? r.partition).toBe(r.partition);
      partitionOfKey.set(key, r.partition);
    }
    expect(new Set(partitionOfKey.values()).size).toBeGreaterThan(1); // the keys really spread

    for (const key of keys) {
      const mine = stored.filter((r) => text(r.key) === key).sort((a, b) => Number(a.offset - b.offset));
      const expected = sent.filter((m) => m.key === key);
      expect(mine.map((r) => text(r.value))).toEqual(expected.map((m) => m.value));
      expect(
        mine.map((r) => Object.fromEntries(Object.entries(r.headers).map(([k, v]) => [k, v.toString()]))),
      ).toEqual(expected.map((m) => m.headers));
    }

    // One producer id, one epoch; per partition the sequence numbers run 0,1,2,... with the offsets.
    const [pid] = f.producerIds();
    for (let p = 0; p < 4; p++) {
      const inPartition = stored.filter((r) => r.partition === p);
      expect(inPartition.map((r) => r.offset)).toEqual(inPartition.map((_, i) => BigInt(i)));
      expect(inPartition.map((r) => r.sequence)).toEqual(inPartition.map((_, i) => i));
      expect(inPartition.every((r) => r.producerId === pid && r.producerEpoch === 0)).toBe(true);
    }
    expect(f.refusals()).toEqual([]);

    const versions = new Map(f.requests().map((r) => [r.apiKey, r.apiVersion]));
    expect(Object.fromEntries(versions)).toEqual({
      [ApiKey.ApiVersions]: 2,
      [ApiKey.Metadata]: 6,
      [ApiKey.InitProducerId]: 1,
      [ApiKey.Produce]: 7,
    });
    expect(f.requests().every((r) => r.outcome === 'answered')).toBe(true);
  });

  it('reads gzip batches, null values and repeated header keys', async () => {
    const f = await fake({ topics: [{ name: 'gz', partitions: 1 }] });
    const producer = await idempotentProducer(f);
    await producer.send({
      topic: 'gz',
      acks: -1,
      compression: CompressionTypes.GZIP,
      messages: [
        { key: 'a', value: 'one', headers: { h: ['x', 'y'] } },
        { key: 'b', value: null },
      ],
    });
    const [a, b] = f.records('gz');
    expect(text(a!.value)).toBe('one');
    expect(a!.headerList.map((h) => [h.key, text(h.value)])).toEqual([
      ['h', 'x'],
      ['h', 'y'],
    ]);
    expect(b!.value).toBeNull();
    expect(text(b!.key)).toBe('b');
  });

  it('auto-creates a topic when configured; kafkajs retries past the creating answer (LEADER_NOT_AVAILABLE)', async () => {
    const f = await fake({ autoCreateTopics: true, autoCreatePartitions: 2 });
    const producer = await idempotentProducer(f);
    await producer.send({ topic: 'created-on-use', acks: -1, messages: [{ key: 'k', value: 'v' }] });
    expect(f.records('created-on-use').map((r) => text(r.value))).toEqual(['v']);

    expect(f.requests().filter((r) => r.apiKey === ApiKey.Metadata).length).toBeGreaterThan(1); // retried
  });

  it('dropConnections() mid-stream: the producer reconnects and every message is there once, in order', async () => {
    const f = await fake({ topics: [{ name: 'relay', partitions: 3 }] });
    const producer = await idempotentProducer(f);
    const keys = ['a', 'b', 'c', 'd', 'e', 'f'];
    const sent: string[] = [];
    for (let i = 0; i < 30; i++) {
      const messages = keys.map((key) => ({ key, value: `${key}-${i}` }));
      sent.push(...messages.map((m) => m.value));
      if (i % 7 === 3) {
        // Appended, then every socket closed before the answer: the retry is a duplicate.
        f.dropConnectionsAfterNextAppend();
        await producer.send({ topic: 'relay', acks: -1, messages });
      } else if (i % 7 === 5) {
        // Closed while the request is on its way or waiting for its turn.
        const sending = producer.send({ topic: 'relay', acks: -1, messages });
        f.dropConnections();
        await sending;
      } else {
        await producer.send({ topic: 'relay', acks: -1, messages });
      }
    }
    const stored = f.records('relay');
    expect(stored.map((r) => text(r.value)).sort()).toEqual([...sent].sort());
    for (const key of keys) {
      const mine = stored.filter((r) => text(r.key) === key).sort((a, b) => Number(a.offset - b.offset));
      expect(mine.map((r) => text(r.value))).toEqual(sent.filter((v) => v.startsWith(`${key}-`)));
    }
    expect(f.connectionsAccepted()).toBeGreaterThan(1);
    expect(f.duplicatesAnswered()).toBeGreaterThan(0); // the retried batches were recognised, not rewritten
    expect(f.refusals()).toEqual([]);
  });
  it('behind a proxy it advertises: the connection cut mid-stream, delivery resumes with nothing lost or doubled', async () => {
    const f = await fake({ topics: [{ name: 'relay', partitions: 2 }] });
    const proxy = await TcpProxy.start('127.0.0.1', Number(f.brokers[0]!.split(':')[1]));
    try {
      f.advertise('127.0.0.1', proxy.port);
      const producer = await idempotentProducer(f, [`127.0.0.1:${proxy.port}`]);
      const sent: string[] = [];
      for (let i = 0; i < 12; i++) {
        const messages = ['x', 'y', 'z'].map((key) => ({ key, value: `${key}-${i}` }));
        sent.push(...messages.map((m) => m.value));
        if (i % 4 === 2) {
          f.dropConnectionsAfterNextAppend();
          const sending = producer.send({ topic: 'relay', acks: -1, messages });
          await proxy.kill();
          await proxy.restart();
          await sending;
        } else {
          await producer.send({ topic: 'relay', acks: -1, messages });
        }
      }
      expect(
        f
          .records('relay')
          .map((r) => r.value!.toString())
          .sort(),
      ).toEqual([...sent].sort());
      // Every connection the fake accepted came through the proxy.
      expect(f.connectionsAccepted()).toBe(proxy.accepted);
      expect(proxy.accepted).toBeGreaterThan(1);
    } finally {
      await proxy.close();
    }
  });
  it('stop() and start(): sends wait while the broker is down and land once when it is back', async () => {
    const f = await fake({ topics: [{ name: 'relay', partitions: 2 }] });
    const producer = await idempotentProducer(f);
    await producer.send({ topic: 'relay', acks: -1, messages: [{ key: 'a', value: 'before' }] });
    await f.stop();
    const sending = producer.send({ topic: 'relay', acks: -1, messages: [{ key: 'a', value: 'during' }] });
    await new Promise((resolve) => setTimeout(resolve, 150)); // refused connections meanwhile
    expect(f.records('relay').map((r) => r.value!.toString())).toEqual(['before']);
    await f.start();
    await sending;
    await producer.send({ topic: 'relay', acks: -1, messages: [{ key: 'a', value: 'after' }] });
    expect(f.records('relay').map((r) => r.value!.toString())).toEqual(['before', 'during', 'after']);
  });
});
