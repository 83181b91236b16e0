// Mode-01 PID table, 0x80–0xC4: heavy-duty, aftertreatment and newer PIDs (raw where no layout is published).
import {
  bit, bitmapPid, byteAt, celsiusPid, multi, percent, percentPid, rawPid, scalar, supportedValues, torquePercent, u16, u32,
  type Mode01PidDefinition,
} from './pid-scaling.js';

/** 0x81/0x82/0x89/0x8A: run time of five emission-increasing AECDs, two 32-bit timers each. */
const aecdRunTime = (pid: number, name: string, first: number): Mode01PidDefinition => {
  const labels: string[] = [];
  for (let n = first; n < first + 5; n++) labels.push(`aecd${n}Timer1`, `aecd${n}Timer2`);
  return multi(pid, name, `Engine run time for AECD #${first}-#${first + 4}`, 41, 's',
    'A bit n = AECD supported; then two 32-bit second counters per AECD',
    (d) => {
      const support = byteAt(d, 0);
      return Object.fromEntries(labels.map((label, i) => [label, bit(support, i >> 1) ? u32(d, 1 + 4 * i) : null]));
    });
};

export const MODE01_PIDS_80_C4: readonly Mode01PidDefinition[] = [
  bitmapPid(0x80, 'PIDS_E'),
  aecdRunTime(0x81, 'AECD_RUN_TIME_1_5', 1),
  aecdRunTime(0x82, 'AECD_RUN_TIME_6_10', 6),
  multi(0x83, 'NOX_SENSOR', 'NOx sensor concentration', 9, 'ppm', 'A = support; each = 256X+Y',
    supportedValues(['B1S1', 'B1S2', 'B2S1', 'B2S2'], 2, (v) => v)),
  celsiusPid(0x84, 'MANIFOLD_SURFACE_TEMP', 'Manifold surface temperature'),
  multi(0x85, 'NOX_REAGENT_SYSTEM', 'NOx reagent system', 10, '',
    'A = support; averageConsumption, demandedConsumption = (256X+Y)*0.005 L/h; tankLevel = F*100/255 %; warningTime = 32-bit s',
    (d) => {
      const a = byteAt(d, 0);
      return {
        averageConsumption: bit(a, 0) ? u16(d, 1) * 0.005 : null,
        demandedConsumption: bit(a, 1) ? u16(d, 3) * 0.005 : null,
        tankLevel: bit(a, 2) ? percent(byteAt(d, 5)) : null,
        warningTime: bit(a, 3) ? u32(d, 6) : null,
      };
    }),
  multi(0x86, 'PM_SENSOR', 'Particulate matter sensor', 5, 'mg/m³', 'A = support; each = (256X+Y)/80',
    supportedValues(['B1S1', 'B2S1'], 2, (v) => v / 80)),
  multi(0x87, 'INTAKE_PRESSURE_AB', 'Intake manifold absolute pressure sensors A and B', 5, 'kPa', 'A = support; each = (256X+Y)/32',
    supportedValues(['sensorA', 'sensorB'], 2, (v) => v / 32)),
  rawPid(0x88, 'SCR_INDUCEMENT_SYSTEM', 'SCR inducement system', 13),
  aecdRunTime(0x89, 'AECD_RUN_TIME_11_15', 11),
  aecdRunTime(0x8a, 'AECD_RUN_TIME_16_20', 16),
  rawPid(0x8b, 'DIESEL_AFTERTREATMENT', 'Diesel aftertreatment status', 7),
  rawPid(0x8c, 'O2_SENSOR_WIDE_RANGE', 'O2 sensor (wide range)', 17),
  percentPid(0x8d, 'THROTTLE_POS_G', 'Throttle position G'),
  scalar(0x8e, 'ENGINE_FRICTION_TORQUE_PCT', 'Engine friction percent torque', 1, '%', 'A-125', (d) => torquePercent(byteAt(d, 0))),
  rawPid(0x8f, 'PM_SENSOR_BANKS', 'PM sensor, banks 1 and 2', 7),
  rawPid(0x90, 'WWH_OBD_VEHICLE_INFO', 'WWH-OBD vehicle OBD system information', 3),
  rawPid(0x91, 'WWH_OBD_ECU_INFO', 'WWH-OBD ECU OBD system information', 5),
  rawPid(0x92, 'FUEL_SYSTEM_CONTROL', 'Fuel system control', 2),
  rawPid(0x93, 'WWH_OBD_COUNTERS', 'WWH-OBD vehicle OBD counters support', 3),
  rawPid(0x94, 'NOX_WARNING_INDUCEMENT', 'NOx warning and inducement system', 12),
  multi(0x98, 'EGT_BANK_1_EXTRA', 'Exhaust gas temperature sensors, bank 1 (second PID)', 9, '°C', 'A = support; sensor n = (256X+Y)/10-40',
    supportedValues(['sensor1', 'sensor2', 'sensor3', 'sensor4'], 2, (v) => v / 10 - 40)),
  multi(0x99, 'EGT_BANK_2_EXTRA', 'Exhaust gas temperature sensors, bank 2 (second PID)', 9, '°C', 'A = support; sensor n = (256X+Y)/10-40',
    supportedValues(['sensor1', 'sensor2', 'sensor3', 'sensor4'], 2, (v) => v / 10 - 40)),
  rawPid(0x9a, 'HYBRID_EV_BATTERY', 'Hybrid/EV vehicle system data, battery, voltage', 6),
  multi(0x9b, 'DEF_SENSOR', 'Diesel exhaust fluid sensor data', 4, '%', 'level = D*100/255 (A-C not published)',
    (d) => ({ level: percent(byteAt(d, 3)) })),
  rawPid(0x9c, 'O2_SENSOR_DATA', 'O2 sensor data', 17),
  multi(0x9d, 'ENGINE_FUEL_RATE', 'Engine and vehicle fuel rate', 4, 'g/s', 'engine = (256A+B)*0.02; vehicle = (256C+D)*0.02',
    (d) => ({ engine: u16(d, 0) * 0.02, vehicle: u16(d, 2) * 0.02 })),
  scalar(0x9e, 'EXHAUST_FLOW_RATE', 'Engine exhaust flow rate', 2, 'kg/h', '(256A+B)*0.2', (d) => u16(d) * 0.2),
  rawPid(0x9f, 'FUEL_SYSTEM_USE', 'Fuel system percentage use', 9),

  bitmapPid(0xa0, 'PIDS_F'),
  rawPid(0xa1, 'NOX_SENSOR_CORRECTED', 'NOx sensor corrected data', 9),
  scalar(0xa2, 'CYLINDER_FUEL_RATE', 'Cylinder fuel rate', 2, 'mg/stroke', '(256A+B)/32', (d) => u16(d) / 32),
  rawPid(0xa3, 'EVAP_VAPOR_PRESSURE_WIDE', 'Evap system vapor pressure (wide range)', 9),
  multi(0xa4, 'TRANSMISSION_GEAR', 'Transmission actual gear', 4, '',
    'A1 = supported; gear = B7..B4 (0 = neutral); ratio = (256C+D)/1000',
    (d) => (bit(byteAt(d, 0), 1) ? { gear: byteAt(d, 1) >> 4, ratio: u16(d, 2) / 1000 } : { gear: null, ratio: null })),
  multi(0xa5, 'DEF_DOSING', 'Commanded diesel exhaust fluid dosing', 4, '%', 'A0 = supported; dosing = B/2',
    (d) => ({ dosing: bit(byteAt(d, 0), 0) ? byteAt(d, 1) / 2 : null })),
  scalar(0xa6, 'ODOMETER', 'Odometer', 4, 'km', '(2^24 A + 2^16 B + 2^8 C + D)/10', (d) => u32(d) / 10),
  rawPid(0xa7, 'NOX_SENSOR_3_4', 'NOx sensor concentration, sensors 3 and 4', 4),
  rawPid(0xa8, 'NOX_SENSOR_CORRECTED_3_4', 'NOx sensor corrected concentration, sensors 3 and 4', 4),
  multi(0xa9, 'ABS_DISABLE_SWITCH', 'ABS disable switch state', 4, '', 'A0 = supported; B0 = switch state',
    (d) => ({ absDisabled: bit(byteAt(d, 0), 0) ? bit(byteAt(d, 1), 0) : null })),

  bitmapPid(0xc0, 'PIDS_G'),
  // The published rows for C3 / C4 are themselves marked unreliable: raw, and request them alone.
  rawPid(0xc3, 'FUEL_LEVEL_AB', 'Fuel level input A/B', 2),
  rawPid(0xc4, 'PARTICULATE_CONTROL_DIAG', 'Exhaust particulate control system diagnostic time/count', 8),
];
