// The gateway's record store seam: put-if-absent per record id, point get and byte-ordered range scans per pool address.
//
// Rules every backend keeps (docs/kv-store.md):
// - One record per (address, encodedKey) — the record id recordId(address, encodedKey). Storing the
//   same `record` bytes again is a `duplicate` (nothing changes, the first originProof and receivedAt
//   stay); different `record` bytes are a `conflict` (rejected, the stored entry stays). originProof and
//   receivedAt are not compared: the same record re-sent in another uplink message has another proof.
// - putIfAbsent is atomic per entry, not per batch: after a rejection some entries of the batch may be
//   stored. Every entry is idempotent, so the caller retries the whole batch. When the promise resolves,
//   every entry is durable in the backend's durability mode (SQLite: committed with the configured
//   `synchronous`; Redis: executed on the master, plus acknowledged by `replicas` replicas when WAIT is on).
// - range returns [start, end) of one address in memcmp order of encoded keys, at most `limit` entries;
//   `nextCursor` is non-null only when more entries follow. Paging with cursors returns every entry that
//   existed throughout the scan exactly once; entries inserted meanwhile may or may not appear.
// - Cancellation: there is none per call. A call that has started runs to completion (a Redis call is
//   bounded by the backend's operation timeout). close() waits for calls in flight, then releases the
//   backend; every call after close() starts rejects with KV_CLOSED. close() is idempotent.
import { CarchainError } from '../../protocol/errors.js';
import { MAX_ENCODED_KEY_BYTES } from '../../protocol/key-encoding.js';

export const KV_ERROR_CODES = [
  'KV_UNAVAILABLE', // backend unreachable, busy or failing over: temporary; for writes mayHaveSucceeded may be set
  'KV_REPLICATION_TIMEOUT', // written on the master but WAIT saw too few replicas in time: temporary, mayHaveSucceeded
  'KV_BAD_CURSOR', // a cursor that is malformed or outside the range it is used with
  'KV_BAD_RANGE', // start > end, a bound too long, or a limit outside 1..MAX_RANGE_LIMIT
  'KV_BAD_ENTRY', // an entry that cannot be stored (address, key length, field types)
  'KV_CLOSED', // the store was closed
  'KV_OPEN_FAILED', // the backend could not be opened (file, schema, configuration)
  'KV_BACKEND_ERROR', // an unexpected backend failure that retrying will not fix
] as const;

export type KvErrorCode = (typeof KV_ERROR_CODES)[number];

export class KvError extends CarchainError<KvErrorCode> {}

export interface KvEntry {
  /** Pool address (base58 P2PKH, ≤ 64 characters). */
  address: string;
  /** Order-preserving encoded key (protocol/key-encoding.ts), 1..1024 bytes. */
  encodedKey: Uint8Array;
  /** The encoded sealed record; opaque to the store, compared byte for byte. */
  record: Uint8Array;
  /** The record's origin proof; opaque, stored with the first copy of the record. */
  originProof: Uint8Array;
  /** Milliseconds since the epoch when the gateway accepted the record. */
  receivedAt: number;
}

export type PutOutcome = 'inserted' | 'duplicate' | 'conflict';

export interface RangeOptions {
  /** 1..MAX_RANGE_LIMIT entries per page. */
  limit: number;
  /** `nextCursor` of the previous page of the same (address, start, end). */
  cursor?: string;
}

export interface RangePage {
  entries: KvEntry[];
  nextCursor: string | null;
}

export interface KvHealth {
  backend: string;
  ok: boolean;
  detail: Record<string, unknown>;
}

export interface KvStore {
  /** Stores each entry unless its id is taken; one outcome per entry, in order. */
  putIfAbsent(entries: readonly KvEntry[]): Promise<PutOutcome[]>;
  get(address: string, encodedKey: Uint8Array): Promise<KvEntry | null>;
  /** Entries of `address` with start ≤ encodedKey < end in byte order. */
  range(address: string, start: Uint8Array, end: Uint8Array, options: RangeOptions): Promise<RangePage>;
  /** Never rejects (except KV_CLOSED): a failing backend is reported as ok: false. */
  health(): Promise<KvHealth>;
  close(): Promise<void>;
}

export const MAX_RANGE_LIMIT = 1000;
const MAX_ADDRESS_CHARS = 64;
/** Base58 only: the address is a Redis hash tag, so '{' / '}' must never appear in it. */
const ADDRESS_PATTERN = /^[1-9A-HJ-NP-Za-km-z]+$/;

export function checkAddress(address: unknown): asserts address is string {
  if (typeof address !== 'string' || address.length === 0 || address.length > MAX_ADDRESS_CHARS || !ADDRESS_PATTERN.test(address)) {
    throw new KvError('KV_BAD_ENTRY', `address must be 1..${MAX_ADDRESS_CHARS} base58 characters`);
  }
}

export function checkEntry(entry: KvEntry): void {
  checkAddress(entry.address);
  const key = entry.encodedKey;
  if (!(key instanceof Uint8Array) || key.length === 0 || key.length > MAX_ENCODED_KEY_BYTES) {
    throw new KvError('KV_BAD_ENTRY', `encodedKey must be 1..${MAX_ENCODED_KEY_BYTES} bytes`);
  }
  if (!(entry.record instanceof Uint8Array) || entry.record.length === 0) throw new KvError('KV_BAD_ENTRY', 'record must be non-empty bytes');
  if (!(entry.originProof instanceof Uint8Array)) throw new KvError('KV_BAD_ENTRY', 'originProof must be bytes');
  if (!Number.isSafeInteger(entry.receivedAt) || entry.receivedAt < 0) throw new KvError('KV_BAD_ENTRY', 'receivedAt must be a non-negative integer (ms)');
}

export function checkGetKey(address: string, encodedKey: Uint8Array): void {
  checkAddress(address);
  if (!(encodedKey instanceof Uint8Array) || encodedKey.length === 0 || encodedKey.length > MAX_ENCODED_KEY_BYTES) {
    throw new KvError('KV_BAD_ENTRY', `encodedKey must be 1..${MAX_ENCODED_KEY_BYTES} bytes`);
  }
}
