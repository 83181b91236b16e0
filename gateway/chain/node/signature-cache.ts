// A bounded set of transaction signatures this node has verified, so that each tx is verified once, not at admission and again in every block check.
import type { VerifiedSignatures } from '../app/tx-scope.js';

/** Insertion-ordered; the oldest entries go first once `capacity` is reached. */
export class SignatureCache implements VerifiedSignatures {
  private readonly keys = new Set<string>();

  constructor(private readonly capacity = 100_000) {}

  has(key: string): boolean {
    return this.keys.has(key);
  }

  add(key: string): void {
    if (this.keys.has(key)) return;
    if (this.keys.size >= this.capacity) {
      const oldest = this.keys.values().next().value;
      if (oldest !== undefined) this.keys.delete(oldest);
    }
    this.keys.add(key);
  }

  get size(): number {
    return this.keys.size;
  }
}
