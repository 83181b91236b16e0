// Decoded transactions by their exact bytes, so a tx is decoded once per node rather than at admission, in the trial block, the proposal check and the commit.
import type { DecodedTx } from '../../../protocol/chain/transactions.js';
import type { DecodedTxs } from '../app/tx-scope.js';

/** Insertion-ordered; the oldest entries go first once `capacity` is reached, and committed txs leave with `forget`. */
export class DecodedTxCache implements DecodedTxs {
  private readonly entries = new Map<string, DecodedTx>();

  constructor(private readonly capacity = 30_000) {}

  /** The bytes themselves (one char per byte) are the key: no hash to compute, no collision to reason about. */
  private static key(bytes: Uint8Array): string {
    return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
  }

  get(bytes: Uint8Array): DecodedTx | undefined {
    return this.entries.get(DecodedTxCache.key(bytes));
  }

  set(bytes: Uint8Array, tx: DecodedTx): void {
    const key = DecodedTxCache.key(bytes);
    if (this.entries.has(key)) return;
    if (this.entries.size >= this.capacity) {
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) this.entries.delete(oldest);
    }
    this.entries.set(key, tx);
  }

  /** Drops the given txs (committed: they will not be checked or executed again here). */
  forget(txs: readonly Uint8Array[]): void {
    for (const tx of txs) this.entries.delete(DecodedTxCache.key(tx));
  }

  get size(): number {
    return this.entries.size;
  }
}
