// Plays a GPS receiver driving along a route: RMC + GGA (+ VTG) sentences at 1 Hz onto a ByteLink.
//
// Speed comes from one of three sources: per-waypoint speeds (constant acceleration between points,
// like the seed's trip-gps example), a speed series (one value per step), or a VehicleState — share
// the state *and the clock* with an Elm327Simulator and GPS speed equals OBD speed at every instant.
// `timeScale` speeds the player up (10 → ten fixes per real second, each one simulated second apart).
//
// Cancellation rules: `stop()` cancels the timer and resolves once written sentences are drained; it
// does not close the link. The player stops by itself when the link closes or a write fails.
import type { ByteLink } from '../serial/byte-link.js';
import { formatGga, formatRmc, formatVtg, type GpsFix, type Talker } from './nmea-sentences.js';
import { PacedOutput } from './output-pacer.js';
import { RoutePath, SHANGHAI_TRIP_ROUTE, SHANGHAI_TRIP_SPEEDS_KMH, type LatLng } from './routes.js';
import { scaledClock, systemClock, type CancelTimer, type SimClock } from './sim-clock.js';
import { SimulatorError } from './sim-errors.js';
import type { VehicleState } from './vehicle-state.js';

export type SpeedSource =
  /** Speed at each route point (km/h), constant acceleration in between. */
  | { readonly kind: 'per-waypoint'; readonly kmh: readonly number[] }
  /** One speed per `stepS` seconds (default 1), the last one held. */
  | { readonly kind: 'series'; readonly kmh: readonly number[]; readonly stepS?: number }
  /** The simulated car's speed (share the clock with the ELM327 simulator). */
  | { readonly kind: 'vehicle'; readonly state: VehicleState };

export type NmeaSentenceKind = 'RMC' | 'GGA' | 'VTG';

export interface NmeaRoutePlayerOptions {
  link: ByteLink;
  /** Default: the seed's Shanghai trip. */
  route?: readonly LatLng[];
  /** Default: the Shanghai trip's per-waypoint speeds for the default route, else 40 km/h. */
  speed?: SpeedSource;
  clock?: SimClock;
  /** Simulated seconds per real second (default 1); must be 1 with a vehicle source (scale its clock instead). */
  timeScale?: number;
  /** UTC time of the first fix (default: the clock's now). */
  startTime?: Date;
  /** Default RMC and GGA. */
  sentences?: readonly NmeaSentenceKind[];
  talker?: Talker;
  /** Start over at the end of the route (default: stay at the end, speed 0). */
  loop?: boolean;
  /** Pace output like a receiver's UART (default 0: unpaced). */
  baudRate?: number;
  /** The first N fixes are void (receiver still acquiring). */
  acquireFixes?: number;
  altitudeM?: number;
}

export interface NmeaRoutePlayerStats {
  fixes: number;
  sentences: number;
  distanceM: number;
  finished: boolean;
}

const SUB_STEP_S = 0.1;
const MIN_SEGMENT_SPEED_MPS = 0.5;

export class NmeaRoutePlayer {
  private readonly route: RoutePath;
  private readonly speed: SpeedSource;
  private readonly clock: SimClock;
  private readonly out: PacedOutput;
  private readonly sentences: readonly NmeaSentenceKind[];
  private readonly startClockMs: number;
  private readonly startTimeMs: number;
  private lastTickMs: number;
  private distance = 0;
  private segmentTimeS = 0;
  private currentSpeedKmh = 0;
  private timer: CancelTimer | undefined;
  private running = false;
  private readonly counters: NmeaRoutePlayerStats = { fixes: 0, sentences: 0, distanceM: 0, finished: false };
  private readonly offClose: () => void;

  constructor(private readonly options: NmeaRoutePlayerOptions) {
    const route = options.route ?? SHANGHAI_TRIP_ROUTE;
    this.route = new RoutePath(route);
    this.speed = options.speed ?? (options.route ? { kind: 'series', kmh: [40] } : { kind: 'per-waypoint', kmh: SHANGHAI_TRIP_SPEEDS_KMH });
    if (this.speed.kind === 'per-waypoint' && this.speed.kmh.length !== route.length) {
      throw new SimulatorError('SIM_INVALID_OPTION', `per-waypoint speeds need one value per route point (${route.length}), got ${this.speed.kmh.length}`);
    }
    const timeScale = options.timeScale ?? 1;
    if (this.speed.kind === 'vehicle' && timeScale !== 1) {
      throw new SimulatorError('SIM_INVALID_OPTION', 'with a vehicle speed source, scale the shared clock (scaledClock) instead of timeScale');
    }
    this.clock = scaledClock(options.clock ?? systemClock, timeScale);
    this.startClockMs = this.clock.now();
    this.lastTickMs = this.startClockMs;
    // Receivers stamp fixes on whole seconds.
    this.startTimeMs = options.startTime?.getTime() ?? Math.floor(this.startClockMs / 1000) * 1000;
    this.sentences = options.sentences ?? ['RMC', 'GGA'];
    this.out = new PacedOutput(options.link, this.clock, options.baudRate ?? 0, () => this.stopNow());
    this.offClose = options.link.onClose(() => this.stopNow());
  }

