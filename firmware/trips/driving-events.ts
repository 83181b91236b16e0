// Harsh acceleration, harsh braking and speeding detected from a speed series (usage-based insurance events).
//
// Thresholds follow common telematics practice: ±0.35 g is "harsh" for most UBI programmes
// (≈ 3.4 m/s²); speeding is a sustained excess over a configured limit, not a single sample.

export type DrivingEventType = 'harsh-acceleration' | 'harsh-braking' | 'speeding';

export interface DrivingEvent {
  type: DrivingEventType;
  /** ms since the epoch when the event started. */
  t: number;
  /** m/s² for acceleration/braking (signed), peak km/h for speeding. */
  value: number;
  lat?: number;
  lng?: number;
  /** Speeding only: how long the limit was exceeded, ms. */
  durationMs?: number;
}

export interface DrivingEventThresholds {
  harshAccelerationMs2: number;
  harshBrakingMs2: number;
  speedLimitKmh: number;
  /** Speeding must last at least this long to count. */
  speedingMinMs: number;
  /** Samples further apart than this are not differentiated (a gap is not a deceleration). */
  maxSampleGapMs: number;
}

export const DEFAULT_EVENT_THRESHOLDS: DrivingEventThresholds = {
  harshAccelerationMs2: 3.4,
  harshBrakingMs2: 4.0,
  speedLimitKmh: 120,
  speedingMinMs: 5_000,
  maxSampleGapMs: 3_000,
};

export interface SpeedSample {
  t: number;
  speedKmh: number;
  lat?: number;
  lng?: number;
}

/**
 * Streaming detector: feed samples in time order, collect events. One harsh event per excursion
 * (the acceleration must fall back under the threshold before another is reported).
 */
export class DrivingEventDetector {
  private previous: SpeedSample | null = null;
  private inHarsh: 'harsh-acceleration' | 'harsh-braking' | null = null;
  private speeding: { start: SpeedSample; peak: number } | null = null;
  private readonly events: DrivingEvent[] = [];

  constructor(private readonly thresholds: DrivingEventThresholds = DEFAULT_EVENT_THRESHOLDS) {}

  push(sample: SpeedSample): void {
    const prev = this.previous;
    this.previous = sample;
    if (prev && sample.t > prev.t && sample.t - prev.t <= this.thresholds.maxSampleGapMs) {
      const accel = (sample.speedKmh - prev.speedKmh) / 3.6 / ((sample.t - prev.t) / 1000);
      const kind = accel >= this.thresholds.harshAccelerationMs2 ? 'harsh-acceleration' : accel <= -this.thresholds.harshBrakingMs2 ? 'harsh-braking' : null;
      if (kind && kind !== this.inHarsh) this.events.push(withPlace({ type: kind, t: prev.t, value: round2(accel) }, sample));
      this.inHarsh = kind;
    } else {
      this.inHarsh = null;
    }
    this.trackSpeeding(sample);
  }

  /** Closes an open speeding interval (end of trip) and returns everything detected so far. */
  finish(): DrivingEvent[] {
    if (this.speeding && this.previous) this.closeSpeeding(this.previous.t);
    return [...this.events];
  }

  private trackSpeeding(sample: SpeedSample): void {
    if (sample.speedKmh > this.thresholds.speedLimitKmh) {
      if (!this.speeding) this.speeding = { start: sample, peak: sample.speedKmh };
      else this.speeding.peak = Math.max(this.speeding.peak, sample.speedKmh);
    } else if (this.speeding) {
      this.closeSpeeding(sample.t);
    }
  }

  private closeSpeeding(end: number): void {
    const s = this.speeding!;
    this.speeding = null;
    const durationMs = end - s.start.t;
    if (durationMs >= this.thresholds.speedingMinMs) {
      this.events.push(withPlace({ type: 'speeding', t: s.start.t, value: s.peak, durationMs }, s.start));
    }
  }
}

function withPlace(event: DrivingEvent, at: SpeedSample): DrivingEvent {
  return at.lat !== undefined && at.lng !== undefined ? { ...event, lat: at.lat, lng: at.lng } : event;
}

function round2(v: number): number {
  return Math.round(v * 100) / 100;
}
