// Injected network faults for tests across processes: random drops, delays and partitions (blocked peers), changeable at run time.
//
// Applied by the peer network to every frame it sends and receives (gossip, requests and
// responses alike), after authentication, so a "partition" keeps the TCP links up and heals the
// moment a peer is unblocked. A seed makes the drop/delay sequence reproducible.
import { NetError } from './errors.js';

export interface FaultPolicyConfig {
  /** Probability in [0, 1] that a frame is dropped. */
  dropRate?: number;
  /** Each delivered frame is held back a uniform random time in [min, max] ms. */
  delayMs?: { min: number; max: number };
  /** P2PKH addresses of peers with which nothing is exchanged (a partition). */
  blocked?: Iterable<string>;
  /** Seeds the PRNG; without it, Math.random is used. */
  seed?: number;
}

export type FaultDecision = { action: 'drop'; reason: 'blocked' | 'random' } | { action: 'deliver'; delayMs: number };

export type FaultDirection = 'send' | 'receive';

/** sfc32: small, fast, good enough statistical quality for fault injection; not for secrets. */
function sfc32(seed: number): () => number {
  let a = 0x9e3779b9;
  let b = 0x243f6a88;
  let c = 0xb7e15162;
  let d = seed >>> 0;
  const next = (): number => {
    a >>>= 0; b >>>= 0; c >>>= 0; d >>>= 0;
    const t = (a + b + d) >>> 0;
    d = (d + 1) >>> 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) >>> 0;
    c = ((c << 21) | (c >>> 11)) >>> 0;
    c = (c + t) >>> 0;
    return t / 4294967296;
  };
  for (let i = 0; i < 12; i++) next();
  return next;
}

export class FaultPolicy {
  dropRate = 0;
  delayMs = { min: 0, max: 0 };
  readonly blocked = new Set<string>();
  private random: () => number = Math.random;

  constructor(config: FaultPolicyConfig = {}) {
    this.update(config);
  }

  /**
   * Changes the given fields (others keep their value); `blocked` replaces the whole set.
   * INVALID_OPTIONS for out-of-range values, checked before anything changes.
   */
  update(config: FaultPolicyConfig): void {
    const { dropRate, delayMs, blocked, seed } = config;
    if (dropRate !== undefined && !(typeof dropRate === 'number' && dropRate >= 0 && dropRate <= 1)) {
      throw new NetError('INVALID_OPTIONS', `dropRate must be a number in [0, 1], got ${String(dropRate)}`);
    }
    if (delayMs !== undefined) {
      const ok = typeof delayMs === 'object' && delayMs !== null && Number.isFinite(delayMs.min) && Number.isFinite(delayMs.max) && delayMs.min >= 0 && delayMs.max >= delayMs.min && delayMs.max <= 600_000;
      if (!ok) throw new NetError('INVALID_OPTIONS', 'delayMs must be {min, max} with 0 ≤ min ≤ max ≤ 600000');
    }
    if (seed !== undefined && !Number.isSafeInteger(seed)) throw new NetError('INVALID_OPTIONS', 'seed must be an integer');
    const blockedList = blocked === undefined ? undefined : [...blocked];
    if (blockedList?.some((a) => typeof a !== 'string')) throw new NetError('INVALID_OPTIONS', 'blocked must list address strings');
    if (dropRate !== undefined) this.dropRate = dropRate;
    if (delayMs !== undefined) this.delayMs = { min: delayMs.min, max: delayMs.max };
    if (blockedList !== undefined) {
      this.blocked.clear();
      for (const address of blockedList) this.blocked.add(address);
    }
    if (seed !== undefined) this.random = sfc32(seed);
  }

  /** What happens to one frame to or from `peer`. Consumes PRNG output only for random decisions. */
  decide(peer: string, _direction: FaultDirection): FaultDecision {
    if (this.blocked.has(peer)) return { action: 'drop', reason: 'blocked' };
    if (this.dropRate > 0 && this.random() < this.dropRate) return { action: 'drop', reason: 'random' };
    const { min, max } = this.delayMs;
    const delayMs = max === 0 ? 0 : min + Math.floor(this.random() * (max - min + 1));
    return { action: 'deliver', delayMs };
  }

  /** A JSON-friendly snapshot (for an admin endpoint). */
  toJSON(): { dropRate: number; delayMs: { min: number; max: number }; blocked: string[] } {
    return { dropRate: this.dropRate, delayMs: { ...this.delayMs }, blocked: [...this.blocked].sort() };
  }
}
