// Decoders for the bit-encoded and enumerated mode-01 PIDs: monitor status, fuel system, OBD standard, fuel type, ….
import { bit, byteAt } from './pid-scaling.js';

export interface MonitorState {
  /** PID 01: the monitor is supported; PID 41: it is enabled this drive cycle. */
  available: boolean;
  /** The monitor has completed (since DTCs were cleared, or this drive cycle). */
  complete: boolean;
}

const CONTINUOUS = ['misfire', 'fuelSystem', 'components'] as const;
// Bits 0..7 of bytes C (available) and D (incomplete); null = reserved bit.
const SPARK_MONITORS = ['catalyst', 'heatedCatalyst', 'evapSystem', 'secondaryAirSystem', 'acRefrigerantOrGpf', 'oxygenSensor', 'oxygenSensorHeater', 'egrVvtSystem'] as const;
const COMPRESSION_MONITORS = ['nmhcCatalyst', 'noxScrMonitor', null, 'boostPressure', null, 'exhaustGasSensor', 'pmFilter', 'egrVvtSystem'] as const;

/**
 * PID 01 (since DTCs cleared) and PID 41 (this drive cycle), 4 bytes:
 * A7 MIL on, A6..A0 confirmed DTC count (PID 41: reserved); B0..B2 continuous monitors available,
 * B4..B6 the same incomplete, B3 compression ignition; C/D non-continuous monitors available /
 * incomplete, named by ignition type.
 */
export function decodeMonitorStatus(d: Uint8Array, thisDriveCycle: boolean): Record<string, unknown> {
  const a = byteAt(d, 0);
  const b = byteAt(d, 1);
  const c = byteAt(d, 2);
  const dd = byteAt(d, 3);
  const compression = bit(b, 3);
  const monitors: Record<string, MonitorState> = {};
  CONTINUOUS.forEach((name, i) => {
    monitors[name] = { available: bit(b, i), complete: !bit(b, i + 4) };
  });
  (compression ? COMPRESSION_MONITORS : SPARK_MONITORS).forEach((name, i) => {
    if (name !== null) monitors[name] = { available: bit(c, i), complete: !bit(dd, i) };
  });
  const common = { ignition: compression ? 'compression' : 'spark', monitors };
  return thisDriveCycle ? common : { milOn: bit(a, 7), dtcCount: a & 0x7f, ...common };
}

const FUEL_SYSTEM_STATUS: Readonly<Record<number, string>> = {
  1: 'open loop: engine not warm enough',
  2: 'closed loop: using oxygen sensor feedback',
  4: 'open loop: engine load or fuel cut on deceleration',
  8: 'open loop: system failure',
  16: 'closed loop: oxygen sensor feedback with a fault',
};

/** PID 03: one byte per fuel system, one-hot; 0 = system absent / engine off, others are invalid. */
export function decodeFuelSystemStatus(d: Uint8Array): Record<string, unknown> {
  const describe = (v: number): string | null => (v === 0 ? null : (FUEL_SYSTEM_STATUS[v] ?? `invalid (0x${v.toString(16)})`));
  const s1 = byteAt(d, 0);
  const s2 = byteAt(d, 1);
  return { system1Code: s1, system1: describe(s1), system2Code: s2, system2: describe(s2) };
}

const SECONDARY_AIR: Readonly<Record<number, string>> = {
  1: 'upstream of first catalytic converter',
  2: 'downstream of first catalytic converter',
  4: 'from outside atmosphere or off',
  8: 'pump commanded on for diagnostics',
};

/** PID 12: commanded secondary air status, one-hot. */
export function decodeSecondaryAir(d: Uint8Array): Record<string, unknown> {
  const a = byteAt(d, 0);
  return { code: a, status: a === 0 ? null : (SECONDARY_AIR[a] ?? `invalid (0x${a.toString(16)})`) };
}

/** PID 13 (2 banks × 4 sensors) and PID 1D (4 banks × 2 sensors): which O2 sensors exist. */
export function decodeO2SensorsPresent(d: Uint8Array, fourBanks: boolean): Record<string, boolean> {
  const a = byteAt(d, 0);
  const names = fourBanks
    ? ['B1S1', 'B1S2', 'B2S1', 'B2S2', 'B3S1', 'B3S2', 'B4S1', 'B4S2']
    : ['B1S1', 'B1S2', 'B1S3', 'B1S4', 'B2S1', 'B2S2', 'B2S3', 'B2S4'];
  return Object.fromEntries(names.map((n, i) => [n, bit(a, i)]));
}

