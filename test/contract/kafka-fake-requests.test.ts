/**
 * The Kafka wire-protocol test double (test/support/kafka-fake) against hand-built requests: what a client
 * like kafkajs never sends on its own (corrupted checksums, sequence gaps, replays, stale epochs, unknown
 * APIs), each answered as the protocol and the partition leader's rules say.
 */
import {
  ApiKey,
  Compression,
  crc32c,
  encodeRecordBatch,
  ErrorCode,
  startKafkaFake,
  type KafkaFake,
} from '../support/kafka-fake';
import {
  batchOf,
  initProducerId,
  metadataV6,
  produceBatch,
  RawKafkaClient,
} from '../support/kafka-fake/raw-client';
import { Writer } from '../support/kafka-fake/wire';

const fakes: KafkaFake[] = [];
const raws: RawKafkaClient[] = [];

afterEach(async () => {
  for (const r of raws.splice(0)) r.close();
  for (const f of fakes.splice(0)) await f.close();
});

async function fake(options?: Parameters<typeof startKafkaFake>[0]): Promise<KafkaFake> {
  const f = await startKafkaFake(options);
  fakes.push(f);
  return f;
}

async function raw(f: KafkaFake): Promise<RawKafkaClient> {
  const c = await RawKafkaClient.connect(f.brokers[0]!);
  raws.push(c);
  return c;
}

const text = (b: Buffer | null): string | null => (b === null ? null : b.toString('utf8'));

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
  it('answers Metadata as each version defines the topic list, and auto-creates only when both allow it', async () => {
    const f = await fake({
      topics: [{ name: 'a', partitions: 2 }],
      autoCreateTopics: true,
      autoCreatePartitions: 3,
    });
    const c = await raw(f);
    expect(await metadataV6(c, null, false)).toEqual([{ name: 'a', error: 0, partitions: 2 }]); // null: all
    expect(await metadataV6(c, [], false)).toEqual([]); // v1+: an empty list is no topic
    expect(await metadataV6(c, ['b'], false)).toEqual([
      { name: 'b', error: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, partitions: 0 },
    ]);
    expect(await metadataV6(c, ['b'], true)).toEqual([
      { name: 'b', error: ErrorCode.LEADER_NOT_AVAILABLE, partitions: 0 },
    ]);
    expect(await metadataV6(c, ['b'], true)).toEqual([{ name: 'b', error: 0, partitions: 3 }]);
    expect(await metadataV6(c, ['not a topic!'], true)).toEqual([
      { name: 'not a topic!', error: ErrorCode.INVALID_TOPIC_EXCEPTION, partitions: 0 },
    ]);
    // v0: an empty list means every topic; no controller, rack or is_internal fields.
    const v0 = await c.request(
      ApiKey.Metadata,
      0,
      new Writer().array([], () => {}),
    );
    expect(v0.array((r) => [r.int32(), r.string(), r.int32()])).toEqual([
      [1, '127.0.0.1', Number(f.brokers[0]!.split(':')[1])],
    ]);
    const topics = v0.array((r) => {
      const error = r.int16();
      const name = r.string();
      const partitions = r.array((r) => {
        const p = [r.int16(), r.int32(), r.int32()];
        r.array((r) => r.int32());
        r.array((r) => r.int32());
        return p;
      });
      return { error, name, partitions: partitions.length };
    });
    expect(topics).toEqual([
      { error: 0, name: 'a', partitions: 2 },
      { error: 0, name: 'b', partitions: 3 },
    ]);
    expect(v0.remaining).toBe(0);
  });
});

function crc32cOf(batch: Buffer): number {
  return crc32c(batch.subarray(21));
}
