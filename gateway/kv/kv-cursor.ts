// Range arguments shared by every KvStore backend: bound and limit checks, and the opaque paging cursor.
//
// A cursor is base64url (no padding) of the last encoded key a page returned; the next page starts
// strictly after it. It carries no address or bounds, so it is checked against the range it is used
// with: a cursor outside [start, end) is KV_BAD_CURSOR rather than a silently wrong page.
import { MAX_ENCODED_KEY_BYTES } from '../../protocol/key-encoding.js';
import { compareBytes } from '../../protocol/wire.js';
import { KvError, MAX_RANGE_LIMIT, checkAddress, type RangeOptions } from './kv-store.js';

/** What a backend scans: keys after `from` (inclusive or not) and before `end`, `limit` of them. */
export interface RangePlan {
  from: Uint8Array;
  fromInclusive: boolean;
  end: Uint8Array;
  limit: number;
}

const CURSOR_PATTERN = /^[A-Za-z0-9_-]+$/;

export function encodeCursor(lastKey: Uint8Array): string {
  return Buffer.from(lastKey.buffer, lastKey.byteOffset, lastKey.byteLength).toString('base64url');
}

export function decodeCursor(cursor: string): Uint8Array {
  if (typeof cursor !== 'string' || cursor.length === 0 || !CURSOR_PATTERN.test(cursor)) {
    throw new KvError('KV_BAD_CURSOR', 'cursor is not base64url');
  }
  const bytes = Buffer.from(cursor, 'base64url');
  // Buffer's decoder ignores stray bits; only the canonical spelling of some bytes is a cursor we issued.
  if (bytes.length === 0 || bytes.length > MAX_ENCODED_KEY_BYTES || bytes.toString('base64url') !== cursor) {
    throw new KvError('KV_BAD_CURSOR', 'cursor does not encode a key');
  }
  return new Uint8Array(bytes);
}

/** Validates range arguments; null means the range is empty (start = end) and no backend call is needed. */
export function planRange(address: string, start: Uint8Array, end: Uint8Array, options: RangeOptions): RangePlan | null {
  checkAddress(address);
  for (const [name, bound] of [['start', start], ['end', end]] as const) {
    // Bounds may be one byte longer than a key: a key followed by 0x00 is its immediate successor.
    if (!(bound instanceof Uint8Array) || bound.length > MAX_ENCODED_KEY_BYTES + 1) {
      throw new KvError('KV_BAD_RANGE', `${name} must be at most ${MAX_ENCODED_KEY_BYTES + 1} bytes`);
    }
  }
  const limit = options?.limit;
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > MAX_RANGE_LIMIT) {
    throw new KvError('KV_BAD_RANGE', `limit must be an integer in 1..${MAX_RANGE_LIMIT}`);
  }
  const order = compareBytes(start, end);
  if (order > 0) throw new KvError('KV_BAD_RANGE', 'start is after end');
  let from = start;
  let fromInclusive = true;
  if (options.cursor !== undefined) {
    const last = decodeCursor(options.cursor);
    if (compareBytes(last, start) < 0 || compareBytes(last, end) >= 0) {
      throw new KvError('KV_BAD_CURSOR', 'cursor is outside the range');
    }
    from = last;
    fromInclusive = false;
  }
  if (order === 0) return null;
  return { from, fromInclusive, end, limit };
}
