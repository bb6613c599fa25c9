/**
 * The partitions' logs and the idempotent-producer state of each partition, as the partition leader keeps
 * them (Kafka's ProducerStateManager/ProducerAppendInfo and UnifiedLog.analyzeAndValidateProducerState):
 *
 * - A batch with producerId -1 is not idempotent: appended without sequence checks.
 * - A duplicate, i.e. a batch whose epoch and first/last sequence equal one of the last five batches
 *   appended for that producer on that partition, is not appended again: it is answered NONE with the
 *   offset it was first written at (what brokers since 1.0 do; DUPLICATE_SEQUENCE_NUMBER is never sent
 *   for it, and kafkajs treats that code as a fatal error).
 * - An older epoch than the partition has seen: INVALID_PRODUCER_EPOCH.
 * - A newer epoch: the sequence must start at 0, else OUT_OF_ORDER_SEQUENCE_NUMBER.
 * - Otherwise the first sequence must be the last one plus one (wrapping after 2^31-1 to 0), else
 *   OUT_OF_ORDER_SEQUENCE_NUMBER.
 * Stricter than a current broker, on purpose (a relay that breaks these has a bug a broker would hide):
 * - A producer the partition has never seen must start at sequence 0, else UNKNOWN_PRODUCER_ID. That is the
 *   rule of brokers before 2.5; since KIP-360 (ProducerAppendInfo.checkSequence) a leader with no state for
 *   the producer accepts any sequence, because retention may have deleted the state.
 * - A producer id that InitProducerId never issued is UNKNOWN_PRODUCER_ID (a real partition leader cannot
 *   know which ids the coordinator handed out).
 */
import { BatchError, ErrorCode } from './errors';
import type { RecordBatch } from './record-batch';

export interface StoredRecord {
  partition: number;
  offset: bigint;
  timestamp: bigint;
  key: Buffer | null;
  value: Buffer | null;
  headers: Record<string, Buffer>;
  /** Every header in order, repeated keys and null values included (`headers` keeps the last per key). */
  headerList: { key: string; value: Buffer | null }[];
  producerId: bigint;
  producerEpoch: number;
  baseSequence: number;
  /** The sequence number of this record: baseSequence + offsetDelta (-1 when not idempotent). */
  sequence: number;
}

interface BatchMetadata {
  firstSeq: number;
  lastSeq: number;
  firstOffset: bigint;
}

interface ProducerEntry {
  epoch: number;
  batches: BatchMetadata[]; // the last five, oldest first
}

const BATCHES_TO_RETAIN = 5;
const INT32_MAX = 0x7fffffff;

export class PartitionLog {
  readonly records: StoredRecord[] = [];
  private readonly producers = new Map<bigint, ProducerEntry>();

  constructor(readonly partition: number) {}

  get logEndOffset(): bigint {
    return BigInt(this.records.length);
  }

