// Mode 01 decoding: hand-built vectors with known physical values per PID group, multi-PID walks, typed errors.
import t, { type Test } from 'tap';
import { ObdDecodeError } from '../../../../hardware/obd/j1979/errors.js';
import { decodeMode01, decodePid, decodeSupportedBitmap, supportedPidsFromBitmaps } from '../../../../hardware/obd/j1979/mode01.js';

const hex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ''), 'hex'));
/** The value of a single-PID response (payload after the 0x41 service byte). */
const one = (payload: string): unknown => {
  const readings = decodeMode01(hex(payload));
  if (readings.length !== 1) throw new Error(`expected one reading, got ${readings.length}`);
  return readings[0]?.value;
};
function rejectsWith(t: Test, payload: string, code: string): void {
  let caught: unknown;
  try {
    decodeMode01(hex(payload));
  } catch (err) {
    caught = err;
  }
  t.ok(caught instanceof ObdDecodeError && caught.code === code, `${payload} → ${code}`, { caught });
}

t.test('engine basics: RPM, speed, coolant, load, throttle, MAF, timing', (t) => {
  const rpm = decodeMode01(hex('0C 1A F8'))[0];
  t.match(rpm, { pid: 0x0c, name: 'RPM', value: 1726, unit: 'rpm' });
  t.same(Array.from(rpm?.raw ?? []), [0x1a, 0xf8], 'raw data bytes kept');
  t.equal(one('0C FF FF'), 16383.75, 'RPM maximum');
  t.equal(one('0D 32'), 50, 'speed 50 km/h');
  t.equal(one('0D FF'), 255);
  t.equal(one('05 00'), -40, 'coolant −40 offset at 0');
  t.equal(one('05 7B'), 83);
  t.equal(one('05 FF'), 215);
  t.equal(one('04 FF'), 100, 'engine load full scale is 100 %, not 102');
  t.equal(one('04 80'), (128 * 100) / 255);
  t.equal(one('11 33'), 20, 'throttle 0x33 = 20 %');
  t.equal(one('10 01 F4'), 5, 'MAF 500/100 g/s');
  t.equal(one('10 FF FF'), 655.35);
  t.equal(one('0E 80'), 0, 'timing advance A/2−64');
  t.equal(one('0E 00'), -64);
  t.equal(one('0A 50'), 240, 'fuel pressure 3A kPa');
  t.equal(one('0B 65'), 101, 'MAP kPa');
  t.equal(one('0F 3C'), 20, 'intake air 20 °C');
  t.equal(one('1F 01 2C'), 300, 'run time 300 s');
  t.end();
});

t.test('fuel trims are signed around 128', (t) => {
  t.equal(one('06 80'), 0, 'neutral');
  t.equal(one('06 00'), -100, 'most negative');
  t.equal(one('07 FF'), 99.21875, 'most positive');
  t.equal(one('08 90'), 12.5, '+12.5 % (adding fuel)');
  t.equal(one('09 70'), -12.5, '−12.5 % (removing fuel)');
  t.equal(one('2D 60'), -25, 'EGR error uses the same scaling');
  t.same(one('55 90 70'), { bank1: 12.5, bank3: -12.5 }, 'secondary O2 trims carry two banks');
  t.end();
});

t.test('oxygen sensors: narrow band, wide band lambda + voltage / current', (t) => {
  t.same(one('14 5A 90'), { voltage: 0.45, shortTermFuelTrim: 12.5 });
  t.same(one('15 5A FF'), { voltage: 0.45, shortTermFuelTrim: null }, 'B = FF: sensor not used in trim');
  t.same(one('24 80 00 40 00'), { lambda: 1, voltage: 2 }, 'lambda 1.0, 2.0 V');
  t.same(one('2B 73 33 20 00'), { lambda: (0x7333 * 2) / 65536, voltage: 1 }, 'rich mixture, lambda ≈ 0.9');
  t.same(one('34 80 00 80 00'), { lambda: 1, current: 0 }, 'current 0 mA at 0x8000');
  t.same(one('3B 8C CD 7F 00'), { lambda: (0x8ccd * 2) / 65536, current: -1 }, 'lean, −1 mA');
  t.same(one('13 13'), { B1S1: true, B1S2: true, B1S3: false, B1S4: false, B2S1: true, B2S2: false, B2S3: false, B2S4: false });
  t.same(one('1D 05'), { B1S1: true, B1S2: false, B2S1: true, B2S2: false, B3S1: false, B3S2: false, B4S1: false, B4S2: false });
  t.end();
});

