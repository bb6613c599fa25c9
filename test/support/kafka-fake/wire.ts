/**
 * Kafka's primitive types (https://kafka.apache.org/protocol#protocol_types) for the non-flexible request
 * and response versions the fake serves: big-endian integers, INT16-length STRING/NULLABLE_STRING,
 * INT32-length BYTES/NULLABLE_BYTES, INT32-count ARRAY (-1 = null), and the zig-zag VARINT/VARLONG of
 * record batches v2. No flexible versions (COMPACT_* types, tagged fields) are advertised, so none are read.
 */

/** The bytes ran out, or a length is impossible: the request is malformed. */
export class WireError extends Error {}

export class Reader {
  pos = 0;
  constructor(readonly buf: Buffer) {}

  get remaining(): number {
    return this.buf.length - this.pos;
  }

  private need(n: number): void {
    if (n < 0 || this.pos + n > this.buf.length) {
      throw new WireError(`needs ${n} bytes at ${this.pos}, ${this.remaining} left`);
    }
  }

  int8(): number {
    this.need(1);
    return this.buf.readInt8(this.pos++);
  }
  int16(): number {
    this.need(2);
    const v = this.buf.readInt16BE(this.pos);
    this.pos += 2;
    return v;
  }
  int32(): number {
    this.need(4);
    const v = this.buf.readInt32BE(this.pos);
    this.pos += 4;
    return v;
  }
  uint32(): number {
    this.need(4);
    const v = this.buf.readUInt32BE(this.pos);
    this.pos += 4;
    return v;
  }
  int64(): bigint {
    this.need(8);
    const v = this.buf.readBigInt64BE(this.pos);
    this.pos += 8;
    return v;
  }
  boolean(): boolean {
    return this.int8() !== 0;
  }
  raw(n: number): Buffer {
    this.need(n);
    const v = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return v;
  }
  nullableString(): string | null {
    const n = this.int16();
    if (n === -1) return null;
    if (n < -1) throw new WireError(`string length ${n}`);
    return this.raw(n).toString('utf8');
  }
  string(): string {
    const s = this.nullableString();
    if (s === null) throw new WireError('null STRING');
    return s;
  }
  nullableBytes(): Buffer | null {
    const n = this.int32();
    if (n === -1) return null;
    if (n < -1) throw new WireError(`bytes length ${n}`);
    return this.raw(n);
  }
  nullableArray<T>(item: (r: Reader) => T): T[] | null {
    const n = this.int32();
    if (n === -1) return null;
    if (n < -1 || n > this.remaining) throw new WireError(`array length ${n}`);
    const out: T[] = [];
    for (let i = 0; i < n; i++) out.push(item(this));
    return out;
  }
  array<T>(item: (r: Reader) => T): T[] {
    const a = this.nullableArray(item);
    if (a === null) throw new WireError('null ARRAY');
    return a;
  }
  /** Unsigned LEB128, at most 64 bits. */
  private uvarlong(maxBytes: number): bigint {
    let result = 0n;
    for (let i = 0; i < maxBytes; i++) {
      this.need(1);
      const b = this.buf[this.pos++]!;
      result |= BigInt(b & 0x7f) << BigInt(7 * i);
      if ((b & 0x80) === 0) return result;
    }
    throw new WireError('varint too long');
  }
  /** VARINT: zig-zag encoded signed 32-bit. */
  varint(): number {
    const u = this.uvarlong(5);
    if (u > 0xffffffffn) throw new WireError('varint out of range');
    return Number((u >> 1n) ^ -(u & 1n));
  }
  /** VARLONG: zig-zag encoded signed 64-bit. */
  varlong(): bigint {
    const u = this.uvarlong(10);
    return BigInt.asIntN(64, (u >> 1n) ^ -(u & 1n));
  }
}

export class Writer {
  private chunks: Buffer[] = [];
  private size = 0;

  private push(b: Buffer): this {
    this.chunks.push(b);
    this.size += b.length;
    return this;
  }
  get length(): number {
    return this.size;
  }
  int8(v: number): this {
    const b = Buffer.alloc(1);
    b.writeInt8(v);
    return this.push(b);
  }
  int16(v: number): this {
    const b = Buffer.alloc(2);
    b.writeInt16BE(v);
    return this.push(b);
  }
  int32(v: number): this {
    const b = Buffer.alloc(4);
    b.writeInt32BE(v);
    return this.push(b);
  }
  uint32(v: number): this {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(v >>> 0);
    return this.push(b);
  }
  int64(v: bigint): this {
    const b = Buffer.alloc(8);
    b.writeBigInt64BE(v);
    return this.push(b);
  }
  boolean(v: boolean): this {
    return this.int8(v ? 1 : 0);
  }
  raw(b: Buffer): this {
    return this.push(b);
  }
  nullableString(s: string | null): this {
    if (s === null) return this.int16(-1);
    const b = Buffer.from(s, 'utf8');
    return this.int16(b.length).push(b);
  }
  nullableBytes(b: Buffer | null): this {
    if (b === null) return this.int32(-1);
    return this.int32(b.length).push(b);
  }
  array<T>(items: readonly T[] | null, item: (w: Writer, v: T) => void): this {
    if (items === null) return this.int32(-1);
    this.int32(items.length);
    for (const v of items) item(this, v);
    return this;
  }
  private uvarlong(u: bigint): this {
    const bytes: number[] = [];
    do {
      let b = Number(u & 0x7fn);
      u >>= 7n;
      if (u !== 0n) b |= 0x80;
      bytes.push(b);
    } while (u !== 0n);
    return this.push(Buffer.from(bytes));
  }
  varint(v: number): this {
    const n = BigInt(v | 0);
    return this.uvarlong(BigInt.asUintN(32, (n << 1n) ^ (n >> 31n)));
  }
  varlong(v: bigint): this {
    const n = BigInt.asIntN(64, v);
    return this.uvarlong(BigInt.asUintN(64, (n << 1n) ^ (n >> 63n)));
  }
  /** VARINT length (-1 = null) then the bytes, as record keys, values and header values are written. */
  varBytes(b: Buffer | null): this {
    if (b === null) return this.varint(-1);
    return this.varint(b.length).push(b);
  }
  toBuffer(): Buffer {
    return Buffer.concat(this.chunks, this.size);
  }
}
