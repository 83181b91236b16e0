// Named driving scenarios for the simulators: a speed/ignition profile, ECU memory and line faults.
//
// Profiles are written as a short script (idle, ramp, hold, engine off…) and come with landmarks
// (engine start/stop, harsh acceleration/braking, speeding) so trip and event detectors can be tested
// against known ground truth. Normal accelerations stay below 1.5 m/s²; the harsh ones are above
// 4.5 m/s² (≈0.46 g), so any sensible threshold (0.3–0.4 g) separates them even with 1 Hz sampling.
import { SimulatorError } from './sim-errors.js';
import type { DriveProfile, EngineMode, ProfileKeyframe, VehicleStateOptions } from './vehicle-state.js';

export const SCENARIO_NAMES = ['driving', 'idle', 'engine-off', 'dtcs-present', 'noisy-line', 'unplugged-mid-session', 'ignition-cycle'] as const;
export type ScenarioName = (typeof SCENARIO_NAMES)[number];

export type LandmarkKind =
  | 'ignition-on'
  | 'ignition-off'
  | 'engine-start'
  | 'engine-stop'
  | 'harsh-acceleration'
  | 'harsh-braking'
  | 'speeding-start'
  | 'speeding-end';

export interface Landmark {
  readonly kind: LandmarkKind;
  /** Seconds into the scenario. */
  readonly atS: number;
  readonly detail?: string;
}

/** Faults on the serial line between adapter and host. Probabilities are per response. */
export interface LineNoise {
  /** A burst of 1–8 garbage bytes before the response. */
  readonly garbageProbability: number;
  /** One data line of the response is corrupted (a character replaced) or truncated. */
  readonly corruptLineProbability: number;
  /** A burst of garbage arrives shortly after the `>` prompt, before the next command. */
  readonly idleGarbageProbability: number;
}

export interface Scenario {
  readonly name: string;
  readonly description: string;
  readonly profile: DriveProfile;
  readonly landmarks: readonly Landmark[];
  /** Vehicle set-up beyond the profile (odometer, DTCs, battery…). */
  readonly vehicle: Omit<VehicleStateOptions, 'profile' | 'startMs'>;
  readonly lineNoise?: LineNoise;
  /** The adapter is pulled (the link closes with an error) this long after the simulator starts. */
  readonly unplugAfterMs?: number;
}

export interface ScenarioOverrides {
  unplugAfterMs?: number;
  /** Start the drive over when it ends (see DriveProfile.loop). */
  loop?: boolean;
  lineNoise?: Partial<LineNoise>;
}

export const HARSH_ACCELERATION_MPS2 = 3.5;
export const SPEEDING_KMH = 120;

/** Writes a profile as a sequence of driving moves and records landmarks as it goes. */
export class ProfileBuilder {
  private t = 0;
  private speed = 0;
  private engine: EngineMode;
  private readonly frames: ProfileKeyframe[] = [];
  private readonly marks: Landmark[] = [];

  constructor(engine: EngineMode = 'off') {
    this.engine = engine;
    this.frames.push({ atS: 0, speedKmh: 0, engine });
    if (engine !== 'off') this.marks.push({ kind: 'ignition-on', atS: 0 });
    if (engine === 'running') this.marks.push({ kind: 'engine-start', atS: 0 });
  }

  /** Keeps speed and engine as they are for `seconds`. */
  hold(seconds: number): this {
    this.t += seconds;
    this.frames.push({ atS: this.t, speedKmh: this.speed, engine: this.engine });
    return this;
  }

  /** Changes speed linearly to `kmh` over `seconds`. */
  ramp(kmh: number, seconds: number): this {
    if (this.engine !== 'running') throw new SimulatorError('SIM_INVALID_OPTION', 'cannot drive with the engine off');
    const accel = (kmh - this.speed) / 3.6 / seconds;
    if (accel >= HARSH_ACCELERATION_MPS2) this.marks.push({ kind: 'harsh-acceleration', atS: this.t, detail: `${accel.toFixed(1)} m/s²` });
    if (accel <= -HARSH_ACCELERATION_MPS2) this.marks.push({ kind: 'harsh-braking', atS: this.t, detail: `${accel.toFixed(1)} m/s²` });
    if (this.speed <= SPEEDING_KMH && kmh > SPEEDING_KMH) {
      this.marks.push({ kind: 'speeding-start', atS: this.t + (seconds * (SPEEDING_KMH - this.speed)) / (kmh - this.speed), detail: `up to ${kmh} km/h` });
    }
    if (this.speed > SPEEDING_KMH && kmh <= SPEEDING_KMH) {
      this.marks.push({ kind: 'speeding-end', atS: this.t + (seconds * (this.speed - SPEEDING_KMH)) / (this.speed - kmh) });
    }
    this.t += seconds;
    this.speed = kmh;
    this.frames.push({ atS: this.t, speedKmh: kmh, engine: this.engine });
    return this;
  }

  /** Switches ignition / engine instantly (the car must be standing). */
  set(engine: EngineMode): this {
    if (engine === this.engine) return this;
    if (this.speed !== 0) throw new SimulatorError('SIM_INVALID_OPTION', 'stop the car before switching the engine');
    const before = this.engine;
    if (before === 'running') this.marks.push({ kind: 'engine-stop', atS: this.t });
    if (engine === 'off') this.marks.push({ kind: 'ignition-off', atS: this.t });
    if (before === 'off') this.marks.push({ kind: 'ignition-on', atS: this.t });
    if (engine === 'running') this.marks.push({ kind: 'engine-start', atS: this.t });
    this.engine = engine;
    this.frames.push({ atS: this.t, speedKmh: 0, engine });
    return this;
  }

