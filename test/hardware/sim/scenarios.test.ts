// Tests for the scenarios and the vehicle model: ground-truth events, trips, plausible physics.
import t from 'tap';
import { SCENARIO_NAMES, scenarioByName, type Scenario } from '../../../hardware/sim/scenarios.js';
import { profileDurationS, profileMotionAt, VehicleState, type VehicleSnapshot } from '../../../hardware/sim/vehicle-state.js';

/** Samples a scenario every `stepS` seconds from 0 to `untilS`. */
function sample(scenario: Scenario, untilS: number, stepS = 1): VehicleSnapshot[] {
  const state = new VehicleState({ ...scenario.vehicle, profile: scenario.profile, startMs: 1_000_000 });
  const out: VehicleSnapshot[] = [];
  for (let s = 0; s <= untilS; s += stepS) out.push(state.advanceTo(1_000_000 + s * 1000));
  return out;
}

/** Runs of consecutive samples satisfying `predicate`: [startIndex, endIndex] pairs. */
function episodes<T>(items: T[], predicate: (item: T, i: number) => boolean): [number, number][] {
  const runs: [number, number][] = [];
  let start = -1;
  items.forEach((item, i) => {
    if (predicate(item, i)) {
      if (start < 0) start = i;
    } else if (start >= 0) {
      runs.push([start, i - 1]);
      start = -1;
    }
  });
  if (start >= 0) runs.push([start, items.length - 1]);
  return runs;
}

t.test('every named scenario builds and has a description', (t) => {
  for (const name of SCENARIO_NAMES) {
    const scenario = scenarioByName(name);
    t.equal(scenario.name, name);
    t.ok(scenario.description.length > 10);
    t.ok(scenario.profile.keyframes.length >= 2);
  }
  t.throws(() => scenarioByName('flying'), { code: 'SIM_UNKNOWN_SCENARIO' });
  t.equal(scenarioByName('unplugged-mid-session', { unplugAfterMs: 3000 }).unplugAfterMs, 3000);
  t.equal(scenarioByName('driving', { lineNoise: { garbageProbability: 0.5 } }).lineNoise?.garbageProbability, 0.5);
  t.equal(scenarioByName('driving').lineNoise, undefined);
  t.end();
});

t.test('driving: one harsh acceleration, one harsh braking, speeding above 120 km/h once, as landmarked', (t) => {
  const scenario = scenarioByName('driving');
  const duration = profileDurationS(scenario.profile);
  t.ok(duration > 480 && duration < 900, `an urban drive of ${Math.round(duration / 60)} minutes`);
  // What a 1 Hz OBD poller sees: integer km/h, differences over one second.
  const samples = sample(scenario, duration + 30);
  const speeds = samples.map((s) => Math.round(s.speedKmh));
  const accel = speeds.map((v, i) => (i === 0 ? 0 : (v - speeds[i - 1]!) / 3.6));
  const harshAccel = episodes(accel, (a) => a >= 3.5);
  const harshBrake = episodes(accel, (a) => a <= -3.5);
  const speeding = episodes(speeds, (v) => v > 120);
  t.equal(harshAccel.length, 1, 'one harsh acceleration');
  t.equal(harshBrake.length, 1, 'one harsh braking');
  t.equal(speeding.length, 1, 'one speeding episode');
  // Samples straddling a harsh ramp's edge see part of it; everything else must be gentle.
  const nearHarsh = (i: number): boolean => [...harshAccel, ...harshBrake].some(([a, b]) => i >= a - 1 && i <= b + 1);
  t.ok(Math.max(...accel.filter((_, i) => !nearHarsh(i)).map(Math.abs)) < 2, 'everything else is gentle');
  const mark = (kind: string): number => scenario.landmarks.find((l) => l.kind === kind)!.atS;
  t.ok(Math.abs(harshAccel[0]![0] - mark('harsh-acceleration')) <= 1.5, 'landmark matches the harsh acceleration');
  t.ok(Math.abs(harshBrake[0]![0] - mark('harsh-braking')) <= 1.5, 'landmark matches the harsh braking');
  t.ok(Math.abs(speeding[0]![0] - mark('speeding-start')) <= 1.5);
  t.ok(Math.abs(speeding[0]![1] - mark('speeding-end')) <= 1.5);
  t.ok(Math.max(...speeds) >= 125);
  const stops = episodes(speeds, (v) => v === 0).filter(([a, b]) => b - a >= 10 && a > 30);
  t.ok(stops.length >= 3, `stops at lights (${stops.length})`);
  t.end();
});

