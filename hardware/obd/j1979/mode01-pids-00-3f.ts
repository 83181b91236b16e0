// Mode-01 PID table, 0x00–0x3F: the classic engine and emissions parameters (names follow python-OBD).
import { decodeDtc } from './dtc.js';
import {
  bit, bitmapPid, byteAt, celsiusPid, multi, percentPid, s16, scalar, trimPercent, u16, type Mode01PidDefinition,
} from './pid-scaling.js';
import {
  decodeFuelSystemStatus, decodeMonitorStatus, decodeO2SensorsPresent, decodeObdStandard, decodeSecondaryAir,
} from './pid-status.js';

const fuelTrim = (pid: number, name: string, description: string): Mode01PidDefinition =>
  scalar(pid, name, description, 1, '%', '(A-128)*100/128', (d) => trimPercent(byteAt(d, 0)));

// Sensor positions as python-OBD names them (the PID 13 two-bank layout).
const O2_POSITIONS = ['B1S1', 'B1S2', 'B1S3', 'B1S4', 'B2S1', 'B2S2', 'B2S3', 'B2S4'] as const;

/** 0x14–0x1B: narrow-band O2 sensor voltage and the short-term trim it drives (B = 0xFF: not used). */
const narrowBandO2 = (i: number): Mode01PidDefinition =>
  multi(0x14 + i, `O2_${O2_POSITIONS[i]}`, `O2 sensor ${i + 1} voltage and short term fuel trim`, 2, '',
    'voltage = A/200 V; shortTermFuelTrim = (B-128)*100/128 % (null when B = FF)',
    (d) => ({ voltage: byteAt(d, 0) / 200, shortTermFuelTrim: byteAt(d, 1) === 0xff ? null : trimPercent(byteAt(d, 1)) }));

/** 0x24–0x2B: wide-band O2 sensor, equivalence ratio (lambda) and voltage. */
const wideBandVoltage = (i: number): Mode01PidDefinition =>
  multi(0x24 + i, `O2_S${i + 1}_WR_VOLTAGE`, `O2 sensor ${i + 1} air-fuel equivalence ratio and voltage`, 4, '',
    'lambda = (256A+B)*2/65536 ratio; voltage = (256C+D)*8/65536 V',
    (d) => ({ lambda: (u16(d, 0) * 2) / 65536, voltage: (u16(d, 2) * 8) / 65536 }));

/** 0x34–0x3B: wide-band O2 sensor, equivalence ratio (lambda) and pump current. */
const wideBandCurrent = (i: number): Mode01PidDefinition =>
  multi(0x34 + i, `O2_S${i + 1}_WR_CURRENT`, `O2 sensor ${i + 1} air-fuel equivalence ratio and current`, 4, '',
    'lambda = (256A+B)*2/65536 ratio; current = (256C+D)/256-128 mA',
    (d) => ({ lambda: (u16(d, 0) * 2) / 65536, current: u16(d, 2) / 256 - 128 }));

const catalystTemp = (pid: number, position: string): Mode01PidDefinition =>
  scalar(pid, `CATALYST_TEMP_${position}`, `Catalyst temperature ${position}`, 2, '°C', '(256A+B)/10-40', (d) => u16(d) / 10 - 40);

