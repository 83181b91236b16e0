// Order-preserving encoding of record keys: comparing encoded bytes (memcmp) equals comparing keys.
//
// An encoded key is the format name followed by the format's key fields in schema order. Each
// element starts with a marker byte — 0x00 INF_MIN, 0x01 a value, 0xFF INF_MAX — so a sentinel sorts
// below/above every value of that field whatever follows. Encoding stops after the first sentinel:
// the fields after it cannot change the order. Layout per type (docs/PROTOCOL.md §Keys):
//   uint   0x01 ‖ u64 big-endian
//   int    0x01 ‖ u64 big-endian of (v + 2^63)           (flips the sign bit)
//   string 0x01 ‖ escaped UTF-8 ‖ 0x00 0x01               (0x00 inside → 0x00 0xFF)
//   bytes  0x01 ‖ escaped bytes ‖ 0x00 0x01
// The escape makes variable-length fields prefix-free, so a shorter string sorts first.
import { ProtocolError } from './errors.js';
import { ByteWriter, compareBytes, utf8 } from './wire.js';

export type KeyFieldType = 'uint' | 'int' | 'string' | 'bytes';

export interface KeyField {
  name: string;
  type: KeyFieldType;
}

/** Sentinels usable only in range bounds, never in a stored record's key. */
export const INF_MIN: unique symbol = Symbol('INF_MIN');
export const INF_MAX: unique symbol = Symbol('INF_MAX');
export type KeySentinel = typeof INF_MIN | typeof INF_MAX;

export type KeyValue = bigint | number | string | Uint8Array;
export type RecordKey = Readonly<Record<string, KeyValue>>;
export type KeyBound = Readonly<Record<string, KeyValue | KeySentinel>>;

const MARK_MIN = 0x00;
const MARK_VALUE = 0x01;
const MARK_MAX = 0xff;
const U64_MAX = 0xffff_ffff_ffff_ffffn;
const I64_MIN = -(2n ** 63n);
const I64_MAX = 2n ** 63n - 1n;
/** Encoded keys are bounded so a hostile key cannot bloat indexes; 1 KiB is plenty for any format. */
export const MAX_ENCODED_KEY_BYTES = 1024;
const utf8Decoder = new TextDecoder('utf-8', { fatal: true });

/** Encodes a stored record's key: every schema field present, no sentinels, no extra fields. */
export function encodeRecordKey(format: string, schema: readonly KeyField[], key: RecordKey): Uint8Array {
  checkFieldNames(format, schema, key, false);
  for (const field of schema) {
    const value = key[field.name] as KeyValue | KeySentinel;
    if (typeof value === 'symbol') {
      throw new ProtocolError('KEY_SCHEMA_MISMATCH', `${format}: ${field.name} is a range sentinel, not a value`);
    }
  }
  return encodeKeyBound(format, schema, key);
}

/**
 * Encodes a range bound. Fields may be sentinels; fields after the first sentinel may be omitted
 * (they would not change the order). `{}` with an INF_MIN/INF_MAX first field spans the format.
 */
export function encodeKeyBound(format: string, schema: readonly KeyField[], bound: KeyBound): Uint8Array {
  checkFieldNames(format, schema, bound, true);
  const out = new ByteWriter();
  writeEscaped(out, utf8(format));
  for (const field of schema) {
    const value = bound[field.name];
    if (value === undefined) {
      throw new ProtocolError('KEY_SCHEMA_MISMATCH', `${format}: key field ${field.name} is missing`);
    }
    if (value === INF_MIN || value === INF_MAX) {
      out.u8(value === INF_MIN ? MARK_MIN : MARK_MAX);
      break;
    }
    out.u8(MARK_VALUE);
    writeField(out, format, field, value);
  }
  const bytes = out.finish();
  if (bytes.length > MAX_ENCODED_KEY_BYTES) {
    throw new ProtocolError('KEY_SCHEMA_MISMATCH', `${format}: encoded key is ${bytes.length} bytes, limit ${MAX_ENCODED_KEY_BYTES}`);
  }
  return bytes;
}

/** Reads the format name that prefixes every encoded key (the gateway needs it before the schema). */
export function readKeyFormat(encoded: Uint8Array): string {
  const cursor = { offset: 0 };
  return decodeString(readEscaped(encoded, cursor, 'format name'), 'format name');
}

/** Decodes a stored record's key against its format's schema. */
export function decodeRecordKey(schema: readonly KeyField[], encoded: Uint8Array): { format: string; key: Record<string, KeyValue> } {
  if (!(encoded instanceof Uint8Array)) throw new TypeError('encoded key must be a Uint8Array');
  if (encoded.length > MAX_ENCODED_KEY_BYTES) {
    throw new ProtocolError('DECODE_TOO_LARGE', `encoded key is ${encoded.length} bytes, limit ${MAX_ENCODED_KEY_BYTES}`);
  }
  const cursor = { offset: 0 };
  const format = decodeString(readEscaped(encoded, cursor, 'format name'), 'format name');
  const key: Record<string, KeyValue> = {};
  for (const field of schema) {
    const marker = encoded[cursor.offset++];
    if (marker === undefined) throw new ProtocolError('DECODE_TRUNCATED', `key: ${field.name} is missing`);
    if (marker !== MARK_VALUE) {
      throw new ProtocolError('DECODE_INVALID', `key: ${field.name} has marker 0x${marker.toString(16)}, a stored key holds values only`);
    }
    key[field.name] = readField(encoded, cursor, field);
  }
  if (cursor.offset !== encoded.length) {
    throw new ProtocolError('DECODE_TRAILING_BYTES', `key: ${encoded.length - cursor.offset} trailing bytes`);
  }
  return { format, key };
}

