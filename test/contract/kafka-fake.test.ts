/**
 * The Kafka wire-protocol test double (test/support/kafka-fake) against the real kafkajs client with an
 * idempotent producer (the relay's settings: idempotent, maxInFlightRequests 1, acks -1), and against
 * hand-built requests for the rules kafkajs never breaks on its own (checksums, sequence gaps, replays).
 */
import { CompressionTypes, Kafka, logLevel, Partitioners, type Producer } from 'kafkajs';
import {
  ApiKey,
  Compression,
  crc32c,
  encodeRecordBatch,
  ErrorCode,
  startKafkaFake,
  type KafkaFake,
} from '../support/kafka-fake';
import { RawKafkaClient } from '../support/kafka-fake/raw-client';
import { Reader, Writer } from '../support/kafka-fake/wire';

const fakes: KafkaFake[] = [];
const producers: Producer[] = [];
const raws: RawKafkaClient[] = [];

afterEach(async () => {
  for (const p of producers.splice(0)) await p.disconnect().catch(() => {});
  for (const r of raws.splice(0)) r.close();
  for (const f of fakes.splice(0)) await f.close();
});

async function fake(options?: Parameters<typeof startKafkaFake>[0]): Promise<KafkaFake> {
  const f = await startKafkaFake(options);
  fakes.push(f);
  return f;
}

