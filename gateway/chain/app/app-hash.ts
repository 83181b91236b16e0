// The app hash: a hash chain over each block's sorted write set (cheap and deterministic; not a state commitment).
//
// appHash(H) = taggedHash('carchain/v1/app-hash', appHash(H−1) ‖ H u64 ‖ sha256(encodeWriteSet(writes(H)))).
// Two nodes agree on appHash(H) iff they started from the same genesis and produced byte-identical
// write sets at every height, which is what the header needs to detect a diverging node. It cannot
// prove a single key's value (no Merkle structure over the state): tx inclusion proofs go through
// the block's tx Merkle root instead (docs/chain-transactions.md §App hash).
import { sha256, taggedHash } from '../../../protocol/hash.js';
import { ByteWriter, compareBytes } from '../../../protocol/wire.js';
import type { StateWrite } from './state.js';

export const APP_HASH_TAG = 'carchain/v1/app-hash';
const WRITE_SET_VERSION = 1;

/** version u8 ‖ count varint ‖ (key bytes ‖ 0x00 | 0x01 value bytes)*, keys strictly ascending. */
export function encodeWriteSet(writes: readonly StateWrite[]): Uint8Array {
  const w = new ByteWriter().u8(WRITE_SET_VERSION).varint(writes.length);
  let previous: Uint8Array | null = null;
  for (const write of writes) {
    if (previous !== null && compareBytes(previous, write.key) >= 0) throw new RangeError('write set must be sorted by key, one write per key');
    previous = write.key;
    w.bytes(write.key);
    if (write.value === null) w.u8(0);
    else w.u8(1).bytes(write.value);
  }
  return w.finish();
}

export function computeAppHash(prevAppHash: Uint8Array, height: number, writes: readonly StateWrite[]): Uint8Array {
  if (prevAppHash.length !== 32) throw new RangeError('prevAppHash must be 32 bytes');
  const header = new ByteWriter().fixed(prevAppHash, 32).u64(height).finish();
  return taggedHash(APP_HASH_TAG, header, sha256(encodeWriteSet(writes)));
}
