// JSON schemas of the query API's params, querystrings and bodies, the hex convention, and schema failure → error code.
//
// Bytes travel as lowercase hex without 0x: one spelling per value, so ids and keys can be compared as
// strings and cached by URL. Schemas check shape (charset, length); handlers check meaning (checksum,
// format dictionary) and throw ApiError with the same codes.
import { MAX_ENCODED_KEY_BYTES } from '../../protocol/key-encoding.js';
import { MAX_RANGE_LIMIT } from '../kv/kv-store.js';
import { ApiError, type ApiErrorCode } from './api-errors.js';

export const DEFAULT_RANGE_LIMIT = 100;
export const MAX_GRANT_KEYS_PER_CALL = 1000;

const hexOf = (maxBytes: number) => ({ type: 'string', pattern: `^(?:[0-9a-f]{2}){1,${maxBytes}}$` }) as const;
const hex32 = { type: 'string', pattern: '^[0-9a-f]{64}$' } as const;
// Shape only (base58, ≤ 64 chars); the checksum is checked in the handler.
const address = { type: 'string', pattern: '^[1-9A-HJ-NP-Za-km-z]{1,64}$' } as const;
// Bounds may be one byte longer than a key (a key followed by 0x00 is its successor).
const bound = { type: 'string', pattern: `^(?:[0-9a-f]{2}){0,${MAX_ENCODED_KEY_BYTES + 1}}$` } as const;
const limit = { type: 'integer', minimum: 1, maximum: MAX_RANGE_LIMIT, default: DEFAULT_RANGE_LIMIT } as const;
const cursor = { type: 'string', pattern: '^[A-Za-z0-9_-]{1,2048}$' } as const;

export const kvGetSchema = {
  params: { type: 'object', required: ['address', 'key'], properties: { address, key: hexOf(MAX_ENCODED_KEY_BYTES) } },
} as const;

export const kvRangeSchema = {
  params: { type: 'object', required: ['address'], properties: { address } },
  querystring: {
    type: 'object',
    properties: {
      start: bound,
      end: bound,
      limit,
      cursor,
      format: { type: 'string', pattern: '^[A-Za-z0-9_.:-]{1,64}$' },
      proofs: { type: 'string', enum: ['0', '1'] },
    },
  },
} as const;

export const recordProofSchema = { params: { type: 'object', required: ['recordId'], properties: { recordId: hex32 } } } as const;

export const batchSchema = {
  params: { type: 'object', required: ['batchId'], properties: { batchId: { type: 'integer', minimum: 1, maximum: Number.MAX_SAFE_INTEGER } } },
} as const;

export const grantKeysPutSchema = {
  params: { type: 'object', required: ['grantId'], properties: { grantId: hex32 } },
  body: {
    type: 'array',
    minItems: 1,
    maxItems: MAX_GRANT_KEYS_PER_CALL,
    items: {
      type: 'object',
      additionalProperties: false,
      required: ['recordId', 'wrappedKey'],
      // An RSA-OAEP wrapped AES key is the RSA modulus size: 256–512 bytes; 1 KiB bounds abuse.
      // address + key (optional, together): the record the id names, so the grant's coverage can be checked.
      properties: { recordId: hex32, wrappedKey: hexOf(1024), address, key: hexOf(MAX_ENCODED_KEY_BYTES) },
    },
  },
} as const;

export const grantKeysGetSchema = {
  params: { type: 'object', required: ['grantId'], properties: { grantId: hex32 } },
  querystring: {
    type: 'object',
    required: ['recordId'],
    // Repeat recordId to ask for several (fastify's querystring parser yields an array; one value is coerced).
    properties: { recordId: { type: 'array', minItems: 1, maxItems: MAX_GRANT_KEYS_PER_CALL, items: hex32 } },
  },
} as const;

/** The grantee's listing of a grant's records and wrapped keys, in record-id order. */
export const grantRecordsSchema = {
  params: { type: 'object', required: ['grantId'], properties: { grantId: hex32 } },
  querystring: { type: 'object', properties: { limit, cursor } },
} as const;

/** Which code a failing field maps to; anything unlisted is BAD_REQUEST (or BAD_BODY for bodies). */
const FIELD_CODES: Record<string, ApiErrorCode> = {
  address: 'BAD_ADDRESS',
  key: 'BAD_KEY',
  start: 'BAD_RANGE',
  end: 'BAD_RANGE',
  limit: 'BAD_LIMIT',
  cursor: 'BAD_CURSOR',
  format: 'FORMAT_UNKNOWN',
  proofs: 'BAD_REQUEST',
  recordId: 'BAD_RECORD_ID',
  batchId: 'BAD_BATCH_ID',
  grantId: 'BAD_GRANT_ID',
};

interface SchemaFailure {
  instancePath?: string;
  params?: Record<string, unknown>;
  message?: string;
}

/** Turns a fastify validation error (ajv errors + context) into the ApiError of the first failing field. */
export function validationError(failures: readonly SchemaFailure[], context: string | undefined): ApiError {
  const first = failures[0] ?? {};
  const missing = first.params?.missingProperty;
  const field = (first.instancePath ?? '').split('/')[1] || (typeof missing === 'string' ? missing : '');
  const what = `${context ?? 'request'}${first.instancePath ?? ''} ${first.message ?? 'is invalid'}`;
  if (context === 'body') return new ApiError('BAD_BODY', what);
  return new ApiError(FIELD_CODES[field] ?? 'BAD_REQUEST', field ? `${field}: ${what}` : what);
}

export function hexToBytes(hex: string): Uint8Array {
  return new Uint8Array(Buffer.from(hex, 'hex'));
}

export function bytesToHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}
