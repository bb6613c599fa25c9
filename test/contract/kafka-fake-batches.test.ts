/**
 * The Kafka fake's encodings on their own: CRC-32C, zig-zag varints and record batches v2, checked against
 * the specification's values and by properties over random batches.
 */
import fc from 'fast-check';
import { Compression, crc32c, decodeRecordBatch, encodeRecordBatch, ErrorCode } from '../support/kafka-fake';
import { BatchError } from '../support/kafka-fake/errors';
import { Reader, Writer } from '../support/kafka-fake/wire';

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

  const records = fc.array(
    fc.record({
      key: fc.option(fc.uint8Array({ maxLength: 40 }).map((a) => Buffer.from(a))),
      value: fc.option(fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a))),
      headers: fc.array(
        fc.record({
          key: fc.string({ maxLength: 12 }),
          value: fc.option(fc.uint8Array({ maxLength: 20 }).map((a) => Buffer.from(a))),
        }),
        { maxLength: 4 },
      ),
      timestampDelta: fc.bigInt({ min: 0n, max: 2n ** 40n }),
    }),
    { minLength: 1, maxLength: 8 },
  );

  it('decodes every batch it encodes, uncompressed and gzip, to the same records', () => {
    fc.assert(
      fc.property(records, fc.constantFrom(Compression.none, Compression.gzip), (recs, compression) => {
        const batch = decodeRecordBatch(
          encodeRecordBatch({
            producerId: 7n,
            producerEpoch: 3,
            baseSequence: 11,
            compression,
            records: recs,
          }),
        );
        expect([batch.producerId, batch.producerEpoch, batch.baseSequence, batch.compression]).toEqual([
          7n,
          3,
          11,
          compression,
        ]);
        expect(batch.records.map((r) => [r.key, r.value, r.headers, r.timestampDelta])).toEqual(
          recs.map((r) => [r.key, r.value, r.headers, r.timestampDelta]),
        );
      }),
      { numRuns: 80 },
    );
  });

  it('refuses every single-bit change under the checksum with CORRUPT_MESSAGE', () => {
    fc.assert(
      fc.property(records, fc.nat(), fc.integer({ min: 0, max: 7 }), (recs, at, bit) => {
        const batch = encodeRecordBatch({ producerId: 1n, producerEpoch: 0, baseSequence: 0, records: recs });
        const i = 21 + (at % (batch.length - 21));
        batch[i]! ^= 1 << bit;
        let code: number | null = null;
        try {
          decodeRecordBatch(batch);
        } catch (e) {
          if (e instanceof BatchError) code = e.code;
        }
        expect(code).toBe(ErrorCode.CORRUPT_MESSAGE);
      }),
      { numRuns: 300 },
    );
  });
});
