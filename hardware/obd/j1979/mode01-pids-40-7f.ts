// Mode-01 PID table, 0x40–0x7F: drive-cycle status, extra sensors, and the diesel / heavy-duty support-byte PIDs.
import {
  bit, bitmapPid, byteAt, celsius, celsiusPid, multi, percent, percentPid, rawPid, s16, scalar, supportedValues,
  torquePercent, trimPercent, u16, type Mode01PidDefinition,
} from './pid-scaling.js';
import {
  decodeAuxInputOutput, decodeEmissionRequirements, decodeFuelType, decodeMonitorStatus, decodeNteStatus,
} from './pid-status.js';

const CONTROL_STATUS = ['reserved', 'open loop', 'closed loop', 'fault present'] as const;
const controlStatus = (v: number): string => CONTROL_STATUS[v & 3] ?? 'reserved';

const secondaryO2Trim = (pid: number, name: string, description: string, banks: readonly [string, string]): Mode01PidDefinition =>
  multi(pid, name, description, 2, '%', `${banks[0]} = (A-128)*100/128; ${banks[1]} = (B-128)*100/128`,
    (d) => ({ [banks[0]]: trimPercent(byteAt(d, 0)), [banks[1]]: trimPercent(byteAt(d, 1)) }));

const turboTemperatures = (pid: number, name: string, turbo: string): Mode01PidDefinition =>
  multi(pid, name, `Turbocharger ${turbo} temperatures`, 7, '°C',
    'A = support; compressorInlet = B-40; compressorOutlet = C-40; turbineInlet = (256D+E)/10-40; turbineOutlet = (256F+G)/10-40',
    (d) => {
      const a = byteAt(d, 0);
      return {
        compressorInlet: bit(a, 0) ? celsius(byteAt(d, 1)) : null,
        compressorOutlet: bit(a, 1) ? celsius(byteAt(d, 2)) : null,
        turbineInlet: bit(a, 2) ? u16(d, 3) / 10 - 40 : null,
        turbineOutlet: bit(a, 3) ? u16(d, 5) / 10 - 40 : null,
      };
    });

const exhaustGasTemp = (pid: number, name: string, bank: number): Mode01PidDefinition =>
  multi(pid, name, `Exhaust gas temperature, bank ${bank}`, 9, '°C', 'A = support; sensor n = (256X+Y)/10-40',
    supportedValues(['sensor1', 'sensor2', 'sensor3', 'sensor4'], 2, (v) => v / 10 - 40));

const particulateFilter = (pid: number, name: string, bank: number): Mode01PidDefinition =>
  multi(pid, name, `Diesel particulate filter, bank ${bank}`, 7, 'kPa',
    'A = support; deltaPressure = signed(256B+C)/100; inletPressure = (256D+E)/100; outletPressure = (256F+G)/100',
    (d) => {
      const a = byteAt(d, 0);
      return {
        deltaPressure: bit(a, 0) ? s16(d, 1) / 100 : null,
        inletPressure: bit(a, 1) ? u16(d, 3) / 100 : null,
        outletPressure: bit(a, 2) ? u16(d, 5) / 100 : null,
      };
    });

