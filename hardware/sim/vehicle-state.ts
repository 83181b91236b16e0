// The simulated car: a speed/ignition profile over time turned into the values an ECU would report.
//
// Speed and ignition come straight from the scenario's profile (so harsh events are exact); everything
// else (rpm, throttle, load, MAF, temperatures, fuel, battery, odometer) follows from simple physics,
// integrated in ≤100 ms steps whenever someone asks for a later time. Time is whatever clock the caller
// uses: `advanceTo(now)` is monotonic, so an ELM327 simulator and an NMEA player that share one clock
// (and one VehicleState) always agree. Small sensor wobble is a deterministic function of time.

export type EngineMode = 'off' | 'ignition' | 'running';

/** At `atS` seconds into the scenario the car goes `speedKmh` (linear in between) with the engine in `engine`. */
export interface ProfileKeyframe {
  readonly atS: number;
  readonly speedKmh: number;
  readonly engine: EngineMode;
}

/** Keyframes sorted by time; after the last one the car holds that state forever, or with `loop` starts over. */
export interface DriveProfile {
  readonly keyframes: readonly ProfileKeyframe[];
  /** Drive the profile again and again (a demo car that keeps making trips). */
  readonly loop?: boolean;
}

export interface VehicleSnapshot {
  /** Milliseconds since the scenario started. */
  readonly elapsedMs: number;
  readonly ignitionOn: boolean;
  readonly engineRunning: boolean;
  readonly speedKmh: number;
  readonly accelerationMps2: number;
  readonly rpm: number;
  /** 0 = park/neutral. */
  readonly gear: number;
  readonly throttlePct: number;
  readonly relativeThrottlePct: number;
  readonly acceleratorPedalPct: number;
  readonly engineLoadPct: number;
  readonly mafGps: number;
  readonly mapKpa: number;
  readonly baroKpa: number;
  readonly timingAdvanceDeg: number;
  readonly coolantTempC: number;
  readonly intakeTempC: number;
  readonly ambientTempC: number;
  readonly oilTempC: number;
  readonly fuelLevelPct: number;
  readonly fuelRateLph: number;
  readonly shortTermFuelTrimPct: number;
  readonly longTermFuelTrimPct: number;
  readonly o2VoltageV: number;
  /** Open loop until warm, or under full load / fuel cut. */
  readonly closedLoop: boolean;
  /** Voltage at the OBD port (what ATRV measures); the ECU's own supply reads the same. */
  readonly batteryVoltage: number;
  readonly odometerKm: number;
  /** Seconds since the engine started (0 while it is off). */
  readonly runTimeS: number;
  readonly distanceSinceClearedKm: number;
  readonly warmupsSinceCleared: number;
  readonly distanceWithMilKm: number;
  readonly milOn: boolean;
  readonly storedDtcCount: number;
}

export interface FreezeFrame {
  /** The DTC that caused the freeze frame, e.g. `P0301`. */
  readonly dtc: string;
  readonly snapshot: VehicleSnapshot;
}

/** What the engine ECU remembers about faults; mode 04 clears all but the permanent codes. */
export interface DtcMemory {
  stored: string[];
  pending: string[];
  permanent: string[];
  freezeFrame: FreezeFrame | null;
}

export interface VehicleStateOptions {
  profile: DriveProfile;
  /** Clock time (ms) at which the scenario starts. */
  startMs: number;
  vin?: string;
  odometerKm?: number;
  fuelLevelPct?: number;
  ambientTempC?: number;
  /** Engine temperature at the start (default: ambient, i.e. a cold start). */
  coolantTempC?: number;
  /** Battery voltage with the engine off and rested (default 12.6 V). */
  restingBatteryV?: number;
  dtcs?: Partial<Omit<DtcMemory, 'freezeFrame'>>;
  /** Freeze frame to report for the first stored DTC (default: the state when the scenario starts). */
  freezeFrame?: Partial<VehicleSnapshot>;
}

export const DEFAULT_VIN = 'LBVNU79049SB81546';