  /** Validates the batch against the producer state and appends it; returns the base offset it got. */
  append(
    batch: RecordBatch,
    knownProducer: (id: bigint) => boolean,
  ): { baseOffset: bigint; duplicate: boolean } {
    const idempotent = batch.producerId >= 0n;
    if (idempotent) {
      if (!knownProducer(batch.producerId)) {
        throw new BatchError(
          ErrorCode.UNKNOWN_PRODUCER_ID,
          `producer id ${batch.producerId} was never issued`,
        );
      }
      const entry = this.producers.get(batch.producerId);
      const lastSeq = wrap(batch.baseSequence + batch.lastOffsetDelta);
      const duplicate =
        entry?.epoch === batch.producerEpoch &&
        entry.batches.find((b) => b.firstSeq === batch.baseSequence && b.lastSeq === lastSeq);
      if (duplicate) return { baseOffset: duplicate.firstOffset, duplicate: true };
      this.checkSequence(batch, entry);
    }
    const baseOffset = this.logEndOffset;
    for (const rec of batch.records) {
      const headers: Record<string, Buffer> = {};
      for (const h of rec.headers) if (h.value !== null) headers[h.key] = h.value;
      this.records.push({
        partition: this.partition,
        offset: baseOffset + BigInt(rec.offsetDelta),
        timestamp: batch.baseTimestamp + rec.timestampDelta,
        key: rec.key === null ? null : Buffer.from(rec.key),
        value: rec.value === null ? null : Buffer.from(rec.value),
        headers,
        headerList: rec.headers.map((h) => ({
          key: h.key,
          value: h.value === null ? null : Buffer.from(h.value),
        })),
        producerId: batch.producerId,
        producerEpoch: batch.producerEpoch,
        baseSequence: batch.baseSequence,
        sequence: idempotent ? wrap(batch.baseSequence + rec.offsetDelta) : -1,
      });
    }
    if (idempotent) {
      let entry = this.producers.get(batch.producerId);
      if (!entry || entry.epoch !== batch.producerEpoch) {
        entry = { epoch: batch.producerEpoch, batches: [] };
        this.producers.set(batch.producerId, entry);
      }
      entry.batches.push({
        firstSeq: batch.baseSequence,
        lastSeq: wrap(batch.baseSequence + batch.lastOffsetDelta),
        firstOffset: baseOffset,
      });
      if (entry.batches.length > BATCHES_TO_RETAIN) entry.batches.shift();
    }
    return { baseOffset, duplicate: false };
  }

  private checkSequence(batch: RecordBatch, entry: ProducerEntry | undefined): void {
    const seq = batch.baseSequence;
    if (!entry) {
      if (seq !== 0) {
        throw new BatchError(
          ErrorCode.UNKNOWN_PRODUCER_ID,
          `no state for producer ${batch.producerId} on partition ${this.partition} and sequence ${seq} is not 0`,
        );
      }
      return;
    }
    if (batch.producerEpoch < entry.epoch) {
      throw new BatchError(
        ErrorCode.INVALID_PRODUCER_EPOCH,
        `epoch ${batch.producerEpoch} is older than ${entry.epoch} for producer ${batch.producerId}`,
      );
    }
    if (batch.producerEpoch > entry.epoch) {
      if (seq !== 0) {
        throw new BatchError(
          ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER,
          `new epoch must start at sequence 0, got ${seq}`,
        );
      }
      return;
    }
    const last = entry.batches[entry.batches.length - 1]!.lastSeq;
    const inSequence = seq === last + 1 || (seq === 0 && last === INT32_MAX);
    if (!inSequence) {
      throw new BatchError(
        ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER,
        `sequence ${seq} after ${last} for producer ${batch.producerId} on partition ${this.partition}`,
      );
    }
  }
}

/** Sequence numbers are int32 and wrap to 0 after 2^31-1. */
function wrap(n: number): number {
  return n > INT32_MAX ? n - INT32_MAX - 1 : n;
}

export class Topics {
  private readonly topics = new Map<string, PartitionLog[]>();

  create(name: string, partitions: number): void {
    if (!validTopicName(name)) throw new Error(`invalid topic name ${JSON.stringify(name)}`);
    if (!Number.isInteger(partitions) || partitions < 1) throw new Error(`partitions must be >= 1`);
    if (this.topics.has(name)) throw new Error(`topic ${name} exists`);
    this.topics.set(
      name,
      Array.from({ length: partitions }, (_, i) => new PartitionLog(i)),
    );
  }

  get(name: string): PartitionLog[] | undefined {
    return this.topics.get(name);
  }

  names(): string[] {
    return [...this.topics.keys()];
  }
}

/** Kafka's Topic.validate: 1-249 characters of [a-zA-Z0-9._-], not "." or "..". */
export function validTopicName(name: string): boolean {
  return (
    name.length > 0 && name.length <= 249 && /^[a-zA-Z0-9._-]+$/.test(name) && name !== '.' && name !== '..'
  );
}