export const MODE01_PIDS_00_3F: readonly Mode01PidDefinition[] = [
  bitmapPid(0x00, 'PIDS_A'),
  multi(0x01, 'STATUS', 'Monitor status since DTCs cleared (MIL, DTC count, readiness)', 4, '',
    'A7 = MIL, A6..A0 = DTC count, B/C/D = monitors', (d) => decodeMonitorStatus(d, false)),
  multi(0x02, 'FREEZE_DTC', 'DTC that caused the freeze frame to be stored (mode 02)', 2, '',
    'A,B = DTC (0000 = no freeze frame)', (d) => ({ dtc: decodeDtc(byteAt(d, 0), byteAt(d, 1)) })),
  multi(0x03, 'FUEL_STATUS', 'Fuel system status', 2, '', 'A = system 1, B = system 2 (one-hot)', decodeFuelSystemStatus),
  percentPid(0x04, 'ENGINE_LOAD', 'Calculated engine load'),
  celsiusPid(0x05, 'COOLANT_TEMP', 'Engine coolant temperature'),
  fuelTrim(0x06, 'SHORT_FUEL_TRIM_1', 'Short term fuel trim, bank 1'),
  fuelTrim(0x07, 'LONG_FUEL_TRIM_1', 'Long term fuel trim, bank 1'),
  fuelTrim(0x08, 'SHORT_FUEL_TRIM_2', 'Short term fuel trim, bank 2'),
  fuelTrim(0x09, 'LONG_FUEL_TRIM_2', 'Long term fuel trim, bank 2'),
  scalar(0x0a, 'FUEL_PRESSURE', 'Fuel pressure (gauge)', 1, 'kPa', '3A', (d) => 3 * byteAt(d, 0)),
  scalar(0x0b, 'INTAKE_PRESSURE', 'Intake manifold absolute pressure', 1, 'kPa', 'A', (d) => byteAt(d, 0)),
  scalar(0x0c, 'RPM', 'Engine speed', 2, 'rpm', '(256A+B)/4', (d) => u16(d) / 4),
  scalar(0x0d, 'SPEED', 'Vehicle speed', 1, 'km/h', 'A', (d) => byteAt(d, 0)),
  scalar(0x0e, 'TIMING_ADVANCE', 'Timing advance (before TDC)', 1, '°', 'A/2-64', (d) => byteAt(d, 0) / 2 - 64),
  celsiusPid(0x0f, 'INTAKE_TEMP', 'Intake air temperature'),
  scalar(0x10, 'MAF', 'Mass air flow rate', 2, 'g/s', '(256A+B)/100', (d) => u16(d) / 100),
  percentPid(0x11, 'THROTTLE_POS', 'Throttle position'),
  multi(0x12, 'AIR_STATUS', 'Commanded secondary air status', 1, '', 'A one-hot', decodeSecondaryAir),
  multi(0x13, 'O2_SENSORS', 'O2 sensors present (2 banks)', 1, '', 'A0..A3 = bank 1 sensors 1-4, A4..A7 = bank 2', (d) => decodeO2SensorsPresent(d, false)),
  ...O2_POSITIONS.map((_, i) => narrowBandO2(i)),
  multi(0x1c, 'OBD_COMPLIANCE', 'OBD standard the vehicle conforms to', 1, '', 'A enumerated', decodeObdStandard),
  multi(0x1d, 'O2_SENSORS_ALT', 'O2 sensors present (4 banks)', 1, '', 'A0..A7 = B1S1,B1S2,B2S1,B2S2,B3S1,B3S2,B4S1,B4S2', (d) => decodeO2SensorsPresent(d, true)),
  multi(0x1e, 'AUX_INPUT_STATUS', 'Auxiliary input status', 1, '', 'A0 = power take-off active', (d) => ({ powerTakeOffActive: bit(byteAt(d, 0), 0) })),
  scalar(0x1f, 'RUN_TIME', 'Run time since engine start', 2, 's', '256A+B', (d) => u16(d)),

  bitmapPid(0x20, 'PIDS_B'),
  scalar(0x21, 'DISTANCE_W_MIL', 'Distance traveled with MIL on', 2, 'km', '256A+B', (d) => u16(d)),
  scalar(0x22, 'FUEL_RAIL_PRESSURE_VAC', 'Fuel rail pressure (relative to manifold vacuum)', 2, 'kPa', '0.079*(256A+B)', (d) => u16(d) * 0.079),
  scalar(0x23, 'FUEL_RAIL_PRESSURE_DIRECT', 'Fuel rail gauge pressure (diesel, or gasoline direct injection)', 2, 'kPa', '10*(256A+B)', (d) => u16(d) * 10),
  ...O2_POSITIONS.map((_, i) => wideBandVoltage(i)),
  percentPid(0x2c, 'COMMANDED_EGR', 'Commanded EGR'),
  scalar(0x2d, 'EGR_ERROR', 'EGR error', 1, '%', '(A-128)*100/128', (d) => trimPercent(byteAt(d, 0))),
  percentPid(0x2e, 'EVAPORATIVE_PURGE', 'Commanded evaporative purge'),
  percentPid(0x2f, 'FUEL_LEVEL', 'Fuel tank level input'),
  scalar(0x30, 'WARMUPS_SINCE_DTC_CLEAR', 'Warm-ups since codes cleared', 1, 'count', 'A', (d) => byteAt(d, 0)),
  scalar(0x31, 'DISTANCE_SINCE_DTC_CLEAR', 'Distance traveled since codes cleared', 2, 'km', '256A+B', (d) => u16(d)),
  scalar(0x32, 'EVAP_VAPOR_PRESSURE', 'Evap system vapor pressure', 2, 'Pa', 'signed(256A+B)/4', (d) => s16(d) / 4),
  scalar(0x33, 'BAROMETRIC_PRESSURE', 'Absolute barometric pressure', 1, 'kPa', 'A', (d) => byteAt(d, 0)),
  ...O2_POSITIONS.map((_, i) => wideBandCurrent(i)),
  catalystTemp(0x3c, 'B1S1'),
  catalystTemp(0x3d, 'B2S1'),
  catalystTemp(0x3e, 'B1S2'),
  catalystTemp(0x3f, 'B2S2'),
];