/** The key order that the byte encoding preserves (used by tests and in-memory stores). */
export function compareKeyValues(type: KeyFieldType, a: KeyValue, b: KeyValue): number {
  switch (type) {
    case 'uint':
    case 'int': {
      const x = BigInt(a as bigint | number);
      const y = BigInt(b as bigint | number);
      return x === y ? 0 : x < y ? -1 : 1;
    }
    case 'string':
      return compareBytes(utf8(a as string), utf8(b as string));
    case 'bytes':
      return compareBytes(a as Uint8Array, b as Uint8Array);
  }
}

function checkFieldNames(format: string, schema: readonly KeyField[], key: object, allowOmitted: boolean): void {
  if (key === null || typeof key !== 'object') throw new TypeError(`${format}: key must be an object`);
  const known = new Set(schema.map((f) => f.name));
  for (const name of Object.keys(key)) {
    if (!known.has(name)) throw new ProtocolError('KEY_SCHEMA_MISMATCH', `${format}: unknown key field ${name}`);
  }
  if (!allowOmitted) {
    for (const field of schema) {
      if (!(field.name in key)) throw new ProtocolError('KEY_SCHEMA_MISMATCH', `${format}: key field ${field.name} is missing`);
    }
  }
}

function writeField(out: ByteWriter, format: string, field: KeyField, value: KeyValue): void {
  const mismatch = (why: string) => new ProtocolError('KEY_SCHEMA_MISMATCH', `${format}: ${field.name} ${why}`);
  switch (field.type) {
    case 'uint':
    case 'int': {
      if (typeof value === 'number' && !Number.isSafeInteger(value)) throw mismatch('must be a safe integer or bigint');
      if (typeof value !== 'number' && typeof value !== 'bigint') throw mismatch(`must be an integer, got ${typeof value}`);
      const v = BigInt(value);
      if (field.type === 'uint') {
        if (v < 0n || v > U64_MAX) throw mismatch('is outside 0..2^64-1');
        out.u64(v);
      } else {
        if (v < I64_MIN || v > I64_MAX) throw mismatch('is outside -2^63..2^63-1');
        out.u64(v - I64_MIN);
      }
      return;
    }
    case 'string':
      if (typeof value !== 'string') throw mismatch(`must be a string, got ${typeof value}`);
      if (!value.isWellFormed()) throw mismatch('is not well-formed Unicode');
      writeEscaped(out, utf8(value));
      return;
    case 'bytes':
      if (!(value instanceof Uint8Array)) throw mismatch('must be a Uint8Array');
      writeEscaped(out, value);
      return;
  }
}

function readField(encoded: Uint8Array, cursor: { offset: number }, field: KeyField): KeyValue {
  switch (field.type) {
    case 'uint':
    case 'int': {
      if (cursor.offset + 8 > encoded.length) throw new ProtocolError('DECODE_TRUNCATED', `key: ${field.name} is truncated`);
      const raw = new DataView(encoded.buffer, encoded.byteOffset + cursor.offset, 8).getBigUint64(0);
      cursor.offset += 8;
      const v = field.type === 'uint' ? raw : raw + I64_MIN;
      // Numbers within the safe range come back as numbers, so JSON-shaped keys round-trip.
      return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
    }
    case 'string':
      return decodeString(readEscaped(encoded, cursor, field.name), field.name);
    case 'bytes':
      return readEscaped(encoded, cursor, field.name);
  }
}

function writeEscaped(out: ByteWriter, bytes: Uint8Array): void {
  let start = 0;
  for (let i = 0; i < bytes.length; i++) {
    if (bytes[i] === 0x00) {
      out.raw(bytes.subarray(start, i + 1)).u8(0xff);
      start = i + 1;
    }
  }
  out.raw(bytes.subarray(start)).u8(0x00).u8(0x01);
}

function readEscaped(encoded: Uint8Array, cursor: { offset: number }, what: string): Uint8Array {
  const out = new ByteWriter();
  let start = cursor.offset;
  for (let i = cursor.offset; i < encoded.length; i++) {
    if (encoded[i] !== 0x00) continue;
    const next = encoded[i + 1];
    if (next === 0x01) {
      out.raw(encoded.subarray(start, i));
      cursor.offset = i + 2;
      return out.finish();
    }
    if (next === undefined) break;
    if (next !== 0xff) {
      throw new ProtocolError('DECODE_INVALID', `key: ${what} has a bad escape 0x00 0x${(next ?? 0).toString(16)}`);
    }
    out.raw(encoded.subarray(start, i + 1));
    start = i + 2;
    i++;
  }
  throw new ProtocolError('DECODE_TRUNCATED', `key: ${what} is not terminated`);
}

function decodeString(bytes: Uint8Array, what: string): string {
  try {
    return utf8Decoder.decode(bytes);
  } catch (cause) {
    throw new ProtocolError('DECODE_INVALID', `key: ${what} is not valid UTF-8`, { cause });
  }
}