const MAX_STEP_S = 0.1;
const TANK_LITRES = 55;
const IDLE_RPM = 750;
const MASS_KG = 1500;
const GEAR_UP_KMH = [0, 18, 32, 50, 68, 90];
const RPM_PER_KMH = [0, 105, 62, 44, 34, 28, 23.5];

/** Speed (km/h) and acceleration (m/s²) of a profile at `tS` seconds. */
export function profileMotionAt(profile: DriveProfile, tS: number): { speedKmh: number; accelerationMps2: number; engine: EngineMode } {
  const frames = profile.keyframes;
  const first = frames[0];
  if (!first) return { speedKmh: 0, accelerationMps2: 0, engine: 'off' };
  const durationS = profileDurationS(profile);
  if (profile.loop && durationS > 0 && tS > durationS) tS %= durationS;
  if (tS <= first.atS) return { speedKmh: first.speedKmh, accelerationMps2: 0, engine: first.engine };
  for (let i = 0; i + 1 < frames.length; i++) {
    const a = frames[i]!;
    const b = frames[i + 1]!;
    if (tS >= a.atS && tS < b.atS) {
      const span = b.atS - a.atS;
      const slopeKmhPerS = (b.speedKmh - a.speedKmh) / span;
      return { speedKmh: a.speedKmh + slopeKmhPerS * (tS - a.atS), accelerationMps2: slopeKmhPerS / 3.6, engine: a.engine };
    }
  }
  const last = frames[frames.length - 1]!;
  return { speedKmh: last.speedKmh, accelerationMps2: 0, engine: last.engine };
}

/** Total profile duration in seconds (time of the last keyframe). */
export function profileDurationS(profile: DriveProfile): number {
  return profile.keyframes[profile.keyframes.length - 1]?.atS ?? 0;
}

export class VehicleState {
  readonly vin: string;
  readonly dtcs: DtcMemory;
  private readonly profile: DriveProfile;
  private readonly startMs: number;
  private readonly restingBatteryV: number;
  private elapsedS = 0;
  private snapshotValue: VehicleSnapshot;
  // integrated quantities
  private odometerKm: number;
  private fuelLevelPct: number;
  private coolantTempC: number;
  private oilTempC: number;
  private intakeTempC: number;
  private readonly ambientTempC: number;
  private runTimeS = 0;
  private wasRunning = false;
  private distanceSinceClearedKm = 0;
  private warmupsSinceCleared = 0;
  private distanceWithMilKm = 0;
  private surfaceChargeV = 0;

  constructor(options: VehicleStateOptions) {
    this.profile = options.profile;
    this.startMs = options.startMs;
    this.vin = options.vin ?? DEFAULT_VIN;
    this.odometerKm = options.odometerKm ?? 48213.4;
    this.fuelLevelPct = options.fuelLevelPct ?? 62;
    this.ambientTempC = options.ambientTempC ?? 22;
    this.coolantTempC = options.coolantTempC ?? this.ambientTempC;
    this.oilTempC = this.coolantTempC;
    this.intakeTempC = this.ambientTempC;
    this.restingBatteryV = options.restingBatteryV ?? 12.6;
    this.distanceSinceClearedKm = 1243;
    this.warmupsSinceCleared = 87;
    this.dtcs = {
      stored: [...(options.dtcs?.stored ?? [])],
      pending: [...(options.dtcs?.pending ?? [])],
      permanent: [...(options.dtcs?.permanent ?? [])],
      freezeFrame: null,
    };
    this.snapshotValue = this.compute(0, 0);
    const firstStored = this.dtcs.stored[0];
    if (firstStored) this.dtcs.freezeFrame = { dtc: firstStored, snapshot: { ...this.snapshotValue, ...options.freezeFrame } };
    if (this.dtcs.stored.length > 0) this.distanceWithMilKm = 38;
  }

  /** The state as of the last `advanceTo`. */
  get current(): VehicleSnapshot {
    return this.snapshotValue;
  }

