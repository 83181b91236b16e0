// Bounds-checked byte writer/reader shared by every binary format in protocol/.
//
// Conventions (docs/PROTOCOL.md §Conventions): integers are big-endian; `varint` is unsigned
// LEB128, minimal length, at most 2^53-1; `bytes` is a varint length followed by the bytes;
// `string` is `bytes` holding UTF-8 that must round-trip.
import { ProtocolError } from './errors.js';

const MAX_VARINT = Number.MAX_SAFE_INTEGER;
const utf8Decoder = new TextDecoder('utf-8', { fatal: true });
const utf8Encoder = new TextEncoder();

export class ByteWriter {
  private chunks: Uint8Array[] = [];
  private size = 0;

  get length(): number {
    return this.size;
  }

  raw(bytes: Uint8Array): this {
    this.chunks.push(bytes);
    this.size += bytes.length;
    return this;
  }

  u8(value: number): this {
    checkUint(value, 0xff, 'u8');
    return this.raw(Uint8Array.of(value));
  }

  u16(value: number): this {
    checkUint(value, 0xffff, 'u16');
    return this.raw(Uint8Array.of(value >>> 8, value & 0xff));
  }

  u32(value: number): this {
    checkUint(value, 0xffffffff, 'u32');
    const out = new Uint8Array(4);
    new DataView(out.buffer).setUint32(0, value);
    return this.raw(out);
  }

  u64(value: bigint | number): this {
    const v = BigInt(value);
    if (v < 0n || v > 0xffffffffffffffffn) throw new RangeError(`u64 out of range: ${v}`);
    const out = new Uint8Array(8);
    new DataView(out.buffer).setBigUint64(0, v);
    return this.raw(out);
  }

  varint(value: number): this {
    checkUint(value, MAX_VARINT, 'varint');
    const out: number[] = [];
    let v = value;
    while (v >= 0x80) {
      out.push((v % 0x80) | 0x80);
      v = Math.floor(v / 0x80);
    }
    out.push(v);
    return this.raw(Uint8Array.from(out));
  }

  bytes(value: Uint8Array): this {
    return this.varint(value.length).raw(value);
  }

  string(value: string): this {
    return this.bytes(utf8Encoder.encode(value));
  }

  /** Fixed-length field: the length is part of the format, so it is checked, not written. */
  fixed(value: Uint8Array, length: number): this {
    if (value.length !== length) throw new RangeError(`expected ${length} bytes, got ${value.length}`);
    return this.raw(value);
  }

  finish(): Uint8Array {
    const out = new Uint8Array(this.size);
    let offset = 0;
    for (const chunk of this.chunks) {
      out.set(chunk, offset);
      offset += chunk.length;
    }
    this.chunks = [out];
    return out;
  }
}

export class ByteReader {
  private offset = 0;

  constructor(
    private readonly data: Uint8Array,
    /** Names the structure in error messages, e.g. "uplink message". */
    private readonly what = 'input',
  ) {
    if (!(data instanceof Uint8Array)) throw new TypeError(`${what}: expected Uint8Array`);
  }

  get remaining(): number {
    return this.data.length - this.offset;
  }

  get position(): number {
    return this.offset;
  }

  take(length: number): Uint8Array {
    if (length > this.remaining) {
      throw new ProtocolError(
        'DECODE_TRUNCATED',
        `${this.what}: needs ${length} bytes at offset ${this.offset}, only ${this.remaining} left`,
      );
    }
    const out = this.data.subarray(this.offset, this.offset + length);
    this.offset += length;
    return out;
  }

  u8(): number {
    return this.take(1)[0]!;
  }

  u16(): number {
    const b = this.take(2);
    return (b[0]! << 8) | b[1]!;
  }

  u32(): number {
    const b = this.take(4);
    return new DataView(b.buffer, b.byteOffset, 4).getUint32(0);
  }

  u64(): bigint {
    const b = this.take(8);
    return new DataView(b.buffer, b.byteOffset, 8).getBigUint64(0);
  }

  /** A u64 that must fit in a JS number (timestamps, counters). */
  u64Number(field: string): number {
    const v = this.u64();
    if (v > BigInt(MAX_VARINT)) throw new ProtocolError('DECODE_INVALID', `${this.what}: ${field} exceeds 2^53-1`);
    return Number(v);
  }

  varint(): number {
    let result = 0;
    let scale = 1;
    for (let i = 0; ; i++) {
      if (i >= 8) throw new ProtocolError('DECODE_INVALID', `${this.what}: varint longer than 8 bytes`);
      const byte = this.u8();
      result += (byte & 0x7f) * scale;
      if (result > MAX_VARINT) throw new ProtocolError('DECODE_INVALID', `${this.what}: varint exceeds 2^53-1`);
      if ((byte & 0x80) === 0) {
        if (byte === 0 && i > 0) {
          throw new ProtocolError('DECODE_NON_CANONICAL', `${this.what}: varint has a redundant zero byte`);
        }
        return result;
      }
      scale *= 0x80;
    }
  }

  /** A varint-length-prefixed byte string, with an upper bound from the format. */
  bytes(maxLength: number, field = 'bytes'): Uint8Array {
    const length = this.varint();
    if (length > maxLength) {
      throw new ProtocolError('DECODE_TOO_LARGE', `${this.what}: ${field} is ${length} bytes, limit ${maxLength}`);
    }
    return this.take(length);
  }

  string(maxLength: number, field = 'string'): string {
    const raw = this.bytes(maxLength, field);
    try {
      return utf8Decoder.decode(raw);
    } catch (cause) {
      throw new ProtocolError('DECODE_INVALID', `${this.what}: ${field} is not valid UTF-8`, { cause });
    }
  }

  /** A count prefix for a list, bounded so a hostile count cannot drive allocation. */
  count(maxCount: number, field = 'count'): number {
    const n = this.varint();
    if (n > maxCount) throw new ProtocolError('DECODE_TOO_LARGE', `${this.what}: ${field} ${n} exceeds ${maxCount}`);
    return n;
  }

  /** Asserts the whole input was consumed. */
  end(): void {
    if (this.remaining !== 0) {
      throw new ProtocolError('DECODE_TRAILING_BYTES', `${this.what}: ${this.remaining} trailing bytes`);
    }
  }
}

export function expectVersion(reader: ByteReader, supported: number, what: string): void {
  const version = reader.u8();
  if (version !== supported) {
    throw new ProtocolError('UNSUPPORTED_VERSION', `${what}: version ${version}, this implementation reads ${supported}`);
  }
}

export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  const writer = new ByteWriter();
  for (const p of parts) writer.raw(p);
  return writer.finish();
}

export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}

/** Lexicographic byte comparison (memcmp order). */
export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const d = a[i]! - b[i]!;
    if (d !== 0) return d < 0 ? -1 : 1;
  }
  return a.length === b.length ? 0 : a.length < b.length ? -1 : 1;
}

export function utf8(value: string): Uint8Array {
  return utf8Encoder.encode(value);
}

function checkUint(value: number, max: number, what: string): void {
  if (!Number.isInteger(value) || value < 0 || value > max) throw new RangeError(`${what} out of range: ${value}`);
}
