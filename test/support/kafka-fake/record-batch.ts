/**
 * RecordBatch v2 (magic 2), https://kafka.apache.org/documentation/#recordbatch and KIP-98:
 *
 *   baseOffset int64 | batchLength int32 | partitionLeaderEpoch int32 | magic int8 | crc uint32 |
 *   attributes int16 | lastOffsetDelta int32 | baseTimestamp int64 | maxTimestamp int64 |
 *   producerId int64 | producerEpoch int16 | baseSequence int32 | records count int32 | records
 *
 * The CRC-32C covers everything from `attributes` to the end of the batch. Each record:
 *
 *   length varint | attributes int8 | timestampDelta varlong | offsetDelta varint |
 *   keyLength varint | key | valueLength varint | value | headers count varint |
 *   (headerKeyLength varint | headerKey | headerValueLength varint | headerValue)*
 *
 * Checks follow the broker's DefaultRecordBatch.ensureValid/DefaultRecord.readFrom and LogValidator:
 * structure and checksum failures are CORRUPT_MESSAGE, record-level rule breaks INVALID_RECORD.
 */
import { gunzipSync, gzipSync } from 'node:zlib';
import { crc32c } from './crc32c';
import { BatchError, ErrorCode } from './errors';
import { Reader, WireError, Writer } from './wire';

export const RECORD_BATCH_OVERHEAD = 61;
const CRC_START = 21;

export const Compression = { none: 0, gzip: 1, snappy: 2, lz4: 3, zstd: 4 } as const;
const TIMESTAMP_TYPE_BIT = 0x08;
const TRANSACTIONAL_BIT = 0x10;
const CONTROL_BIT = 0x20;

export interface RecordHeader {
  key: string;
  value: Buffer | null;
}

export interface BatchRecord {
  attributes: number;
  timestampDelta: bigint;
  offsetDelta: number;
  key: Buffer | null;
  value: Buffer | null;
  headers: RecordHeader[];
}

export interface RecordBatch {
  baseOffset: bigint;
  partitionLeaderEpoch: number;
  magic: number;
  crc: number;
  attributes: number;
  compression: number;
  timestampType: 'create' | 'log-append';
  transactional: boolean;
  control: boolean;
  lastOffsetDelta: number;
  baseTimestamp: bigint;
  maxTimestamp: bigint;
  producerId: bigint;
  producerEpoch: number;
  baseSequence: number;
  records: BatchRecord[];
}

/** The batches in a Produce partition's `records` field, in order. */
export function splitBatches(recordSet: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let pos = 0;
  while (pos < recordSet.length) {
    if (recordSet.length - pos < 17) {
      throw new BatchError(ErrorCode.CORRUPT_MESSAGE, 'record set ends inside a batch header');
    }
    const batchLength = recordSet.readInt32BE(pos + 8);
    const size = 12 + batchLength;
    if (batchLength < RECORD_BATCH_OVERHEAD - 12 || pos + size > recordSet.length) {
      throw new BatchError(
        ErrorCode.CORRUPT_MESSAGE,
        `batch length ${batchLength} does not fit the record set`,
      );
    }
    out.push(recordSet.subarray(pos, pos + size));
    pos += size;
  }
  return out;
}

/** Parses and verifies one batch (exactly one, as `splitBatches` cut it). */
export function decodeRecordBatch(batch: Buffer): RecordBatch {
  const r = new Reader(batch);
  const baseOffset = r.int64();
  r.int32(); // batchLength, already matched by splitBatches
  const partitionLeaderEpoch = r.int32();
  const magic = r.int8();
  if (magic !== 2) {
    throw new BatchError(
      ErrorCode.INVALID_RECORD,
      `magic ${magic}: Produce v3+ carries record batches v2 only`,
    );
  }
  const crc = r.uint32();
  const computed = crc32c(batch.subarray(CRC_START));
  if (crc !== computed) {
    throw new BatchError(
      ErrorCode.CORRUPT_MESSAGE,
      `batch CRC ${crc.toString(16)} but the bytes give ${computed.toString(16)}`,
    );
  }
  const attributes = r.int16();
  const lastOffsetDelta = r.int32();
  const baseTimestamp = r.int64();
  const maxTimestamp = r.int64();
  const producerId = r.int64();
  const producerEpoch = r.int16();
  const baseSequence = r.int32();
  const count = r.int32();
  const compression = attributes & 0x07;
  const header = {
    baseOffset,
    partitionLeaderEpoch,
    magic,
    crc,
    attributes,
    compression,
    timestampType: attributes & TIMESTAMP_TYPE_BIT ? ('log-append' as const) : ('create' as const),
    transactional: (attributes & TRANSACTIONAL_BIT) !== 0,
    control: (attributes & CONTROL_BIT) !== 0,
    lastOffsetDelta,
    baseTimestamp,
    maxTimestamp,
    producerId,
    producerEpoch,
    baseSequence,
  };
  if (count <= 0) throw new BatchError(ErrorCode.INVALID_RECORD, `record count ${count}`);
  if (lastOffsetDelta + 1 !== count) {
    throw new BatchError(
      ErrorCode.INVALID_RECORD,
      `inconsistent batch: lastOffsetDelta ${lastOffsetDelta} with ${count} records`,
    );
  }
  let body: Buffer;
  const rest = r.raw(r.remaining);
  if (compression === Compression.none) body = rest;
  else if (compression === Compression.gzip) {
    try {
      body = gunzipSync(rest);
    } catch {
      throw new BatchError(ErrorCode.CORRUPT_MESSAGE, 'gzip records do not decompress');
    }
  } else {
    throw new BatchError(ErrorCode.UNSUPPORTED_COMPRESSION_TYPE, `compression codec ${compression}`);
  }
  const records = decodeRecords(body, count);
  return { ...header, records };
}