  /** Brings the state up to clock time `nowMs` (earlier times are ignored) and returns it. */
  advanceTo(nowMs: number): VehicleSnapshot {
    const targetS = (nowMs - this.startMs) / 1000;
    if (!(targetS > this.elapsedS)) return this.snapshotValue;
    // Day-long jumps (a parked car) need no 100 ms resolution.
    const step = targetS - this.elapsedS > 3600 ? 1 : MAX_STEP_S;
    while (this.elapsedS < targetS) {
      const dt = Math.min(step, targetS - this.elapsedS);
      this.elapsedS += dt;
      this.snapshotValue = this.compute(this.elapsedS, dt);
    }
    return this.snapshotValue;
  }

  /**
   * Speed and engine mode at clock time `nowMs`, straight from the profile: pure, does not advance the
   * state, so a GPS player can integrate position at its own steps and still agree with the ECU.
   */
  motionAt(nowMs: number): { speedKmh: number; accelerationMps2: number; engine: EngineMode } {
    const motion = profileMotionAt(this.profile, (nowMs - this.startMs) / 1000);
    return motion.engine === 'running' ? motion : { speedKmh: 0, accelerationMps2: 0, engine: motion.engine };
  }

  /** Stores a confirmed DTC (the first one also captures a freeze frame), as the ECU would. */
  storeDtc(code: string): void {
    if (!this.dtcs.stored.includes(code)) this.dtcs.stored.push(code);
    this.dtcs.pending = this.dtcs.pending.filter((c) => c !== code);
    this.dtcs.freezeFrame ??= { dtc: code, snapshot: this.snapshotValue };
  }

  /** What mode 04 does: stored, pending and freeze frame go, permanent codes stay; counters restart. */
  clearDtcs(): void {
    this.dtcs.stored = [];
    this.dtcs.pending = [];
    this.dtcs.freezeFrame = null;
    this.distanceSinceClearedKm = 0;
    this.warmupsSinceCleared = 0;
    this.distanceWithMilKm = 0;
    this.snapshotValue = { ...this.snapshotValue, milOn: false, storedDtcCount: 0, distanceSinceClearedKm: 0, warmupsSinceCleared: 0, distanceWithMilKm: 0 };
  }