t.test('monitor status (PID 01 / 41) and fuel system status (PID 03)', (t) => {
  const status = one('01 83 07 65 04') as Record<string, unknown>;
  t.equal(status.milOn, true);
  t.equal(status.dtcCount, 3);
  t.equal(status.ignition, 'spark');
  t.match(status.monitors, {
    misfire: { available: true, complete: true },
    catalyst: { available: true, complete: true },
    evapSystem: { available: true, complete: false },
    heatedCatalyst: { available: false },
  });
  const diesel = one('01 00 0F 00 40') as Record<string, unknown>;
  t.match(diesel, { milOn: false, dtcCount: 0, ignition: 'compression', monitors: { pmFilter: { available: false, complete: false } } });
  t.notOk('catalyst' in (diesel.monitors as object), 'compression ignition uses the diesel monitor names');
  const cycle = one('41 00 07 E5 00') as Record<string, unknown>;
  t.notOk('milOn' in cycle, 'PID 41 has no MIL / count');
  t.same(one('03 02 00'), { system1Code: 2, system1: 'closed loop: using oxygen sensor feedback', system2Code: 0, system2: null });
  t.match(one('03 03 00'), { system1: /^invalid/ }, 'two bits at once is not a status');
  t.end();
});

t.test('extended range: voltages, pressures, lambda, odometer, gear', (t) => {
  t.equal(one('42 30 D4'), 12.5, 'control module 12.5 V');
  t.equal(one('32 FF FC'), -1, 'evap pressure is two’s complement / 4');
  t.equal(one('32 7F FF'), 8191.75);
  t.equal(one('54 80 00'), 1, 'PID 54 uses the published −32767 offset');
  t.equal(one('44 80 00'), 1, 'commanded lambda 1.0');
  t.equal(one('5C 82'), 90, 'oil 90 °C');
  t.equal(one('5E 00 64'), 5, 'fuel rate 5 L/h');
  t.equal(one('5D 69 00'), 0, 'injection timing 0°');
  t.equal(one('3C 0F A0'), 360, 'catalyst 360 °C');
  t.equal(one('A6 00 01 E2 40'), 12345.6, 'odometer 123456 / 10 km');
  t.same(one('A4 02 30 0F A0'), { gear: 3, ratio: 4 });
  t.same(one('A4 00 30 0F A0'), { gear: null, ratio: null }, 'gear not supported');
  t.equal(one('A2 01 00'), 8, 'cylinder fuel rate mg/stroke');
  t.same(one('4F 02 08 80 1E'), { maxLambda: 2, maxO2Voltage: 8, maxO2Current: 128, maxIntakePressure: 300 });
  t.same(one('50 19 00 00 00'), { maxMaf: 250 });
  t.equal(one('61 7D'), 0, 'torque percent A−125');
  t.equal(one('63 01 F4'), 500, 'reference torque Nm');
  t.same(one('51 04'), { code: 4, fuelType: 'Diesel' });
  t.same(one('1C 06'), { code: 6, standard: 'EOBD (Europe)' });
  t.same(one('1C 0E'), { code: 14, standard: null }, 'reserved values keep their code');
  t.end();
});

t.test('support-byte PIDs: unsupported values are null, supported ones scaled', (t) => {
  t.same(one('67 01 7B 00'), { sensor1: 83, sensor2: null });
  t.same(one('78 05 0F A0 00 00 13 88 00 00'), { sensor1: 360, sensor2: null, sensor3: 460, sensor4: null });
  t.same(one('7F 05 00 00 0E 10 00 00 00 00 00 00 00 3C'), { total: 3600, idle: null, withPto: 60 });
  t.same(one('66 03 00 20 00 40'), { sensorA: 1, sensorB: 2 });
  t.same(one('7A 01 FF 9C 00 00 00 00'), { deltaPressure: -1, inletPressure: null, outletPressure: null }, 'DPF delta pressure is signed');
  t.match(one('70 3F 00 20 00 40 00 60 00 80 09'), { commandedBoostA: 1, boostA: 2, commandedBoostB: 3, boostB: 4, controlStatusA: 'open loop', controlStatusB: 'closed loop' });
  t.same(one('88 00 00 00 00 00 00 00 00 00 00 00 00 01'), { hex: '00000000000000000000000001' }, 'unpublished layouts stay raw');
  t.end();
});

