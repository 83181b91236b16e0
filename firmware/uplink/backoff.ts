// Capped exponential backoff with jitter, for reconnects and publish retries; randomness is injected.
//
// Delay n (from 0) is min(maxMs, initialMs · multiplier^n), then scaled into [1 − jitter, 1] of itself,
// so a fleet of dongles that lost the same broker do not all come back in the same millisecond.

export interface BackoffOptions {
  /** First delay (default 1000 ms). */
  initialMs?: number;
  /** Cap on any delay (default 60,000 ms). */
  maxMs?: number;
  /** Growth per attempt (default 2). */
  multiplier?: number;
  /** Fraction of the delay that is randomised away, 0..1 (default 0.5). */
  jitter?: number;
  /** Uniform [0, 1); default Math.random. */
  random?: () => number;
}

export class Backoff {
  private readonly initialMs: number;
  private readonly maxMs: number;
  private readonly multiplier: number;
  private readonly jitter: number;
  private readonly random: () => number;
  private attempt = 0;

  constructor(options: BackoffOptions = {}) {
    this.initialMs = options.initialMs ?? 1000;
    this.maxMs = options.maxMs ?? 60_000;
    this.multiplier = options.multiplier ?? 2;
    this.jitter = options.jitter ?? 0.5;
    this.random = options.random ?? Math.random;
    if (!(this.initialMs > 0) || !(this.maxMs >= this.initialMs)) throw new RangeError('backoff needs 0 < initialMs ≤ maxMs');
    if (!(this.multiplier >= 1)) throw new RangeError('backoff multiplier must be ≥ 1');
    if (!(this.jitter >= 0 && this.jitter <= 1)) throw new RangeError('backoff jitter must be in 0..1');
  }

  /** The delay before the next attempt; each call counts one more failure. */
  next(): number {
    const base = Math.min(this.maxMs, this.initialMs * this.multiplier ** Math.min(this.attempt, 64));
    this.attempt++;
    return Math.round(base * (1 - this.jitter * this.random()));
  }

  /** After a success: the next failure starts from initialMs again. */
  reset(): void {
    this.attempt = 0;
  }

  /** Failures counted since the last reset. */
  get failures(): number {
    return this.attempt;
  }
}
