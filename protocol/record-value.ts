// Record values: deterministic CBOR of a format's columns, checked against the format, and column projection.
//
// Values are sealed, so only devices (before sealing) and readers (after opening) see them; CBOR is
// compact for GPS tracks and carries bytes natively. Encoding is cborg's deterministic mode (RFC 8949
// §4.2.1 length-first map key order, shortest integer and float forms); decoding is strict.
import { decode as cborDecode, encode as cborEncode } from 'cborg';
import { ProtocolError } from './errors.js';
import type { ColumnDefinition, FormatDefinition } from './formats.js';

export type RecordValue = Record<string, unknown>;

/** A sealed value is at most this large before encryption. */
export const MAX_VALUE_BYTES = 256 * 1024;

export function encodeRecordValue(def: FormatDefinition, value: RecordValue): Uint8Array {
  validateRecordValue(def, value);
  let bytes: Uint8Array;
  try {
    bytes = cborEncode(value);
  } catch (cause) {
    throw new ProtocolError('VALUE_SCHEMA_MISMATCH', `${def.name}: value cannot be encoded: ${(cause as Error).message}`, { cause });
  }
  if (bytes.length > MAX_VALUE_BYTES) {
    throw new ProtocolError('VALUE_SCHEMA_MISMATCH', `${def.name}: value is ${bytes.length} bytes, limit ${MAX_VALUE_BYTES}`);
  }
  return bytes;
}

/** Decodes and checks a value; every failure is a ProtocolError. */
export function decodeRecordValue(def: FormatDefinition, bytes: Uint8Array): RecordValue {
  if (!(bytes instanceof Uint8Array)) throw new TypeError('value must be a Uint8Array');
  if (bytes.length > MAX_VALUE_BYTES) throw new ProtocolError('DECODE_TOO_LARGE', `${def.name}: value is ${bytes.length} bytes`);
  let value: unknown;
  try {
    value = cborDecode(bytes, { strict: true, rejectDuplicateMapKeys: true, allowUndefined: false, allowIndefinite: false });
  } catch (cause) {
    // cborg throws plain Errors (and RangeError on hostile nesting); give callers one typed error.
    throw new ProtocolError('DECODE_INVALID', `${def.name}: value is not valid deterministic CBOR: ${(cause as Error).message}`, { cause });
  }
  if (!isPlainObject(value)) throw new ProtocolError('DECODE_INVALID', `${def.name}: value is not a CBOR map of columns`);
  try {
    validateRecordValue(def, value);
  } catch (err) {
    if (err instanceof ProtocolError) throw new ProtocolError('DECODE_INVALID', err.message, { cause: err });
    throw err;
  }
  return value;
}

/** Required columns present, no unknown columns, each column of its declared type. */
export function validateRecordValue(def: FormatDefinition, value: RecordValue): void {
  if (!isPlainObject(value)) throw new ProtocolError('VALUE_SCHEMA_MISMATCH', `${def.name}: value must be an object`);
  const byName = new Map(def.columns.map((c) => [c.name, c]));
  for (const [name, v] of Object.entries(value)) {
    const column = byName.get(name);
    if (!column) throw new ProtocolError('VALUE_SCHEMA_MISMATCH', `${def.name}: unknown column ${name}`);
    if (!matchesType(column, v)) {
      throw new ProtocolError('VALUE_SCHEMA_MISMATCH', `${def.name}: column ${name} must be ${column.type}`);
    }
  }
  for (const column of def.columns) {
    if (column.required && !(column.name in value)) {
      throw new ProtocolError('VALUE_SCHEMA_MISMATCH', `${def.name}: required column ${column.name} is missing`);
    }
  }
}

/** The `columns=[…]` projection of getKV: unknown column names are an error, absent ones are skipped. */
export function projectColumns(def: FormatDefinition, value: RecordValue, columns: readonly string[]): RecordValue {
  const known = new Set(def.columns.map((c) => c.name));
  const out: RecordValue = {};
  for (const name of columns) {
    if (!known.has(name)) throw new ProtocolError('VALUE_SCHEMA_MISMATCH', `${def.name}: unknown column ${name}`);
    if (name in value) out[name] = value[name];
  }
  return out;
}

function matchesType(column: ColumnDefinition, v: unknown): boolean {
  switch (column.type) {
    case 'uint':
      return (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) || (typeof v === 'bigint' && v >= 0n);
    case 'int':
      return (typeof v === 'number' && Number.isSafeInteger(v)) || typeof v === 'bigint';
    case 'number':
      return typeof v === 'number' && Number.isFinite(v);
    case 'string':
      return typeof v === 'string';
    case 'bytes':
      return v instanceof Uint8Array;
    case 'bool':
      return typeof v === 'boolean';
    case 'array':
      return Array.isArray(v);
    case 'object':
      return isPlainObject(v);
  }
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (v === null || typeof v !== 'object' || Array.isArray(v) || v instanceof Uint8Array) return false;
  const proto = Object.getPrototypeOf(v) as unknown;
  return proto === Object.prototype || proto === null;
}