t.test('PID 68: the 7-byte form, and the published 3-byte form when it ends the response', (t) => {
  t.same(one('68 03 50 51 00 00 00 00'), { B1S1: 40, B1S2: 41, B1S3: null, B2S1: null, B2S2: null, B2S3: null });
  t.same(one('68 03 50 51'), { B1S1: 40, B1S2: 41, B1S3: null, B2S1: null, B2S2: null, B2S3: null });
  t.same(one('68 3F 50 51'), { B1S1: 40, B1S2: 41, B1S3: null, B2S1: null, B2S2: null, B2S3: null }, 'support bits for absent bytes are not values');
  rejectsWith(t, '68 03 50 51 0D', 'OBD_SHORT_DATA');
  t.end();
});

t.test('multi-PID responses are walked by the table lengths', (t) => {
  const readings = decodeMode01(hex('0C 1A F8 0D 32 05 7B 10 01 F4 2F 80 11 33'));
  t.same(readings.map((r) => [r.name, r.value]), [['RPM', 1726], ['SPEED', 50], ['COOLANT_TEMP', 83], ['MAF', 5], ['FUEL_LEVEL', (128 * 100) / 255], ['THROTTLE_POS', 20]]);
  t.same(decodeMode01(hex('24 80 00 40 00 0D 10')).map((r) => r.pid), [0x24, 0x0d], 'a 4-byte PID in the middle');
  t.end();
});

t.test('bad payloads are typed errors, never wrong values', (t) => {
  rejectsWith(t, '', 'OBD_EMPTY_PAYLOAD');
  rejectsWith(t, '0C 1A', 'OBD_SHORT_DATA');
  rejectsWith(t, '0C', 'OBD_SHORT_DATA');
  rejectsWith(t, '0C 1A F8 0D', 'OBD_SHORT_DATA');
  rejectsWith(t, '0C 1A F8 00 01', 'OBD_SHORT_DATA');
  rejectsWith(t, 'C1 00', 'OBD_UNKNOWN_PID');
  rejectsWith(t, '95 00 00', 'OBD_UNKNOWN_PID');
  rejectsWith(t, '0D 32 E0 00 00 00 00', 'OBD_UNKNOWN_PID');
  t.throws(() => decodePid(0x0c, hex('1A F8 00')), { code: 'OBD_SHORT_DATA' }, 'decodePid wants the exact length');
  t.equal(decodePid(0x0c, hex('1A F8')).value, 1726);
  t.end();
});

t.test('supported-PID bitmaps', (t) => {
  t.same(decodeSupportedBitmap(0x00, hex('BE 1F A8 13')), [0x01, 0x03, 0x04, 0x05, 0x06, 0x07, 0x0c, 0x0d, 0x0e, 0x0f, 0x10, 0x11, 0x13, 0x15, 0x1c, 0x1f, 0x20]);
  t.same(one('00 BE 1F A8 13'), { supported: [0x01, 0x03, 0x04, 0x05, 0x06, 0x07, 0x0c, 0x0d, 0x0e, 0x0f, 0x10, 0x11, 0x13, 0x15, 0x1c, 0x1f, 0x20] });
  t.same(decodeSupportedBitmap(0xa0, hex('04 00 00 01')), [0xa6, 0xc0]);
  const fromMap = supportedPidsFromBitmaps(new Map([[0x20, hex('80 00 00 01')], [0x00, hex('00 18 00 01')], [0x40, hex('40 00 00 00')]]));
  t.same(fromMap, [0x0c, 0x0d, 0x20, 0x21, 0x40, 0x42], 'sorted union, bitmap PIDs included');
  const readings = decodeMode01(hex('00 00 18 00 01 20 80 00 00 00'));
  t.same(supportedPidsFromBitmaps(readings), [0x0c, 0x0d, 0x20, 0x21], 'bitmap readings straight from decodeMode01');
  t.same(supportedPidsFromBitmaps([[0x00, hex('00 10 00 00')], [0x00, hex('00 08 00 00')]]), [0x0c, 0x0d], 'several ECUs: union');
  t.throws(() => decodeSupportedBitmap(0x10, hex('00 00 00 00')), { code: 'OBD_BAD_BITMAP' });
  t.throws(() => decodeSupportedBitmap(0x00, hex('00 00 00')), { code: 'OBD_BAD_BITMAP' });
  t.throws(() => supportedPidsFromBitmaps(decodeMode01(hex('0C 1A F8'))), { code: 'OBD_BAD_BITMAP' }, 'a non-bitmap reading');
  t.end();
});