t.test('driving: the derived quantities are plausible', (t) => {
  const scenario = scenarioByName('driving');
  const samples = sample(scenario, profileDurationS(scenario.profile), 0.5);
  const first = samples[0]!;
  const last = samples[samples.length - 1]!;
  t.equal(first.engineRunning, false, 'key on, engine not yet started');
  t.ok(first.ignitionOn);
  const warm = samples.filter((s) => s.engineRunning && s.elapsedMs > 60_000);
  t.ok(warm.every((s) => s.rpm >= 700 && s.rpm <= 4500), 'rpm between idle and 4500');
  const idle = warm.filter((s) => s.speedKmh === 0 && s.accelerationMps2 === 0);
  t.ok(idle.every((s) => s.mafGps > 1.5 && s.mafGps < 6), 'idle MAF 1.5–6 g/s');
  t.ok(last.coolantTempC > 80, `engine warm at the end (${last.coolantTempC.toFixed(1)} °C)`);
  t.ok(last.fuelLevelPct < first.fuelLevelPct, 'fuel was burnt');
  t.ok(warm.every((s) => s.batteryVoltage > 13.8 && s.batteryVoltage < 14.6), 'charging voltage while running');
  // The odometer integrates exactly the speed the OBD reports.
  let distance = 0;
  for (let i = 1; i < samples.length; i++) distance += ((samples[i]!.speedKmh + samples[i - 1]!.speedKmh) / 2) * (0.5 / 3600);
  t.ok(Math.abs(last.odometerKm - first.odometerKm - distance) < 0.01, `odometer +${(last.odometerKm - first.odometerKm).toFixed(2)} km`);
  const harsh = samples.find((s) => s.accelerationMps2 > 4)!;
  t.ok(harsh.throttlePct > 60, 'harsh acceleration opens the throttle');
  t.end();
});

t.test('ignition-cycle: two trips with the key out in between', (t) => {
  const scenario = scenarioByName('ignition-cycle');
  const samples = sample(scenario, profileDurationS(scenario.profile) + 10);
  const ignitionRuns = episodes(samples, (s) => s.ignitionOn);
  t.equal(ignitionRuns.length, 2, 'two ignition-on periods');
  const gap = ignitionRuns[1]![0] - ignitionRuns[0]![1] - 1;
  t.ok(gap >= 170 && gap <= 190, `parked for ${gap} s`);
  t.equal(episodes(samples, (s) => s.engineRunning).length, 2);
  t.ok(samples.slice(ignitionRuns[0]![1] + 1, ignitionRuns[1]![0]).every((s) => s.rpm === 0 && s.batteryVoltage < 13.1), 'engine off, not charging');
  t.same(scenario.landmarks.map((l) => l.kind).filter((k) => k.startsWith('engine')), ['engine-start', 'engine-stop', 'engine-start', 'engine-stop']);
  t.equal(samples[samples.length - 1]!.ignitionOn, false, 'parked for good at the end');
  t.end();
});

t.test('engine-off and idle', (t) => {
  const off = sample(scenarioByName('engine-off'), 60);
  t.ok(off.every((s) => !s.ignitionOn && s.rpm === 0 && Math.abs(s.batteryVoltage - 12.2) < 0.05));
  const idle = sample(scenarioByName('idle'), 600);
  t.ok(idle.slice(5).every((s) => s.engineRunning && s.speedKmh === 0));
  t.ok(idle[10]!.rpm > idle[599]!.rpm, 'cold idle is faster than warm idle');
  t.ok(idle[10]!.closedLoop === false && idle[599]!.closedLoop, 'open loop until warm');
  t.end();
});

t.test('state time only moves forward; DTC memory', (t) => {
  const scenario = scenarioByName('dtcs-present');
  const state = new VehicleState({ ...scenario.vehicle, profile: scenario.profile, startMs: 0 });
  const later = state.advanceTo(50_000);
  t.equal(state.advanceTo(10_000), later, 'an earlier time changes nothing');
  t.same(state.dtcs.stored, ['P0301', 'P0420']);
  t.equal(state.dtcs.freezeFrame?.dtc, 'P0301');
  t.equal(state.dtcs.freezeFrame?.snapshot.rpm, 2150);
  t.ok(later.milOn);
  state.clearDtcs();
  t.same(state.dtcs.permanent, ['P0420'], 'permanent codes stay');
  t.equal(state.current.milOn, false);
  state.storeDtc('P0171');
  t.equal(state.dtcs.freezeFrame?.dtc, 'P0171', 'a new freeze frame');
  t.equal(state.motionAt(50_000).speedKmh, 0);
  t.end();
});

t.test('a looping scenario drives again after its end; without loop the car stays parked', (t) => {
  const once = scenarioByName('ignition-cycle');
  const looping = scenarioByName('ignition-cycle', { loop: true });
  const duration = profileDurationS(once.profile);
  for (const offsetS of [5, 40, 120, 400]) {
    t.same(profileMotionAt(looping.profile, duration + offsetS), profileMotionAt(once.profile, offsetS), `at end + ${offsetS} s it is where it was at ${offsetS} s`);
  }
  t.equal(profileMotionAt(once.profile, duration + 40).engine, 'off', 'the one-shot car stays parked');
  t.equal(profileMotionAt(looping.profile, duration + 40).engine, 'running', 'the looping car is driving again');
  t.end();
});