  /** Emits the first fix now and one per simulated second after that. */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.tick();
  }

  async stop(): Promise<void> {
    this.stopNow();
    await this.out.drained();
  }

  stats(): NmeaRoutePlayerStats {
    return { ...this.counters, distanceM: this.distance };
  }

  /** Where the simulated receiver is now (as of the last fix). */
  get position(): LatLng {
    return this.route.at(this.distance).position;
  }

  private stopNow(): void {
    this.running = false;
    this.timer?.();
    this.timer = undefined;
    this.offClose();
  }

  private tick(): void {
    if (!this.running) return;
    const now = this.clock.now();
    this.advance((now - this.lastTickMs) / 1000, this.lastTickMs);
    this.lastTickMs = now;
    this.emit(now);
    // Schedule against the start so fixes stay on whole simulated seconds.
    const next = this.startClockMs + this.counters.fixes * 1000;
    this.timer = this.clock.setTimer(Math.max(0, next - this.clock.now()), () => this.tick());
  }

  private emit(now: number): void {
    const at = this.route.at(this.distance);
    const fix: GpsFix = {
      time: new Date(this.startTimeMs + Math.round(now - this.startClockMs)),
      valid: this.counters.fixes >= (this.options.acquireFixes ?? 0),
      position: at.position,
      speedKmh: this.currentSpeedKmh,
      courseDeg: at.courseDeg,
      altitudeM: this.options.altitudeM ?? 4.5,
      satellites: 9,
      hdop: 0.9,
      geoidSeparationM: 9.6,
    };
    const talker = this.options.talker ?? 'GP';
    const text = this.sentences.map((kind) => (kind === 'RMC' ? formatRmc(fix, talker) : kind === 'GGA' ? formatGga(fix, talker) : formatVtg(fix, talker))).join('');
    this.counters.fixes++;
    this.counters.sentences += this.sentences.length;
    this.out.send(text);
  }

  /** Moves along the route for `seconds` of simulated time that began at clock time `fromMs`. */
  private advance(seconds: number, fromMs: number): void {
    if (seconds <= 0) {
      this.currentSpeedKmh = this.speedAt(fromMs);
      return;
    }
    if (this.speed.kind === 'per-waypoint') {
      this.advanceByWaypoints(seconds);
      return;
    }
    for (let t = 0; t < seconds - 1e-9; t += SUB_STEP_S) {
      const dt = Math.min(SUB_STEP_S, seconds - t);
      // Midpoint speed integrates linear ramps exactly.
      this.moveBy((this.speedAt(fromMs + (t + dt / 2) * 1000) / 3.6) * dt);
    }
    this.currentSpeedKmh = this.atEnd() ? 0 : this.speedAt(fromMs + seconds * 1000);
  }

  private speedAt(clockMs: number): number {
    if (this.speed.kind === 'vehicle') return this.speed.state.motionAt(clockMs).speedKmh;
    if (this.speed.kind === 'series') {
      const index = Math.floor((clockMs - this.startClockMs) / 1000 / (this.speed.stepS ?? 1) + 1e-9);
      return this.speed.kmh[Math.min(index, this.speed.kmh.length - 1)] ?? 0;
    }
    return this.currentSpeedKmh;
  }

  /** Constant acceleration on each segment from the speed at its start point to the one at its end. */
  private advanceByWaypoints(seconds: number): void {
    if (this.speed.kind !== 'per-waypoint') return;
    let remaining = seconds;
    while (remaining > 0 && !this.atEnd()) {
      const segment = this.route.at(this.distance).segment;
      const length = this.route.segmentLengthM(segment);
      let v0 = this.speed.kmh[segment]! / 3.6;
      let v1 = this.speed.kmh[segment + 1]! / 3.6;
      if (v0 + v1 < MIN_SEGMENT_SPEED_MPS) v0 = v1 = MIN_SEGMENT_SPEED_MPS / 2;
      const duration = (2 * length) / (v0 + v1);
      const accel = length > 0 ? (v1 * v1 - v0 * v0) / (2 * length) : 0;
      const step = Math.min(remaining, duration - this.segmentTimeS);
      this.segmentTimeS += step;
      remaining -= step;
      const t = this.segmentTimeS;
      this.currentSpeedKmh = (v0 + accel * t) * 3.6;
      if (this.segmentTimeS >= duration - 1e-9) {
        this.segmentTimeS = 0;
        this.distance = this.route.cumulativeM[segment + 1]!;
        if (this.atEnd() && this.options.loop) this.distance = 0;
      } else {
        this.distance = this.route.cumulativeM[segment]! + Math.min(length, v0 * t + 0.5 * accel * t * t);
      }
    }
    if (this.atEnd()) {
      this.currentSpeedKmh = 0;
      this.counters.finished = true;
    }
  }

  private moveBy(metres: number): void {
    this.distance += metres;
    if (this.distance >= this.route.lengthM) {
      if (this.options.loop) this.distance %= this.route.lengthM;
      else {
        this.distance = this.route.lengthM;
        this.counters.finished = true;
      }
    }
  }

  private atEnd(): boolean {
    return !this.options.loop && this.distance >= this.route.lengthM - 1e-6;
  }
}

/** Creates and starts a player. */
export function startNmeaRoutePlayer(options: NmeaRoutePlayerOptions): NmeaRoutePlayer {
  const player = new NmeaRoutePlayer(options);
  player.start();
  return player;
}