async function idempotentProducer(f: KafkaFake): Promise<Producer> {
  const kafka = new Kafka({
    brokers: f.brokers,
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

async function raw(f: KafkaFake): Promise<RawKafkaClient> {
  const c = await RawKafkaClient.connect(f.brokers[0]!);
  raws.push(c);
  return c;
}

async function initProducerId(c: RawKafkaClient): Promise<{ producerId: bigint; epoch: number }> {
  const r = await c.request(ApiKey.InitProducerId, 1, new Writer().nullableString(null).int32(60000));
  expect(r.int32()).toBe(0); // throttle
  expect(r.int16()).toBe(ErrorCode.NONE);
  return { producerId: r.int64(), epoch: r.int16() };
}

/** Produce v7 with one batch for one partition; resolves with that partition's error code and base offset. */
async function produceBatch(
  c: RawKafkaClient,
  topic: string,
  partition: number,
  batch: Buffer,
): Promise<{ code: number; baseOffset: bigint }> {
  const body = new Writer()
    .nullableString(null)
    .int16(-1)
    .int32(30000)
    .array([topic], (w, t) => {
      w.nullableString(t).array([partition], (w, p) => w.int32(p).nullableBytes(batch));
    });
  const r = await c.request(ApiKey.Produce, 7, body);
  const [t] = r.array((r) => ({
    name: r.string(),
    partitions: r.array((r) => ({
      index: r.int32(),
      code: r.int16(),
      baseOffset: r.int64(),
      logAppendTime: r.int64(),
      logStartOffset: r.int64(),
    })),
  }));
  expect(r.int32()).toBe(0); // throttle
  expect(r.remaining).toBe(0);
  expect(t!.name).toBe(topic);
  const p = t!.partitions[0]!;
  expect(p.index).toBe(partition);
  return { code: p.code, baseOffset: p.baseOffset };
}

function batchOf(producerId: bigint, epoch: number, baseSequence: number, values: string[]): Buffer {
  return encodeRecordBatch({
    producerId,
    producerEpoch: epoch,
    baseSequence,
    records: values.map((v) => ({ key: Buffer.from('k'), value: Buffer.from(v) })),
  });
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

  it('auto-creates a topic when configured, answering the creating request LEADER_NOT_AVAILABLE as a broker does', async () => {
    const f = await fake({ autoCreateTopics: true, autoCreatePartitions: 2 });
    const producer = await idempotentProducer(f);
    await producer.send({ topic: 'created-on-use', acks: -1, messages: [{ key: 'k', value: 'v' }] });
    expect(f.records('created-on-use').map((r) => text(r.value))).toEqual(['v']);

    const c = await raw(f);
    const r = await c.request(
      ApiKey.Metadata,
      6,
      new Writer().array(['another'], (w, t) => w.nullableString(t)).boolean(true),
    );
    const topicErrors = readMetadataV6(r).topics.map((t) => [t.name, t.error, t.partitions]);
    expect(topicErrors).toEqual([['another', ErrorCode.LEADER_NOT_AVAILABLE, 0]]);
    const again = await c.request(
      ApiKey.Metadata,
      6,
      new Writer().array(['another'], (w, t) => w.nullableString(t)).boolean(true),
    );
    expect(readMetadataV6(again).topics.map((t) => [t.name, t.error, t.partitions])).toEqual([
      ['another', 0, 2],
    ]);
    const refused = await c.request(
      ApiKey.Metadata,
      6,
      new Writer().array(['third'], (w, t) => w.nullableString(t)).boolean(false),
    );
    expect(readMetadataV6(refused).topics.map((t) => t.error)).toEqual([
      ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
    ]);
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
});

describe('Kafka fake, primitives', () => {
  it('computes CRC-32C (Castagnoli) and zig-zag varints as the specification defines them', () => {
    expect(crc32c(Buffer.from('123456789'))).toBe(0xe3069283); // the standard check value
    const bytes = (f: (w: Writer) => void): string => {
      const w = new Writer();
      f(w);
      return w.toBuffer().toString('hex');
    };
    expect(bytes((w) => w.varint(0).varint(-1).varint(1).varint(-2).varint(300))).toBe('00010203d804');
    expect(bytes((w) => w.varlong(-(2n ** 63n)))).toBe('ffffffffffffffffff01');
    const r = new Reader(Buffer.from('00010203d804' + 'ffffffffffffffffff01', 'hex'));
    expect([r.varint(), r.varint(), r.varint(), r.varint(), r.varint(), r.varlong()]).toEqual([
      0,
      -1,
      1,
      -2,
      300,
      -(2n ** 63n),
    ]);
  });
});

describe('Kafka fake, hand-built requests', () => {
  it('refuses a batch whose CRC-32C does not match with CORRUPT_MESSAGE and appends nothing', async () => {
    const f = await fake({ topics: [{ name: 't', partitions: 1 }] });
    const c = await raw(f);
    const { producerId, epoch } = await initProducerId(c);
    const good = batchOf(producerId, epoch, 0, ['v']);

    const flipped = Buffer.from(good);
    flipped[flipped.length - 2]! ^= 0x01; // a byte of the record's value, under the checksum
    expect(await produceBatch(c, 't', 0, flipped)).toEqual({
      code: ErrorCode.CORRUPT_MESSAGE,
      baseOffset: -1n,
    });
    const badCrc = Buffer.from(good);
    badCrc.writeUInt32BE((badCrc.readUInt32BE(17) ^ 0x80000000) >>> 0, 17); // the checksum field itself
    expect((await produceBatch(c, 't', 0, badCrc)).code).toBe(ErrorCode.CORRUPT_MESSAGE);
    expect(f.records('t')).toEqual([]);
    expect(f.refusals().map((r) => r.code)).toEqual([ErrorCode.CORRUPT_MESSAGE, ErrorCode.CORRUPT_MESSAGE]);

    expect(await produceBatch(c, 't', 0, good)).toEqual({ code: ErrorCode.NONE, baseOffset: 0n });
    expect(f.records('t').map((r) => text(r.value))).toEqual(['v']);
  });

  it('answers a replayed batch with its first offset without appending it again; refuses gaps and strangers', async () => {
    const f = await fake({ topics: [{ name: 't', partitions: 2 }] });
    const c = await raw(f);
    const { producerId, epoch } = await initProducerId(c);

    expect(await produceBatch(c, 't', 0, batchOf(producerId, epoch, 0, ['a', 'b', 'c']))).toEqual({
      code: ErrorCode.NONE,
      baseOffset: 0n,
    });
    expect(await produceBatch(c, 't', 0, batchOf(producerId, epoch, 3, ['d']))).toEqual({
      code: ErrorCode.NONE,
      baseOffset: 3n,
    });
    // The retry of the first batch (same epoch, same sequence range): success, the original offset.
    expect(await produceBatch(c, 't', 0, batchOf(producerId, epoch, 0, ['a', 'b', 'c']))).toEqual({
      code: ErrorCode.NONE,
      baseOffset: 0n,
    });
    expect(f.records('t').map((r) => text(r.value))).toEqual(['a', 'b', 'c', 'd']);
    expect(f.duplicatesAnswered()).toBe(1);

    // A gap (next expected is 4), and a sequence inside what was written but not a batch boundary.
    expect((await produceBatch(c, 't', 0, batchOf(producerId, epoch, 6, ['x']))).code).toBe(
      ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER,
    );
    expect((await produceBatch(c, 't', 0, batchOf(producerId, epoch, 1, ['b', 'c']))).code).toBe(
      ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER,
    );
    // Partition 1 has no state for the producer: it must start at 0.
    expect((await produceBatch(c, 't', 1, batchOf(producerId, epoch, 4, ['x']))).code).toBe(
      ErrorCode.UNKNOWN_PRODUCER_ID,
    );
    // A producer id never issued.
    expect((await produceBatch(c, 't', 1, batchOf(producerId + 77n, 0, 0, ['x']))).code).toBe(
      ErrorCode.UNKNOWN_PRODUCER_ID,
    );
    expect(await produceBatch(c, 't', 0, batchOf(producerId, epoch, 4, ['e']))).toEqual({
      code: ErrorCode.NONE,
      baseOffset: 4n,
    });
    expect(f.records('t').map((r) => text(r.value))).toEqual(['a', 'b', 'c', 'd', 'e']);
    expect(f.records('t').map((r) => r.sequence)).toEqual([0, 1, 2, 3, 4]);
  });

  it('remembers the last five batches per producer and partition, as the broker does', async () => {
    const f = await fake({ topics: [{ name: 't', partitions: 1 }] });
    const c = await raw(f);
    const { producerId, epoch } = await initProducerId(c);
    for (let s = 0; s < 6; s++) {
      expect((await produceBatch(c, 't', 0, batchOf(producerId, epoch, s, [`v${s}`]))).baseOffset).toBe(
        BigInt(s),
      );
    }
    expect(await produceBatch(c, 't', 0, batchOf(producerId, epoch, 1, ['v1']))).toEqual({
      code: ErrorCode.NONE,
      baseOffset: 1n,
    });
    // Sequence 0 was the sixth batch back: no longer known as a duplicate, so out of order.
    expect((await produceBatch(c, 't', 0, batchOf(producerId, epoch, 0, ['v0']))).code).toBe(
      ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER,
    );
    expect(f.records('t')).toHaveLength(6);
  });

  it('fences an older epoch and wants a new epoch to start at sequence 0', async () => {
    const f = await fake({ topics: [{ name: 't', partitions: 1 }] });
    const c = await raw(f);
    const { producerId } = await initProducerId(c);
    expect((await produceBatch(c, 't', 0, batchOf(producerId, 1, 0, ['a']))).code).toBe(ErrorCode.NONE);
    expect((await produceBatch(c, 't', 0, batchOf(producerId, 0, 1, ['b']))).code).toBe(
      ErrorCode.INVALID_PRODUCER_EPOCH,
    );
    expect((await produceBatch(c, 't', 0, batchOf(producerId, 2, 5, ['b']))).code).toBe(
      ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER,
    );
    expect((await produceBatch(c, 't', 0, batchOf(producerId, 2, 0, ['b']))).code).toBe(ErrorCode.NONE);
    expect(f.records('t').map((r) => [text(r.value), r.producerEpoch])).toEqual([
      ['a', 1],
      ['b', 2],
    ]);
  });

  it('refuses what it does not implement clearly: compression, transactions, unknown partitions, two batches', async () => {
    const f = await fake({ topics: [{ name: 't', partitions: 1 }] });
    const c = await raw(f);
    const { producerId } = await initProducerId(c);
    const snappy = encodeRecordBatch({
      producerId,
      producerEpoch: 0,
      baseSequence: 0,
      records: [{ value: null }],
    });
    snappy.writeInt16BE(Compression.snappy, 21);
    snappy.writeUInt32BE(crc32cOf(snappy), 17);
    expect((await produceBatch(c, 't', 0, snappy)).code).toBe(ErrorCode.UNSUPPORTED_COMPRESSION_TYPE);
    const txn = encodeRecordBatch({
      producerId,
      producerEpoch: 0,
      baseSequence: 0,
      transactional: true,
      records: [{ value: null }],
    });
    expect((await produceBatch(c, 't', 0, txn)).code).toBe(ErrorCode.INVALID_TXN_STATE);
    expect((await produceBatch(c, 't', 3, batchOf(producerId, 0, 0, ['x']))).code).toBe(
      ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
    );
    const two = Buffer.concat([batchOf(producerId, 0, 0, ['x']), batchOf(producerId, 0, 1, ['y'])]);
    expect((await produceBatch(c, 't', 0, two)).code).toBe(ErrorCode.INVALID_RECORD);
    expect(f.records('t')).toEqual([]);

    const init = await c.request(ApiKey.InitProducerId, 1, new Writer().nullableString('txn-1').int32(60000));
    init.int32();
    expect(init.int16()).toBe(ErrorCode.INVALID_REQUEST);
  });

  it('answers unknown API keys and versions with an error and pipelined requests in order', async () => {
    const f = await fake();
    const c = await raw(f);
    // Fetch (not implemented), an API key that does not exist, Produce v2 (message sets, not implemented).
    const fetch = c.request(1, 11, Buffer.alloc(0));
    const nonsense = c.request(999, 0, Buffer.alloc(0));
    const produceV2 = c.request(ApiKey.Produce, 2, Buffer.alloc(0));
    const versions = c.request(ApiKey.ApiVersions, 2, Buffer.alloc(0));
    for (const answer of [await fetch, await nonsense, await produceV2]) {
      expect(answer.int16()).toBe(ErrorCode.UNSUPPORTED_VERSION);
      expect(answer.remaining).toBe(0);
    }
    const v = await versions;
    expect(v.int16()).toBe(ErrorCode.NONE);
    const list = v.array((r) => [r.int16(), r.int16(), r.int16()]);
    expect(list).toEqual([
      [0, 3, 7],
      [3, 0, 6],
      [18, 0, 2],
      [22, 0, 1],
    ]);
    expect(v.int32()).toBe(0);
    expect(f.requests().map((r) => r.outcome)).toEqual([
      'unsupported',
      'unsupported',
      'unsupported',
      'answered',
    ]);

    // ApiVersions at a version the fake does not have: the v0 layout, UNSUPPORTED_VERSION and the list.
    const v9 = await c.request(ApiKey.ApiVersions, 9, Buffer.alloc(0));
    expect(v9.int16()).toBe(ErrorCode.UNSUPPORTED_VERSION);
    expect(v9.array((r) => [r.int16(), r.int16(), r.int16()])).toEqual(list);
    expect(v9.remaining).toBe(0);
  });

  it('closes the connection on a request it cannot parse, as a broker does', async () => {
    const f = await fake({ topics: [{ name: 't', partitions: 1 }] });
    const c = await raw(f);
    await expect(c.request(ApiKey.Produce, 7, new Writer().nullableString(null).int16(-1))).rejects.toThrow(
      /connection closed/,
    );
    expect(f.requests().map((r) => r.outcome)).toEqual(['malformed']);
  });
});

function readMetadataV6(r: Reader): { topics: { name: string; error: number; partitions: number }[] } {
  r.int32(); // throttle
  const brokers = r.array((r) => ({
    id: r.int32(),
    host: r.string(),
    port: r.int32(),
    rack: r.nullableString(),
  }));
  expect(brokers.map((b) => b.id)).toEqual([1]);
  r.nullableString(); // cluster id
  expect(r.int32()).toBe(1); // controller
  const topics = r.array((r) => {
    const error = r.int16();
    const name = r.string();
    r.boolean();
    const partitions = r.array((r) => {
      r.int16();
      const index = r.int32();
      r.int32();
      r.array((r) => r.int32());
      r.array((r) => r.int32());
      r.array((r) => r.int32());
      return index;
    });
    return { name, error, partitions: partitions.length };
  });
  expect(r.remaining).toBe(0);
  return { topics };
}

function crc32cOf(batch: Buffer): number {
  return crc32c(batch.subarray(21));
}