const OBD_STANDARDS: Readonly<Record<number, string>> = {
  1: 'OBD-II as defined by CARB', 2: 'OBD as defined by the EPA', 3: 'OBD and OBD-II', 4: 'OBD-I', 5: 'Not OBD compliant',
  6: 'EOBD (Europe)', 7: 'EOBD and OBD-II', 8: 'EOBD and OBD', 9: 'EOBD, OBD and OBD II', 10: 'JOBD (Japan)',
  11: 'JOBD and OBD II', 12: 'JOBD and EOBD', 13: 'JOBD, EOBD, and OBD II', 17: 'Engine Manufacturer Diagnostics (EMD)',
  18: 'Engine Manufacturer Diagnostics Enhanced (EMD+)', 19: 'Heavy Duty On-Board Diagnostics (Child/Partial) (HD OBD-C)',
  20: 'Heavy Duty On-Board Diagnostics (HD OBD)', 21: 'World Wide Harmonized OBD (WWH OBD)',
  23: 'Heavy Duty Euro OBD Stage I without NOx control (HD EOBD-I)', 24: 'Heavy Duty Euro OBD Stage I with NOx control (HD EOBD-I N)',
  25: 'Heavy Duty Euro OBD Stage II without NOx control (HD EOBD-II)', 26: 'Heavy Duty Euro OBD Stage II with NOx control (HD EOBD-II N)',
  28: 'Brazil OBD Phase 1 (OBDBr-1)', 29: 'Brazil OBD Phase 2 (OBDBr-2)', 30: 'Korean OBD (KOBD)', 31: 'India OBD I (IOBD I)',
  32: 'India OBD II (IOBD II)', 33: 'Heavy Duty Euro OBD Stage VI (HD EOBD-IV)',
};

/** PID 1C: the OBD standard the vehicle conforms to; reserved values keep their code with a null name. */
export function decodeObdStandard(d: Uint8Array): Record<string, unknown> {
  const a = byteAt(d, 0);
  return { code: a, standard: OBD_STANDARDS[a] ?? null };
}

const FUEL_TYPES: readonly string[] = [
  'Not available', 'Gasoline', 'Methanol', 'Ethanol', 'Diesel', 'LPG', 'CNG', 'Propane', 'Electric',
  'Bifuel running Gasoline', 'Bifuel running Methanol', 'Bifuel running Ethanol', 'Bifuel running LPG',
  'Bifuel running CNG', 'Bifuel running Propane', 'Bifuel running Electricity', 'Bifuel running electric and combustion engine',
  'Hybrid gasoline', 'Hybrid Ethanol', 'Hybrid Diesel', 'Hybrid Electric', 'Hybrid running electric and combustion engine',
  'Hybrid Regenerative', 'Bifuel running diesel',
];

/** PID 51: fuel type. */
export function decodeFuelType(d: Uint8Array): Record<string, unknown> {
  const a = byteAt(d, 0);
  return { code: a, fuelType: FUEL_TYPES[a] ?? null };
}

const EMISSION_REQUIREMENTS: Readonly<Record<number, string>> = {
  0x0e: 'Heavy Duty Vehicles (EURO IV) B1',
  0x0f: 'Heavy Duty Vehicles (EURO V) B2',
  0x10: 'Heavy Duty Vehicles (EURO EEV) C',
};

/** PID 5F: emission requirements the vehicle is designed to. */
export function decodeEmissionRequirements(d: Uint8Array): Record<string, unknown> {
  const a = byteAt(d, 0);
  return { code: a, requirement: EMISSION_REQUIREMENTS[a] ?? null };
}

/** PID 65: auxiliary inputs / outputs; A = support bits, B = states; unsupported states are null. */
export function decodeAuxInputOutput(d: Uint8Array): Record<string, boolean | null> {
  const a = byteAt(d, 0);
  const b = byteAt(d, 1);
  const names = ['powerTakeOffActive', 'autoTransInGear', 'manualTransInGear', 'glowPlugLampOn'];
  return Object.fromEntries(names.map((n, i) => [n, bit(a, i) ? bit(b, i) : null]));
}

/** PIDs 7D / 7E: NOx and PM not-to-exceed control area status. */
export function decodeNteStatus(d: Uint8Array): Record<string, boolean> {
  const a = byteAt(d, 0);
  return {
    insideControlArea: bit(a, 0),
    outsideControlArea: bit(a, 1),
    insideManufacturerCarveOut: bit(a, 2),
    deficiencyActive: bit(a, 3),
  };
}