  private compute(tS: number, dt: number): VehicleSnapshot {
    const motion = profileMotionAt(this.profile, tS);
    const running = motion.engine === 'running';
    const ignitionOn = motion.engine !== 'off';
    const speedKmh = running ? Math.max(0, motion.speedKmh) : 0;
    const accel = running ? motion.accelerationMps2 : 0;
    const v = speedKmh / 3.6;
    const wobble = (freq: number, phase = 0): number => Math.sin(tS * freq + phase);

    if (running && !this.wasRunning) this.runTimeS = 0;
    if (!running && this.wasRunning) this.surfaceChargeV = 0.4;
    this.wasRunning = running;
    if (running) this.runTimeS += dt;
    else this.runTimeS = 0;

    // Road load: rolling resistance + drag + inertia, in kW; negative means coasting/braking.
    const powerKw = (0.012 * MASS_KG * 9.81 * v + 0.5 * 1.225 * 0.7 * v ** 3 + MASS_KG * accel * v) / 1000;
    // Pedal demand: enough for the road load, and a hard launch floors it even at walking pace.
    const demand = Math.min(1, Math.max(0, powerKw / 60, accel / 5));
    const gear = running && speedKmh >= 1 ? GEAR_UP_KMH.filter((kmh) => speedKmh >= kmh).length : 0;
    const coldIdleBonus = Math.max(0, 60 - this.coolantTempC) * 5;
    let rpm = 0;
    if (running) {
      rpm = gear === 0 ? IDLE_RPM + coldIdleBonus : Math.max(900, speedKmh * RPM_PER_KMH[gear]! * (1 + 0.06 * Math.max(0, accel)));
      if (this.runTimeS < 1.5) rpm = Math.max(rpm, 1200 * (this.runTimeS / 1.5) + 200);
      rpm += 12 * wobble(7.3) + 6 * wobble(19.1, 1);
    }
    const fuelCut = running && accel < -0.8 && speedKmh > 20;
    const throttlePct = running ? (fuelCut ? 14.5 : 14.5 + demand * 70 + 0.4 * wobble(3.1)) : 14.5;
    const engineLoadPct = running ? Math.min(100, (fuelCut ? 8 : 21 + demand * 75) + 0.8 * wobble(2.3)) : 0;
    const baroKpa = 101;
    const mafGps = running ? (rpm / 120) * 2.0 * 1.18 * (engineLoadPct / 100) : 0;
    const mapKpa = running ? baroKpa * (0.18 + 0.75 * (engineLoadPct / 100)) : baroKpa;
    const closedLoop = running && this.coolantTempC > 40 && this.runTimeS > 20 && !fuelCut && demand < 0.9;
    const fuelRateLph = running && !fuelCut ? (mafGps / 14.7 / 745) * 3600 : 0;

    // Temperatures: first-order lags toward where the engine wants to be.
    const coolantTarget = running ? 90 + 2 * demand : this.ambientTempC;
    const coolantTau = running ? (this.coolantTempC < 85 ? 200 : 60) : 3600;
    const coolantBefore = this.coolantTempC;
    this.coolantTempC += ((coolantTarget - this.coolantTempC) * dt) / coolantTau;
    if (coolantBefore < 70 && this.coolantTempC >= 70) this.warmupsSinceCleared = Math.min(255, this.warmupsSinceCleared + 1);
    this.oilTempC += (((running ? this.coolantTempC + 6 : this.ambientTempC) - this.oilTempC) * dt) / (running ? 500 : 3600);
    const intakeTarget = this.ambientTempC + (running ? 3 + 12 * Math.exp(-speedKmh / 25) : 0);
    this.intakeTempC += ((intakeTarget - this.intakeTempC) * dt) / 60;

    const km = (v * dt) / 1000;
    this.odometerKm += km;
    this.distanceSinceClearedKm += km;
    const milOn = this.dtcs.stored.length > 0;
    if (milOn) this.distanceWithMilKm += km;
    this.fuelLevelPct = Math.max(0, this.fuelLevelPct - (fuelRateLph * dt) / 3600 / TANK_LITRES * 100);

    this.surfaceChargeV = Math.max(0, this.surfaceChargeV - (dt * 0.4) / 600);
    let batteryVoltage: number;
    if (running) batteryVoltage = this.runTimeS < 0.8 ? 10.6 : 14.2 + 0.05 * wobble(0.9);
    else if (ignitionOn) batteryVoltage = this.restingBatteryV - 0.25 + this.surfaceChargeV;
    else batteryVoltage = this.restingBatteryV + this.surfaceChargeV;

    const relativeThrottlePct = running ? Math.max(0, (throttlePct - 14.5) * 1.17) : 0;
    return {
      elapsedMs: tS * 1000,
      ignitionOn,
      engineRunning: running,
      speedKmh,
      accelerationMps2: accel,
      rpm,
      gear,
      throttlePct,
      relativeThrottlePct,
      acceleratorPedalPct: running ? Math.min(100, 15 + demand * 80) : 15,
      engineLoadPct,
      mafGps,
      mapKpa,
      baroKpa,
      timingAdvanceDeg: running ? 10 + 22 * (1 - engineLoadPct / 100) + Math.min(8, rpm / 500) : 0,
      coolantTempC: this.coolantTempC,
      intakeTempC: this.intakeTempC,
      ambientTempC: this.ambientTempC,
      oilTempC: this.oilTempC,
      fuelLevelPct: this.fuelLevelPct,
      fuelRateLph,
      shortTermFuelTrimPct: closedLoop ? 2.5 * wobble(1.7) : 0,
      longTermFuelTrimPct: 3.1,
      o2VoltageV: closedLoop ? 0.45 + 0.38 * wobble(7.5) : running ? 0.1 : 0,
      closedLoop,
      batteryVoltage,
      odometerKm: this.odometerKm,
      runTimeS: this.runTimeS,
      distanceSinceClearedKm: this.distanceSinceClearedKm,
      warmupsSinceCleared: this.warmupsSinceCleared,
      distanceWithMilKm: this.distanceWithMilKm,
      milOn,
      storedDtcCount: this.dtcs.stored.length,
    };
  }
}
