// Brute-force defence of the lock: exponential back-off per key and per source, then BLOCKED after too many failures.
import { LockError } from '../../protocol/lock/errors.js';

export interface RateLimitConfig {
  /** Failures a key or source may have before back-off starts. */
  freeFailures: number;
  baseBackoffMs: number;
  maxBackoffMs: number;
  /** This many failures (any key, any source) within blockWindowMs block the lock. */
  blockAfter: number;
  blockWindowMs: number;
}

export const DEFAULT_RATE_LIMIT: RateLimitConfig = {
  freeFailures: 3,
  baseBackoffMs: 1_000,
  maxBackoffMs: 5 * 60_000,
  blockAfter: 20,
  blockWindowMs: 10 * 60_000,
};

interface Track {
  failures: number;
  lastFailure: number;
}

/** Bounded so a flood of fresh source ids cannot grow memory without limit. */
const MAX_TRACKED = 4096;

export class RateLimiter {
  private readonly byKey = new Map<string, Track>();
  private readonly bySource = new Map<string, Track>();
  private recent: number[] = [];

  constructor(readonly config: RateLimitConfig = DEFAULT_RATE_LIMIT) {}

  private backoff(t: Track | undefined): number {
    if (t === undefined || t.failures < this.config.freeFailures) return 0;
    const exp = t.failures - this.config.freeFailures;
    return Math.min(this.config.maxBackoffMs, this.config.baseBackoffMs * 2 ** Math.min(exp, 30));
  }

  /** RATE_LIMITED while the source (and the key, when known) is inside its back-off. */
  check(source: string, key: string | null, now: number): void {
    for (const [what, t] of [['source', this.bySource.get(source)], ['key', key === null ? undefined : this.byKey.get(key)]] as const) {
      const wait = t === undefined ? 0 : t.lastFailure + this.backoff(t) - now;
      if (wait > 0) throw new LockError('RATE_LIMITED', `${what} is backing off for ${wait} ms`);
    }
  }

  /** Records a failure; returns true when the lock should now block. */
  fail(source: string, key: string | null, now: number): boolean {
    bump(this.bySource, source, now);
    if (key !== null) bump(this.byKey, key, now);
    this.recent = this.recent.filter((t) => now - t < this.config.blockWindowMs);
    this.recent.push(now);
    return this.recent.length >= this.config.blockAfter;
  }

  succeed(source: string, key: string): void {
    this.bySource.delete(source);
    this.byKey.delete(key);
  }

  /** After an owner's unblock: start from a clean slate. */
  reset(): void {
    this.byKey.clear();
    this.bySource.clear();
    this.recent = [];
  }
}

function bump(map: Map<string, Track>, id: string, now: number): void {
  const t = map.get(id) ?? { failures: 0, lastFailure: now };
  t.failures++;
  t.lastFailure = now;
  map.delete(id);
  map.set(id, t);
  if (map.size > MAX_TRACKED) map.delete(map.keys().next().value!);
}
