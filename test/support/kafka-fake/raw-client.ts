/**
 * A bare Kafka protocol client for hand-built requests in tests: sends request frames (header v1) and
 * reads the response frames by correlation id. No retries, no version negotiation.
 */
import net from 'node:net';
import { ApiKey } from './apis';
import { ErrorCode } from './errors';
import { encodeRecordBatch } from './record-batch';
import { Reader, Writer } from './wire';

export class RawKafkaClient {
  private buffered = Buffer.alloc(0);
  private nextCorrelationId = 1;
  private readonly waiting = new Map<number, (body: Buffer) => void>();
  private closed: Promise<void>;

  private constructor(private readonly socket: net.Socket) {
    socket.on('data', (chunk) => {
      this.buffered = Buffer.concat([this.buffered, chunk]);
      while (this.buffered.length >= 4 && this.buffered.length >= 4 + this.buffered.readInt32BE(0)) {
        const size = this.buffered.readInt32BE(0);
        const frame = this.buffered.subarray(4, 4 + size);
        this.buffered = this.buffered.subarray(4 + size);
        const id = frame.readInt32BE(0);
        this.waiting.get(id)?.(frame.subarray(4));
        this.waiting.delete(id);
      }
    });
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()));
  }

  static connect(broker: string): Promise<RawKafkaClient> {
    const [host, port] = broker.split(':');
    return new Promise((resolve, reject) => {
      const socket = net.connect(Number(port), host, () => resolve(new RawKafkaClient(socket)));
      socket.once('error', reject);
    });
  }

  /** Sends one request and resolves with a Reader over the response body (after the correlation id). */
  request(apiKey: number, apiVersion: number, body: Buffer | Writer): Promise<Reader> {
    const correlationId = this.nextCorrelationId++;
    const payload = new Writer()
      .int16(apiKey)
      .int16(apiVersion)
      .int32(correlationId)
      .nullableString('raw-test-client')
      .raw(Buffer.isBuffer(body) ? body : body.toBuffer())
      .toBuffer();
    return new Promise((resolve, reject) => {
      this.waiting.set(correlationId, (b) => resolve(new Reader(b)));
      this.closed.then(() => reject(new Error(`connection closed before the answer to ${correlationId}`)));
      this.socket.write(new Writer().int32(payload.length).raw(payload).toBuffer());
    });
  }

  /** Resolves when the server has closed the connection. */
  whenClosed(): Promise<void> {
    return this.closed;
  }

  close(): void {
    this.socket.destroy();
  }
}

/** A response that does not have the layout its version defines. */
function check(ok: boolean, what: string): void {
  if (!ok) throw new Error(`malformed response: ${what}`);
}

/** InitProducerId v1 without a transactional id; throws unless it is answered NONE. */
export async function initProducerId(c: RawKafkaClient): Promise<{ producerId: bigint; epoch: number }> {
  const r = await c.request(ApiKey.InitProducerId, 1, new Writer().nullableString(null).int32(60000));
  check(r.int32() === 0, 'throttle');
  const code = r.int16();
  if (code !== ErrorCode.NONE) throw new Error(`InitProducerId answered ${code}`);
  const out = { producerId: r.int64(), epoch: r.int16() };
  check(r.remaining === 0, 'InitProducerId length');
  return out;
}

/** Produce v7, acks -1, one batch for one partition: that partition's error code and base offset. */
export async function produceBatch(
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
  const topics = r.array((r) => ({
    name: r.string(),
    partitions: r.array((r) => ({
      index: r.int32(),
      code: r.int16(),
      baseOffset: r.int64(),
      logAppendTime: r.int64(),
      logStartOffset: r.int64(),
    })),
  }));
  check(r.int32() === 0 && r.remaining === 0, 'Produce throttle and length');
  const p = topics[0]?.partitions[0];
  check(
    topics.length === 1 && topics[0]!.name === topic && p?.index === partition,
    'Produce topic/partition',
  );
  return { code: p!.code, baseOffset: p!.baseOffset };
}

/** Metadata v6 for the given topics: the topics' error codes and partition counts, broker checked. */
export async function metadataV6(
  c: RawKafkaClient,
  topics: string[] | null,
  allowAutoTopicCreation: boolean,
): Promise<{ name: string; error: number; partitions: number }[]> {
  const r = await c.request(
    ApiKey.Metadata,
    6,
    new Writer().array(topics, (w, t) => w.nullableString(t)).boolean(allowAutoTopicCreation),
  );
  r.int32(); // throttle
  const brokers = r.array((r) => ({
    id: r.int32(),
    host: r.string(),
    port: r.int32(),
    rack: r.nullableString(),
  }));
  check(brokers.length === 1 && brokers[0]!.id === 1, 'one broker, node 1');
  r.nullableString(); // cluster id
  check(r.int32() === 1, 'controller is node 1');
  const out = r.array((r) => {
    const error = r.int16();
    const name = r.string();
    r.boolean(); // is_internal
    const partitions = r.array((r) => {
      r.int16();
      const index = r.int32();
      r.int32(); // leader
      r.array((r) => r.int32());
      r.array((r) => r.int32());
      r.array((r) => r.int32());
      return index;
    });
    return { name, error, partitions: partitions.length };
  });
  check(r.remaining === 0, 'Metadata length');
  return out;
}

/** A batch of records with key "k" and the given values, for hand-built requests. */
export function batchOf(producerId: bigint, epoch: number, baseSequence: number, values: string[]): Buffer {
  return encodeRecordBatch({
    producerId,
    producerEpoch: epoch,
    baseSequence,
    records: values.map((v) => ({ key: Buffer.from('k'), value: Buffer.from(v) })),
  });
}