function decodeRecords(body: Buffer, count: number): BatchRecord[] {
  const r = new Reader(body);
  const records: BatchRecord[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const length = r.varint();
      if (length < 0) throw new BatchError(ErrorCode.CORRUPT_MESSAGE, `record ${i} length ${length}`);
      const rr = new Reader(r.raw(length));
      const attributes = rr.int8();
      const timestampDelta = rr.varlong();
      const offsetDelta = rr.varint();
      const key = varBytes(rr);
      const value = varBytes(rr);
      const headerCount = rr.varint();
      if (headerCount < 0) throw new BatchError(ErrorCode.INVALID_RECORD, `header count ${headerCount}`);
      const headers: RecordHeader[] = [];
      for (let h = 0; h < headerCount; h++) {
        const hk = varBytes(rr);
        if (hk === null) throw new BatchError(ErrorCode.INVALID_RECORD, 'null header key');
        headers.push({ key: hk.toString('utf8'), value: varBytes(rr) });
      }
      if (rr.remaining !== 0) {
        throw new BatchError(ErrorCode.CORRUPT_MESSAGE, `record ${i}: ${rr.remaining} bytes past its fields`);
      }
      if (offsetDelta !== i) {
        throw new BatchError(ErrorCode.INVALID_RECORD, `record ${i} has offsetDelta ${offsetDelta}`);
      }
      records.push({ attributes, timestampDelta, offsetDelta, key, value, headers });
    }
  } catch (e) {
    if (e instanceof WireError) throw new BatchError(ErrorCode.CORRUPT_MESSAGE, `records: ${e.message}`);
    throw e;
  }
  if (r.remaining !== 0) {
    throw new BatchError(ErrorCode.CORRUPT_MESSAGE, `${r.remaining} bytes after the last record`);
  }
  return records;
}

function varBytes(r: Reader): Buffer | null {
  const n = r.varint();
  if (n === -1) return null;
  if (n < -1) throw new WireError(`negative length ${n}`);
  return r.raw(n);
}

export interface BatchInput {
  producerId?: bigint;
  producerEpoch?: number;
  baseSequence?: number;
  baseTimestamp?: bigint;
  compression?: number;
  transactional?: boolean;
  records: { key?: Buffer | null; value: Buffer | null; headers?: RecordHeader[]; timestampDelta?: bigint }[];
}

/** Builds a batch as a producer does (baseOffset 0, leader epoch -1 as clients send), for hand-built requests. */
export function encodeRecordBatch(input: BatchInput): Buffer {
  const records = new Writer();
  input.records.forEach((rec, i) => {
    const body = new Writer()
      .int8(0)
      .varlong(rec.timestampDelta ?? 0n)
      .varint(i)
      .varBytes(rec.key ?? null)
      .varBytes(rec.value);
    const headers = rec.headers ?? [];
    body.varint(headers.length);
    for (const h of headers) body.varBytes(Buffer.from(h.key, 'utf8')).varBytes(h.value);
    records.varint(body.length).raw(body.toBuffer());
  });
  const compression = input.compression ?? Compression.none;
  const recordBytes = compression === Compression.gzip ? gzipSync(records.toBuffer()) : records.toBuffer();
  const baseTimestamp = input.baseTimestamp ?? BigInt(Date.now());
  const maxDelta = input.records.reduce((m, r) => ((r.timestampDelta ?? 0n) > m ? r.timestampDelta! : m), 0n);
  const afterCrc = new Writer()
    .int16(compression | (input.transactional ? TRANSACTIONAL_BIT : 0))
    .int32(input.records.length - 1)
    .int64(baseTimestamp)
    .int64(baseTimestamp + maxDelta)
    .int64(input.producerId ?? -1n)
    .int16(input.producerEpoch ?? -1)
    .int32(input.baseSequence ?? -1)
    .int32(input.records.length)
    .raw(recordBytes)
    .toBuffer();
  const afterLength = new Writer().int32(-1).int8(2).uint32(crc32c(afterCrc)).raw(afterCrc).toBuffer();
  return new Writer().int64(0n).int32(afterLength.length).raw(afterLength).toBuffer();
}