export const MODE01_PIDS_40_7F: readonly Mode01PidDefinition[] = [
  bitmapPid(0x40, 'PIDS_C'),
  multi(0x41, 'STATUS_DRIVE_CYCLE', 'Monitor status this drive cycle', 4, '', 'B/C/D = monitors enabled / incomplete', (d) => decodeMonitorStatus(d, true)),
  scalar(0x42, 'CONTROL_MODULE_VOLTAGE', 'Control module voltage', 2, 'V', '(256A+B)/1000', (d) => u16(d) / 1000),
  scalar(0x43, 'ABSOLUTE_LOAD', 'Absolute load value', 2, '%', '(256A+B)*100/255', (d) => (u16(d) * 100) / 255),
  scalar(0x44, 'COMMANDED_EQUIV_RATIO', 'Commanded air-fuel equivalence ratio (lambda)', 2, 'ratio', '(256A+B)*2/65536', (d) => (u16(d) * 2) / 65536),
  percentPid(0x45, 'RELATIVE_THROTTLE_POS', 'Relative throttle position'),
  celsiusPid(0x46, 'AMBIENT_AIR_TEMP', 'Ambient air temperature'),
  percentPid(0x47, 'THROTTLE_POS_B', 'Absolute throttle position B'),
  percentPid(0x48, 'THROTTLE_POS_C', 'Absolute throttle position C'),
  percentPid(0x49, 'ACCELERATOR_POS_D', 'Accelerator pedal position D'),
  percentPid(0x4a, 'ACCELERATOR_POS_E', 'Accelerator pedal position E'),
  percentPid(0x4b, 'ACCELERATOR_POS_F', 'Accelerator pedal position F'),
  percentPid(0x4c, 'THROTTLE_ACTUATOR', 'Commanded throttle actuator'),
  scalar(0x4d, 'RUN_TIME_MIL', 'Time run with MIL on', 2, 'min', '256A+B', (d) => u16(d)),
  scalar(0x4e, 'TIME_SINCE_DTC_CLEARED', 'Time since trouble codes cleared', 2, 'min', '256A+B', (d) => u16(d)),
  multi(0x4f, 'MAX_VALUES', 'Maximum values for equivalence ratio, O2 sensor voltage and current, and intake manifold pressure', 4, '',
    'maxLambda = A ratio; maxO2Voltage = B V; maxO2Current = C mA; maxIntakePressure = 10D kPa',
    (d) => ({ maxLambda: byteAt(d, 0), maxO2Voltage: byteAt(d, 1), maxO2Current: byteAt(d, 2), maxIntakePressure: byteAt(d, 3) * 10 })),
  multi(0x50, 'MAX_MAF', 'Maximum value for mass air flow sensor', 4, 'g/s', 'maxMaf = 10A (B, C, D reserved)', (d) => ({ maxMaf: byteAt(d, 0) * 10 })),
  multi(0x51, 'FUEL_TYPE', 'Fuel type', 1, '', 'A enumerated', decodeFuelType),
  percentPid(0x52, 'ETHANOL_PERCENT', 'Ethanol fuel %'),
  scalar(0x53, 'EVAP_VAPOR_PRESSURE_ABS', 'Absolute evap system vapor pressure', 2, 'kPa', '(256A+B)/200', (d) => u16(d) / 200),
  // Wikipedia and python-OBD give an offset (not two's complement) form for this one, unlike PID 32.
  scalar(0x54, 'EVAP_VAPOR_PRESSURE_ALT', 'Evap system vapor pressure', 2, 'Pa', '(256A+B)-32767', (d) => u16(d) - 32767),
  secondaryO2Trim(0x55, 'SHORT_O2_TRIM_B1', 'Short term secondary O2 sensor trim, banks 1 and 3', ['bank1', 'bank3']),
  secondaryO2Trim(0x56, 'LONG_O2_TRIM_B1', 'Long term secondary O2 sensor trim, banks 1 and 3', ['bank1', 'bank3']),
  secondaryO2Trim(0x57, 'SHORT_O2_TRIM_B2', 'Short term secondary O2 sensor trim, banks 2 and 4', ['bank2', 'bank4']),
  secondaryO2Trim(0x58, 'LONG_O2_TRIM_B2', 'Long term secondary O2 sensor trim, banks 2 and 4', ['bank2', 'bank4']),
  scalar(0x59, 'FUEL_RAIL_PRESSURE_ABS', 'Fuel rail absolute pressure', 2, 'kPa', '10*(256A+B)', (d) => u16(d) * 10),
  percentPid(0x5a, 'RELATIVE_ACCEL_POS', 'Relative accelerator pedal position'),
  percentPid(0x5b, 'HYBRID_BATTERY_REMAINING', 'Hybrid battery pack remaining life'),
  celsiusPid(0x5c, 'OIL_TEMP', 'Engine oil temperature'),
  scalar(0x5d, 'FUEL_INJECT_TIMING', 'Fuel injection timing', 2, '°', '(256A+B)/128-210', (d) => u16(d) / 128 - 210),
  scalar(0x5e, 'FUEL_RATE', 'Engine fuel rate', 2, 'L/h', '(256A+B)/20', (d) => u16(d) / 20),
  multi(0x5f, 'EMISSION_REQ', 'Emission requirements to which the vehicle is designed', 1, '', 'A enumerated', decodeEmissionRequirements),

  bitmapPid(0x60, 'PIDS_D'),
  scalar(0x61, 'DEMAND_ENGINE_TORQUE_PCT', "Driver's demand engine percent torque", 1, '%', 'A-125', (d) => torquePercent(byteAt(d, 0))),
  scalar(0x62, 'ACTUAL_ENGINE_TORQUE_PCT', 'Actual engine percent torque', 1, '%', 'A-125', (d) => torquePercent(byteAt(d, 0))),
  scalar(0x63, 'ENGINE_REFERENCE_TORQUE', 'Engine reference torque', 2, 'Nm', '256A+B', (d) => u16(d)),
  multi(0x64, 'ENGINE_TORQUE_DATA', 'Engine percent torque data (idle and points 1-4)', 5, '%', 'each = X-125',
    (d) => ({ idle: torquePercent(byteAt(d, 0)), point1: torquePercent(byteAt(d, 1)), point2: torquePercent(byteAt(d, 2)), point3: torquePercent(byteAt(d, 3)), point4: torquePercent(byteAt(d, 4)) })),
  multi(0x65, 'AUX_IO_STATUS', 'Auxiliary input / output supported and status', 2, '', 'A = support bits, B = states', decodeAuxInputOutput),
  multi(0x66, 'MAF_SENSOR_AB', 'Mass air flow sensors A and B', 5, 'g/s', 'A = support; sensorA = (256B+C)/32; sensorB = (256D+E)/32',
    supportedValues(['sensorA', 'sensorB'], 2, (v) => v / 32)),
  multi(0x67, 'COOLANT_TEMP_SENSORS', 'Engine coolant temperature sensors 1 and 2', 3, '°C', 'A = support; sensor1 = B-40; sensor2 = C-40',
    supportedValues(['sensor1', 'sensor2'], 1, celsius)),
  multi(0x68, 'INTAKE_TEMP_SENSORS', 'Intake air temperature sensors', 7, '°C', 'A = support; each = X-40 (B1S1, B1S2, B1S3, B2S1, B2S2, B2S3)',
    supportedValues(['B1S1', 'B1S2', 'B1S3', 'B2S1', 'B2S2', 'B2S3'], 1, celsius), [3]),
  multi(0x69, 'EGR_CONTROL', 'Commanded EGR and EGR error', 7, '%',
    'A = support; commanded/actual = X*100/255; error = (X-128)*100/128 (for A, then B)',
    (d) => {
      const a = byteAt(d, 0);
      const pick = (i: number, f: (v: number) => number) => (bit(a, i) ? f(byteAt(d, i + 1)) : null);
      return { commandedA: pick(0, percent), actualA: pick(1, percent), errorA: pick(2, trimPercent), commandedB: pick(3, percent), actualB: pick(4, percent), errorB: pick(5, trimPercent) };
    }),
  multi(0x6a, 'DIESEL_INTAKE_AIR_FLOW', 'Commanded diesel intake air flow control and relative intake air flow position', 5, '%',
    'A = support; each = X*100/255', supportedValues(['commandedA', 'relativeA', 'commandedB', 'relativeB'], 1, percent)),
  rawPid(0x6b, 'EGR_TEMP', 'Exhaust gas recirculation temperature', 5),
  multi(0x6c, 'THROTTLE_ACTUATOR_CONTROL', 'Commanded throttle actuator control and relative throttle position', 5, '%',
    'A = support; each = X*100/255', supportedValues(['commandedA', 'relativeA', 'commandedB', 'relativeB'], 1, percent)),
  multi(0x6d, 'FUEL_PRESSURE_CONTROL', 'Fuel pressure control system', 11, '',
    'A = support; commanded / actual rail pressure = 10*(256X+Y) kPa; fuel temperature = X-40 °C (A, then B)',
    (d) => {
      const a = byteAt(d, 0);
      return {
        commandedRailPressureA: bit(a, 0) ? u16(d, 1) * 10 : null,
        railPressureA: bit(a, 1) ? u16(d, 3) * 10 : null,
        fuelTemperatureA: bit(a, 2) ? celsius(byteAt(d, 5)) : null,
        commandedRailPressureB: bit(a, 3) ? u16(d, 6) * 10 : null,
        railPressureB: bit(a, 4) ? u16(d, 8) * 10 : null,
        fuelTemperatureB: bit(a, 5) ? celsius(byteAt(d, 10)) : null,
      };
    }),
  multi(0x6e, 'INJECTION_PRESSURE_CONTROL', 'Injection pressure control system', 9, 'kPa', 'A = support; each = 10*(256X+Y)',
    supportedValues(['commandedA', 'actualA', 'commandedB', 'actualB'], 2, (v) => v * 10)),
  multi(0x6f, 'TURBO_INLET_PRESSURE', 'Turbocharger compressor inlet pressure', 3, 'kPa', 'A = support; sensorA = B; sensorB = C',
    supportedValues(['sensorA', 'sensorB'], 1, (v) => v)),
  multi(0x70, 'BOOST_PRESSURE_CONTROL', 'Boost pressure control', 10, '',
    'A = support; commanded / actual boost = (256X+Y)/32 kPa (A, then B); J = control status A (bits 0-1), B (bits 2-3)',
    (d) => {
      const a = byteAt(d, 0);
      const j = byteAt(d, 9);
      return {
        commandedBoostA: bit(a, 0) ? u16(d, 1) / 32 : null,
        boostA: bit(a, 1) ? u16(d, 3) / 32 : null,
        controlStatusA: bit(a, 2) ? controlStatus(j) : null,
        commandedBoostB: bit(a, 3) ? u16(d, 5) / 32 : null,
        boostB: bit(a, 4) ? u16(d, 7) / 32 : null,
        controlStatusB: bit(a, 5) ? controlStatus(j >> 2) : null,
      };
    }),
  multi(0x71, 'VGT_CONTROL', 'Variable geometry turbo control', 6, '',
    'A = support; commanded / actual position = X*100/255 % (A, then B); F = control status A (bits 0-1), B (bits 2-3)',
    (d) => {
      const a = byteAt(d, 0);
      const f = byteAt(d, 5);
      return {
        commandedA: bit(a, 0) ? percent(byteAt(d, 1)) : null,
        positionA: bit(a, 1) ? percent(byteAt(d, 2)) : null,
        controlStatusA: bit(a, 2) ? controlStatus(f) : null,
        commandedB: bit(a, 3) ? percent(byteAt(d, 3)) : null,
        positionB: bit(a, 4) ? percent(byteAt(d, 4)) : null,
        controlStatusB: bit(a, 5) ? controlStatus(f >> 2) : null,
      };
    }),
  multi(0x72, 'WASTEGATE_CONTROL', 'Wastegate control', 5, '%', 'A = support; each = X*100/255',
    supportedValues(['commandedA', 'positionA', 'commandedB', 'positionB'], 1, percent)),
  multi(0x73, 'EXHAUST_PRESSURE', 'Exhaust pressure', 5, 'kPa', 'A = support; each = (256X+Y)/100',
    supportedValues(['bank1', 'bank2'], 2, (v) => v / 100)),
  multi(0x74, 'TURBO_RPM', 'Turbocharger speed', 5, 'rpm', 'A = support; each = 10*(256X+Y)',
    supportedValues(['turboA', 'turboB'], 2, (v) => v * 10)),
  turboTemperatures(0x75, 'TURBO_A_TEMP', 'A'),
  turboTemperatures(0x76, 'TURBO_B_TEMP', 'B'),
  multi(0x77, 'CHARGE_AIR_COOLER_TEMP', 'Charge air cooler temperature', 5, '°C', 'A = support; each = X-40',
    supportedValues(['B1S1', 'B1S2', 'B2S1', 'B2S2'], 1, celsius)),
  exhaustGasTemp(0x78, 'EGT_BANK_1', 1),
  exhaustGasTemp(0x79, 'EGT_BANK_2', 2),
  particulateFilter(0x7a, 'DPF_BANK_1', 1),
  particulateFilter(0x7b, 'DPF_BANK_2', 2),
  multi(0x7c, 'DPF_TEMP', 'Diesel particulate filter temperature', 9, '°C', 'A = support; each = (256X+Y)/10-40',
    supportedValues(['bank1Inlet', 'bank1Outlet', 'bank2Inlet', 'bank2Outlet'], 2, (v) => v / 10 - 40)),
  multi(0x7d, 'NOX_NTE_STATUS', 'NOx not-to-exceed control area status', 1, '', 'A bit-encoded', decodeNteStatus),
  multi(0x7e, 'PM_NTE_STATUS', 'PM not-to-exceed control area status', 1, '', 'A bit-encoded', decodeNteStatus),
  multi(0x7f, 'ENGINE_RUN_TIME', 'Engine run time (total, idle, with PTO active)', 13, 's', 'A = support; each = 32-bit count of seconds',
    supportedValues(['total', 'idle', 'withPto'], 4, (v) => v)),
];
