// Which mode-01 PIDs to read when: each supported PID at its own interval, most overdue first.
//
// Pure: the runtime asks `due(now)`, reads those PIDs (the adapter batches up to 6 per CAN request)
// and reports back with `markSampled`. PIDs the car does not support are never polled.

/** Sensible defaults: what trips and events need often, slow-moving values rarely (ms). */
export const DEFAULT_PID_INTERVALS_MS: Readonly<Record<number, number>> = {
  0x0c: 1_000, // engine RPM — ignition detection
  0x0d: 1_000, // vehicle speed — trips and harsh events
  0x04: 5_000, // engine load
  0x11: 5_000, // throttle position
  0x10: 5_000, // MAF
  0x05: 15_000, // coolant temperature
  0x0f: 15_000, // intake air temperature
  0x42: 15_000, // control module voltage
  0x2f: 60_000, // fuel level
  0x01: 60_000, // monitor status (MIL, DTC count)
  0x31: 60_000, // distance since codes cleared
  0xa6: 60_000, // odometer
};

/** PIDs that describe support, not the car: never sampled as readings. */
const BITMAP_PIDS = new Set([0x00, 0x20, 0x40, 0x60, 0x80, 0xa0, 0xc0]);

export interface SamplingPlanOptions {
  /** Per-PID intervals; PIDs not listed use `defaultIntervalMs`, or are skipped when it is null. */
  intervalsMs?: Readonly<Record<number, number>>;
  defaultIntervalMs?: number | null;
  /** At most this many PIDs per `due()` call: bounds one polling round. */
  maxPerRound?: number;
}

export class SamplingPlan {
  private readonly intervals = new Map<number, number>();
  private readonly lastSampled = new Map<number, number>();
  private readonly maxPerRound: number;

  constructor(supported: readonly number[], options: SamplingPlanOptions = {}) {
    const intervals = options.intervalsMs ?? DEFAULT_PID_INTERVALS_MS;
    const fallback = options.defaultIntervalMs === undefined ? null : options.defaultIntervalMs;
    this.maxPerRound = options.maxPerRound ?? 12;
    for (const pid of supported) {
      if (BITMAP_PIDS.has(pid)) continue;
      const interval = intervals[pid] ?? fallback;
      if (interval !== null && interval !== undefined) {
        if (!(interval > 0)) throw new RangeError(`interval for PID ${pid.toString(16)} must be > 0`);
        this.intervals.set(pid, interval);
      }
    }
  }

  /** The PIDs being sampled, ascending. */
  get pids(): number[] {
    return [...this.intervals.keys()].sort((a, b) => a - b);
  }

  /** PIDs due at `now`, most overdue first (never-sampled PIDs first of all), at most maxPerRound. */
  due(now: number): number[] {
    const due: { pid: number; overdue: number }[] = [];
    for (const [pid, interval] of this.intervals) {
      const last = this.lastSampled.get(pid);
      const overdue = last === undefined ? Number.POSITIVE_INFINITY : now - last - interval;
      if (overdue >= 0) due.push({ pid, overdue });
    }
    due.sort((a, b) => b.overdue - a.overdue || a.pid - b.pid);
    return due.slice(0, this.maxPerRound).map((d) => d.pid);
  }

  markSampled(pids: readonly number[], at: number): void {
    for (const pid of pids) if (this.intervals.has(pid)) this.lastSampled.set(pid, at);
  }

  /** When the next PID falls due (for sleeping between rounds); `now` if one is due already. */
  nextDueAt(now: number): number {
    let next = Number.POSITIVE_INFINITY;
    for (const [pid, interval] of this.intervals) {
      const last = this.lastSampled.get(pid);
      if (last === undefined) return now;
      next = Math.min(next, last + interval);
    }
    return Math.max(now, next);
  }
}
