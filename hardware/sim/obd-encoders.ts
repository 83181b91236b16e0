// Physical values → J1979 bytes, written independently of any decoder so tests against the simulator
// check the decoder rather than agree with it by construction. Formulas follow SAE J1979 / J1979-DA.
import type { VehicleSnapshot } from './vehicle-state.js';

/** Encodes one PID's data bytes (without the PID byte) from a snapshot. */
export type PidEncoder = (s: VehicleSnapshot) => number[];

const clampRound = (x: number, max: number): number => Math.min(max, Math.max(0, Math.round(x)));
const byte = (x: number): number[] => [clampRound(x, 0xff)];
const word = (x: number): number[] => {
  const v = clampRound(x, 0xffff);
  return [v >> 8, v & 0xff];
};
const dword = (x: number): number[] => {
  const v = clampRound(x, 0xffffffff);
  return [(v >>> 24) & 0xff, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff];
};
const percent = (pct: number): number[] => byte((pct * 255) / 100);
const temperature = (celsius: number): number[] => byte(celsius + 40);
const fuelTrim = (pct: number): number[] => byte((pct * 128) / 100 + 128);

/** Fuel system status (PID 03): closed loop, open loop (cold), or open loop because of load / fuel cut. */
function fuelSystemStatus(s: VehicleSnapshot): number {
  if (s.closedLoop) return 0x02;
  if (s.engineRunning && s.coolantTempC > 40 && s.runTimeS > 20) return 0x04;
  return 0x01;
}

/** Mode 01 PIDs of a petrol engine ECU (bitmap PIDs 00/20/40/… are derived from this set). */
export const ENGINE_MODE01: ReadonlyMap<number, PidEncoder> = new Map<number, PidEncoder>([
  // Monitor status: MIL + DTC count; spark ignition, misfire/fuel/component and catalyst/evap/O2 monitors, all complete.
  [0x01, (s) => [(s.milOn ? 0x80 : 0) | Math.min(0x7f, s.storedDtcCount), 0x07, 0x65, 0x00]],
  [0x03, (s) => [fuelSystemStatus(s), 0x00]],
  [0x04, (s) => percent(s.engineLoadPct)],
  [0x05, (s) => temperature(s.coolantTempC)],
  [0x06, (s) => fuelTrim(s.shortTermFuelTrimPct)],
  [0x07, (s) => fuelTrim(s.longTermFuelTrimPct)],
  [0x0b, (s) => byte(s.mapKpa)],
  [0x0c, (s) => word(s.rpm * 4)],
  [0x0d, (s) => byte(s.speedKmh)],
  [0x0e, (s) => byte((s.timingAdvanceDeg + 64) * 2)],
  [0x0f, (s) => temperature(s.intakeTempC)],
  [0x10, (s) => word(s.mafGps * 100)],
  [0x11, (s) => percent(s.throttlePct)],
  [0x13, () => [0x03]], // O2 sensors present: bank 1 sensors 1 and 2
  [0x15, (s) => [...byte(s.o2VoltageV * 200), 0xff]], // downstream sensor: not used for trim
  [0x1c, () => [0x03]], // OBD and OBD-II
  [0x1f, (s) => word(s.runTimeS)],
  [0x21, (s) => word(s.distanceWithMilKm)],
  [0x2f, (s) => percent(s.fuelLevelPct)],
  [0x30, (s) => byte(s.warmupsSinceCleared)],
  [0x31, (s) => word(s.distanceSinceClearedKm)],
  [0x33, (s) => byte(s.baroKpa)],
  [0x42, (s) => word(s.batteryVoltage * 1000)],
  [0x45, (s) => percent(s.relativeThrottlePct)],
  [0x46, (s) => temperature(s.ambientTempC)],
  [0x49, (s) => percent(s.acceleratorPedalPct)],
  [0x4c, (s) => percent(s.relativeThrottlePct)],
  [0x51, () => [0x01]], // gasoline
  [0x5c, (s) => temperature(s.oilTempC)],
  [0x5e, (s) => word(s.fuelRateLph * 20)],
  [0xa6, (s) => dword(s.odometerKm * 10)],
]);

const GEAR_RATIOS = [0, 4.6, 2.72, 1.86, 1.46, 1.0, 0.82];

/** Mode 01 PIDs of an automatic transmission's TCM. */
export const TRANSMISSION_MODE01: ReadonlyMap<number, PidEncoder> = new Map<number, PidEncoder>([
  [0x01, () => [0x00, 0x04, 0x00, 0x00]], // no MIL, no DTCs, comprehensive components monitor
  [0x1c, () => [0x03]],
  // Actual gear: A bit 1 = gear supported, B bits 7–4 = gear, C–D = ratio / 1000.
  [0xa4, (s) => [0x02, (s.gear & 0x0f) << 4, ...word((GEAR_RATIOS[s.gear] ?? 0) * 1000)]],
]);

/** PIDs an engine ECU stores in its freeze frame (mode 02); 0x02 (the DTC) is added by the ECU. */
export const ENGINE_FREEZE_FRAME_PIDS: readonly number[] = [0x03, 0x04, 0x05, 0x06, 0x07, 0x0b, 0x0c, 0x0d, 0x0f, 0x10, 0x11];

/**
 * The 4-byte "supported PIDs" bitmap at `base` (0x00, 0x20, …) for a set of data PIDs, or null when
 * `base` itself is not supported. Bit 7 of byte A is PID base+1; the last bit says "more beyond".
 */
export function supportedPidBitmap(pids: Iterable<number>, base: number): number[] | null {
  const list = [...pids].filter((pid) => pid % 0x20 !== 0 || pid === 0);
  const highest = Math.max(0, ...list);
  if (base !== 0 && highest <= base) return null;
  const bytes = [0, 0, 0, 0];
  for (let offset = 1; offset <= 0x20; offset++) {
    const pid = base + offset;
    const supported = offset === 0x20 ? highest > pid : list.includes(pid);
    if (supported) bytes[(offset - 1) >> 3]! |= 0x80 >> ((offset - 1) & 7);
  }
  return bytes;
}

/** `P0301` → [0x03, 0x01]: two bits of system letter (P/C/B/U), two of the first digit, then 3 hex digits. */
export function encodeDtc(code: string): [number, number] {
  const match = /^([PCBU])([0-3])([0-9A-F]{3})$/i.exec(code);
  if (!match) throw new RangeError(`not a DTC: ${code}`);
  const system = 'PCBU'.indexOf(match[1]!.toUpperCase());
  const rest = parseInt(match[3]!, 16);
  return [(system << 6) | (parseInt(match[2]!, 10) << 4) | (rest >> 8), rest & 0xff];
}
