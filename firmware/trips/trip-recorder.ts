// Accumulates one trip (ignition on → off): GPS track, speed series, statistics and driving events.
import { DrivingEventDetector, type DrivingEvent, type DrivingEventThresholds } from './driving-events.js';

export interface TrackPoint {
  lat: number;
  lng: number;
  /** ms since the epoch */
  t: number;
}

export interface TripSummary {
  sessionId: number;
  start: number;
  end: number;
  gps: TrackPoint[];
  /** km/h at each track point (OBD speed when known, GPS speed otherwise). */
  speed: number[];
  distanceM: number;
  durationS: number;
  maxSpeedKmh: number;
  avgSpeedKmh: number;
  events: DrivingEvent[];
}

export interface TripRecorderOptions {
  /** A new track point is kept when the car moved this far … */
  minPointDistanceM: number;
  /** … or this much time passed. */
  maxPointIntervalMs: number;
  /** Bound on the track: past it, every other point is dropped (keeps the record < the value limit). */
  maxPoints: number;
  events?: DrivingEventThresholds;
}

export const DEFAULT_TRIP_RECORDER_OPTIONS: TripRecorderOptions = { minPointDistanceM: 25, maxPointIntervalMs: 30_000, maxPoints: 2_000 };

const EARTH_RADIUS_M = 6_371_008.8;

export function haversineM(a: { lat: number; lng: number }, b: { lat: number; lng: number }): number {
  const rad = Math.PI / 180;
  const dLat = (b.lat - a.lat) * rad;
  const dLng = (b.lng - a.lng) * rad;
  const h = Math.sin(dLat / 2) ** 2 + Math.cos(a.lat * rad) * Math.cos(b.lat * rad) * Math.sin(dLng / 2) ** 2;
  return 2 * EARTH_RADIUS_M * Math.asin(Math.min(1, Math.sqrt(h)));
}

export class TripRecorder {
  private readonly gps: TrackPoint[] = [];
  private readonly speed: number[] = [];
  private readonly detector: DrivingEventDetector;
  private lastFix: TrackPoint | null = null;
  private lastObdSpeed: { t: number; kmh: number } | null = null;
  private distanceFromGpsM = 0;
  private distanceFromSpeedM = 0;
  private lastSpeedSample: { t: number; kmh: number } | null = null;
  private maxSpeed = 0;

  constructor(
    readonly sessionId: number,
    readonly start: number,
    private readonly options: TripRecorderOptions = DEFAULT_TRIP_RECORDER_OPTIONS,
  ) {
    this.detector = new DrivingEventDetector(options.events);
  }

  /** OBD vehicle speed (PID 0x0D): drives the events and the fallback distance. */
  addSpeed(t: number, kmh: number): void {
    if (!Number.isFinite(kmh) || kmh < 0) return;
    if (this.lastSpeedSample && t > this.lastSpeedSample.t) {
      // Trapezoid rule; gaps over a minute are not integrated (adapter silent, not driving).
      const dt = (t - this.lastSpeedSample.t) / 1000;
      if (dt <= 60) this.distanceFromSpeedM += ((this.lastSpeedSample.kmh + kmh) / 2 / 3.6) * dt;
    }
    this.lastSpeedSample = { t, kmh };
    this.lastObdSpeed = { t, kmh };
    this.maxSpeed = Math.max(this.maxSpeed, kmh);
    this.detector.push({ t, speedKmh: kmh, ...(this.lastFix ? { lat: this.lastFix.lat, lng: this.lastFix.lng } : {}) });
  }

  /** A GPS fix; `gpsSpeedKmh` is used when no recent OBD speed is known. */
  addFix(t: number, lat: number, lng: number, gpsSpeedKmh: number | null = null): void {
    if (!Number.isFinite(lat) || !Number.isFinite(lng)) return;
    const point = { lat, lng, t };
    const previous = this.gps[this.gps.length - 1];
    if (this.lastFix) this.distanceFromGpsM += haversineM(this.lastFix, point);
    this.lastFix = point;
    const kmh = this.lastObdSpeed && t - this.lastObdSpeed.t <= 5_000 ? this.lastObdSpeed.kmh : (gpsSpeedKmh ?? 0);
    if (!this.lastObdSpeed) this.maxSpeed = Math.max(this.maxSpeed, kmh);
    if (previous && haversineM(previous, point) < this.options.minPointDistanceM && t - previous.t < this.options.maxPointIntervalMs) return;
    this.gps.push(point);
    this.speed.push(Math.round(kmh * 10) / 10);
    if (this.gps.length > this.options.maxPoints) this.decimate();
  }

  finish(end: number): TripSummary {
    const durationS = Math.max(0, Math.round((end - this.start) / 1000));
    const distanceM = Math.round(this.gps.length >= 2 ? this.distanceFromGpsM : this.distanceFromSpeedM);
    return {
      sessionId: this.sessionId,
      start: this.start,
      end,
      gps: [...this.gps],
      speed: [...this.speed],
      distanceM,
      durationS,
      maxSpeedKmh: Math.round(this.maxSpeed * 10) / 10,
      avgSpeedKmh: durationS > 0 ? Math.round((distanceM / durationS) * 3.6 * 10) / 10 : 0,
      events: this.detector.finish(),
    };
  }

  private decimate(): void {
    // Keep the first and last point; drop every other one in between.
    for (let i = this.gps.length - 2; i > 0; i -= 2) {
      this.gps.splice(i, 1);
      this.speed.splice(i, 1);
    }
  }
}
