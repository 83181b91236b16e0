// Injectable time for simulators: the system clock, a manual clock for tests, and a sped-up clock.
//
// Simulators read `now()` and schedule with `setTimer()`; nothing in hardware/sim touches Date.now or
// setTimeout directly, so a test can step through minutes of driving in microseconds and a demo can run
// a 15-minute scenario in 90 seconds by sharing one `scaledClock` between the ELM327 and the GPS player.

/** Cancels a timer; calling it after the timer fired (or twice) is harmless. */
export type CancelTimer = () => void;

export interface SimClock {
  /** Milliseconds on this clock's time line (the system clock uses the Unix epoch; may be fractional). */
  now(): number;
  /** Runs `callback` once `ms` milliseconds of this clock's time have passed (never earlier). */
  setTimer(ms: number, callback: () => void): CancelTimer;
}

/** Wall-clock time with sub-millisecond resolution, timers on Node's event loop. */
export const systemClock: SimClock = {
  now: () => performance.timeOrigin + performance.now(),
  setTimer(ms, callback) {
    // Node may fire a timer up to ~1 ms early relative to performance.now(); rounding up keeps the
    // "never earlier" promise that the baud-rate pacing relies on.
    const handle = setTimeout(callback, Math.max(0, Math.ceil(ms)));
    return () => clearTimeout(handle);
  },
};

interface PendingTimer {
  readonly dueAt: number;
  readonly seq: number;
  readonly callback: () => void;
  cancelled: boolean;
}

/** A clock that only moves when told to: `advance(ms)` fires due timers in time order. */
export class ManualClock implements SimClock {
  private current: number;
  private seq = 0;
  private timers: PendingTimer[] = [];

  constructor(startMs = Date.UTC(2016, 4, 11, 7, 14, 28)) {
    this.current = startMs;
  }

  now(): number {
    return this.current;
  }

  setTimer(ms: number, callback: () => void): CancelTimer {
    const timer: PendingTimer = { dueAt: this.current + Math.max(0, ms), seq: this.seq++, callback, cancelled: false };
    this.timers.push(timer);
    return () => {
      timer.cancelled = true;
    };
  }

  /** Moves time forward by `ms`, firing every timer that falls due (including ones scheduled meanwhile). */
  advance(ms: number): void {
    const target = this.current + ms;
    for (;;) {
      const next = this.nextDue(target);
      if (!next) break;
      this.current = Math.max(this.current, next.dueAt);
      this.timers = this.timers.filter((timer) => timer !== next);
      next.callback();
    }
    this.current = target;
  }

  /** Number of timers still waiting (cancelled ones excluded). */
  get pendingTimers(): number {
    return this.timers.filter((timer) => !timer.cancelled).length;
  }

  private nextDue(limit: number): PendingTimer | undefined {
    this.timers = this.timers.filter((timer) => !timer.cancelled);
    let best: PendingTimer | undefined;
    for (const timer of this.timers) {
      if (timer.dueAt > limit) continue;
      if (!best || timer.dueAt < best.dueAt || (timer.dueAt === best.dueAt && timer.seq < best.seq)) best = timer;
    }
    return best;
  }
}

/**
 * A clock that runs `factor` times faster than `base` (factor 10: ten simulated seconds per real second).
 * Its time line starts at `base.now()` when created, so timestamps stay plausible.
 */
export function scaledClock(base: SimClock, factor: number): SimClock {
  if (!(factor > 0) || !Number.isFinite(factor)) throw new RangeError(`time scale must be a positive number, got ${factor}`);
  if (factor === 1) return base;
  const origin = base.now();
  return {
    now: () => origin + (base.now() - origin) * factor,
    setTimer: (ms, callback) => base.setTimer(ms / factor, callback),
  };
}