  build(): { profile: DriveProfile; landmarks: Landmark[] } {
    return { profile: { keyframes: [...this.frames] }, landmarks: [...this.marks] };
  }
}

/** About 11 minutes through Shanghai: lights, one harsh start, one harsh stop, the elevated ring at 128 km/h. */
function urbanDrive(): { profile: DriveProfile; landmarks: Landmark[] } {
  return new ProfileBuilder('ignition')
    .hold(2).set('running').hold(25) // crank, warm-up idle
    .ramp(30, 9).ramp(50, 10).hold(45) // pull away
    .ramp(0, 12).hold(35) // red light
    .ramp(50, 3).hold(40) // harsh acceleration from the light (4.6 m/s²)
    .ramp(35, 6).hold(30).ramp(60, 12).hold(50)
    .ramp(5, 2.5).hold(3).ramp(0, 2).hold(20) // harsh braking: a cut-in (6.1 m/s²)
    .ramp(40, 10).ramp(80, 18).ramp(100, 14).hold(70) // onto the Middle Ring
    .ramp(128, 20).hold(35).ramp(100, 15).hold(60) // speeding, once
    .ramp(50, 22).hold(40).ramp(0, 12).hold(30) // off the ramp, a light
    .ramp(40, 10).hold(60).ramp(20, 6).hold(20).ramp(0, 6) // into the car park
    .hold(20) // parked, engine idling (held forever)
    .build();
}

function ignitionCycle(): { profile: DriveProfile; landmarks: Landmark[] } {
  return new ProfileBuilder('ignition')
    .hold(2).set('running').hold(15)
    .ramp(40, 10).hold(60).ramp(0, 10).hold(20).ramp(50, 12).hold(60).ramp(0, 12)
    .hold(10).set('off').hold(180) // parked, key out
    .set('ignition').hold(3).set('running').hold(10)
    .ramp(45, 12).hold(90).ramp(0, 10).hold(15).ramp(30, 8).hold(40).ramp(0, 8)
    .hold(10).set('off').hold(60) // parked for good
    .build();
}

function idleEngine(): { profile: DriveProfile; landmarks: Landmark[] } {
  return new ProfileBuilder('ignition').hold(2).set('running').hold(10).build();
}

const MISFIRE_FREEZE_FRAME = {
  rpm: 2150,
  speedKmh: 62,
  coolantTempC: 88,
  engineLoadPct: 47.1,
  intakeTempC: 31,
  throttlePct: 27.8,
  mafGps: 18.4,
  mapKpa: 58,
  shortTermFuelTrimPct: 4.7,
  longTermFuelTrimPct: 3.1,
  closedLoop: true,
  engineRunning: true,
  ignitionOn: true,
};

function build(name: ScenarioName): Scenario {
  switch (name) {
    case 'driving':
      return { name, description: 'an urban drive with stops, one harsh acceleration, one harsh braking and speeding above 120 km/h once', ...urbanDrive(), vehicle: {} };
    case 'idle':
      return { name, description: 'a cold engine idling in park', ...idleEngine(), vehicle: {} };
    case 'engine-off':
      return {
        name,
        description: 'ignition off: the ECUs are asleep (UNABLE TO CONNECT / NO DATA), the adapter still reads ~12.2 V',
        ...new ProfileBuilder('off').hold(1).build(),
        vehicle: { restingBatteryV: 12.2 },
      };
    case 'dtcs-present':
      return {
        name,
        description: 'idling with stored P0301 and P0420, pending P0171, permanent P0420, MIL on and a freeze frame',
        ...idleEngine(),
        vehicle: {
          coolantTempC: 86,
          dtcs: { stored: ['P0301', 'P0420'], pending: ['P0171'], permanent: ['P0420'] },
          freezeFrame: MISFIRE_FREEZE_FRAME,
        },
      };
    case 'noisy-line':
      return {
        name,
        description: 'the driving scenario over a bad line: garbage bytes and corrupted or truncated lines',
        ...urbanDrive(),
        vehicle: {},
        lineNoise: { garbageProbability: 0.2, corruptLineProbability: 0.1, idleGarbageProbability: 0.05 },
      };
    case 'unplugged-mid-session':
      return { name, description: 'the driving scenario until the adapter is pulled (link closes with an error)', ...urbanDrive(), vehicle: {}, unplugAfterMs: 20_000 };
    case 'ignition-cycle':
      return { name, description: 'drive, park with the key out for 3 minutes, drive again, park: two trips', ...ignitionCycle(), vehicle: {} };
  }
}

export function isScenarioName(name: string): name is ScenarioName {
  return (SCENARIO_NAMES as readonly string[]).includes(name);
}

/** A fresh scenario by name, with optional fault overrides. */
export function scenarioByName(name: string, overrides: ScenarioOverrides = {}): Scenario {
  if (!isScenarioName(name)) {
    throw new SimulatorError('SIM_UNKNOWN_SCENARIO', `unknown scenario "${name}"; known: ${SCENARIO_NAMES.join(', ')}`);
  }
  const scenario = build(name);
  const noise = scenario.lineNoise ?? (overrides.lineNoise ? { garbageProbability: 0, corruptLineProbability: 0, idleGarbageProbability: 0 } : undefined);
  return {
    ...scenario,
    ...(noise ? { lineNoise: { ...noise, ...overrides.lineNoise } } : {}),
    ...(overrides.unplugAfterMs !== undefined ? { unplugAfterMs: overrides.unplugAfterMs } : {}),
    ...(overrides.loop ? { profile: { ...scenario.profile, loop: true } } : {}),
  };
}
