// NMEA 0183 parsing: published RMC / GGA / VTG sentences, hemispheres, checksums, truncation, the line splitter.
import t from 'tap';
import fc from 'fast-check';
import { GpsError, NMEA_MAX_LINE, NmeaLineSplitter, formatNmeaSentence, nmeaChecksum, parseNmeaSentence } from '../../../hardware/gps/nmea.js';

const codeOf = (f: () => unknown): string | undefined => {
  try {
    f();
  } catch (err) {
    return err instanceof GpsError ? err.code : `untyped: ${String(err)}`;
  }
  return undefined;
};
const bytes = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s, 'latin1'));

// Published example sentences (the classic NMEA reference examples; checksums as published).
const RMC_MUNICH = '$GPRMC,123519,A,4807.038,N,01131.000,E,022.4,084.4,230394,003.1,W*6A';
const GGA_MUNICH = '$GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,*47';
const RMC_VANCOUVER = '$GPRMC,225446,A,4916.45,N,12311.12,W,000.5,054.7,191194,020.3,E*68';
const RMC_MELBOURNE = '$GPRMC,081836,A,3751.65,S,14507.36,E,000.0,360.0,130998,011.3,E*62';
const GGA_DUBLIN = '$GPGGA,092750.000,5321.6802,N,00630.3372,W,1,8,1.03,61.7,M,55.2,M,,*76';
const VTG = '$GPVTG,054.7,T,034.4,M,005.5,N,010.2,K*48';

t.test('RMC: position, speed in km/h, UTC time + date → epoch ms', (t) => {
  const rmc = parseNmeaSentence(RMC_MUNICH);
  t.match(rmc, { type: 'RMC', talker: 'GP', valid: true, course: 84.4, magneticVariation: -3.1, mode: null });
  if (rmc.type !== 'RMC') throw new Error('type');
  t.equal(rmc.time, Date.UTC(1994, 2, 23, 12, 35, 19), '23 March 1994 12:35:19 UTC');
  t.equal(rmc.timeOfDayMs, (12 * 3600 + 35 * 60 + 19) * 1000);
  t.ok(Math.abs((rmc.lat ?? 0) - (48 + 7.038 / 60)) < 1e-12, 'lat 48°07.038′ N');
  t.ok(Math.abs((rmc.lng ?? 0) - (11 + 31 / 60)) < 1e-12, 'lng 11°31.000′ E');
  t.ok(Math.abs((rmc.speedKmh ?? 0) - 22.4 * 1.852) < 1e-9, '22.4 knots in km/h');
  t.end();
});

t.test('GGA: fix quality, satellites, HDOP, altitude', (t) => {
  t.match(parseNmeaSentence(GGA_MUNICH), { type: 'GGA', valid: true, fixQuality: 1, satellites: 8, hdop: 0.9, altitude: 545.4, geoidSeparation: 46.9, timeOfDayMs: 45_319_000 });
  t.match(parseNmeaSentence(GGA_DUBLIN), { timeOfDayMs: (9 * 3600 + 27 * 60 + 50) * 1000, satellites: 8, hdop: 1.03 });
  t.end();
});

t.test('southern and western hemispheres are negative', (t) => {
  const vancouver = parseNmeaSentence(RMC_VANCOUVER);
  t.ok(vancouver.type === 'RMC' && Math.abs((vancouver.lng ?? 0) + (123 + 11.12 / 60)) < 1e-12, 'W → negative longitude');
  t.ok(vancouver.type === 'RMC' && (vancouver.lat ?? 0) > 49, 'N stays positive');
  t.equal(vancouver.type === 'RMC' ? vancouver.magneticVariation : null, 20.3, 'variation E positive');
  const melbourne = parseNmeaSentence(RMC_MELBOURNE);
  t.ok(melbourne.type === 'RMC' && Math.abs((melbourne.lat ?? 0) + (37 + 51.65 / 60)) < 1e-12, 'S → negative latitude');
  t.equal(melbourne.type === 'RMC' ? melbourne.time : null, Date.UTC(1998, 8, 13, 8, 18, 36), 'two-digit year 98 → 1998');
  const dublin = parseNmeaSentence(GGA_DUBLIN);
  t.ok(dublin.type === 'GGA' && Math.abs((dublin.lng ?? 0) + (6 + 30.3372 / 60)) < 1e-12, 'GGA west');
  t.end();
});

t.test('VTG, talkers, and sentences we do not parse', (t) => {
  t.match(parseNmeaSentence(VTG), { type: 'VTG', course: 54.7, courseMagnetic: 34.4, speedKmh: 10.2, timeOfDayMs: null, valid: true });
  t.match(parseNmeaSentence(formatNmeaSentence('GNVTG,,T,,M,5.0,N,,K,A')), { speedKmh: 5 * 1.852 }, 'km/h from knots when the K field is empty');
  t.match(parseNmeaSentence(formatNmeaSentence('GPVTG,,T,,M,,N,,K,N')), { valid: false, speedKmh: null });
  t.match(parseNmeaSentence(formatNmeaSentence('GNRMC,001122.50,A,4807.038,N,01131.000,E,0.0,,010124,,,D')), { talker: 'GN', mode: 'D', valid: true, time: Date.UTC(2024, 0, 1, 0, 11, 22, 500) });
  t.match(parseNmeaSentence(formatNmeaSentence('GLGGA,000000,4807.038,N,01131.000,E,2,05,1.5,1.0,M,,M,,')), { talker: 'GL', fixQuality: 2, geoidSeparation: null });
  t.equal(codeOf(() => parseNmeaSentence(formatNmeaSentence('GPGSV,3,1,11,03,03,111,00,04,15,270,00,06,01,010,00,13,06,292,00'))), 'GPS_UNSUPPORTED');
  t.equal(codeOf(() => parseNmeaSentence(formatNmeaSentence('PUBX,00,081350.00'))), 'GPS_UNSUPPORTED', 'proprietary sentence');
  t.equal(codeOf(() => parseNmeaSentence(formatNmeaSentence('gprmc,123519'))), 'GPS_MALFORMED', 'not an address');
  t.equal(codeOf(() => parseNmeaSentence(formatNmeaSentence(',123519'))), 'GPS_MALFORMED', 'empty address');
  t.equal(codeOf(() => parseNmeaSentence(formatNmeaSentence('XXRMC,123519,A,,,,,,,230394,,'))), 'GPS_UNSUPPORTED', 'unknown talker');
  t.end();
});

t.test('validity: RMC status V / mode N, GGA fix quality 0', (t) => {
  t.match(parseNmeaSentence(formatNmeaSentence('GPRMC,123519,V,,,,,,,230394,,,N')), { valid: false, lat: null, lng: null, speedKmh: null, time: Date.UTC(1994, 2, 23, 12, 35, 19) });
  t.match(parseNmeaSentence(formatNmeaSentence('GPRMC,123519,A,4807.038,N,01131.000,E,,,230394,,,N')), { valid: false }, 'mode N overrides status A');
  t.match(parseNmeaSentence(formatNmeaSentence('GPGGA,123519,,,,,0,00,99.99,,,,,,')), { valid: false, fixQuality: 0, lat: null, altitude: null });
  t.match(parseNmeaSentence(formatNmeaSentence('GPGGA,,,,,,,,,,,,,,')), { valid: false, fixQuality: null, timeOfDayMs: null });
  t.match(parseNmeaSentence(formatNmeaSentence('GPRMC,,V,,,,,,,,,')), { time: null, timeOfDayMs: null }, 'missing fields are null');
  t.end();
});

t.test('checksums are verified', (t) => {
  t.equal(codeOf(() => parseNmeaSentence(RMC_MUNICH.replace('*6A', '*6B'))), 'GPS_BAD_CHECKSUM');
  t.equal(codeOf(() => parseNmeaSentence(RMC_MUNICH.replace('022.4', '022.5'))), 'GPS_BAD_CHECKSUM', 'a changed digit');
  t.equal(codeOf(() => parseNmeaSentence(RMC_MUNICH.slice(0, -3))), 'GPS_BAD_CHECKSUM', 'no checksum');
  t.equal(codeOf(() => parseNmeaSentence(`${RMC_MUNICH.slice(0, -2)}6`)), 'GPS_BAD_CHECKSUM', 'one hex digit');
  t.match(parseNmeaSentence(RMC_MUNICH.replace('*6A', '*6a')), { type: 'RMC' }, 'lowercase hex is fine');
  t.match(parseNmeaSentence(`  ${GGA_MUNICH}\r\n`), { type: 'GGA' }, 'surrounding whitespace / CRLF');
  t.equal(nmeaChecksum('GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,'), 0x47);
  t.end();
});

t.test('truncated lines and broken fields are typed errors', (t) => {
  for (let cut = 1; cut < RMC_MUNICH.length - 1; cut++) {
    const code = codeOf(() => parseNmeaSentence(RMC_MUNICH.slice(0, cut)));
    if (code === undefined || code.startsWith('untyped')) t.fail(`cut at ${cut}: ${code}`);
  }
  t.pass('every truncation of the RMC sentence is rejected with a GpsError');
  t.equal(codeOf(() => parseNmeaSentence('')), 'GPS_MALFORMED');
  t.equal(codeOf(() => parseNmeaSentence('GPRMC,123519')), 'GPS_MALFORMED');
  const broken = ['GPRMC,253519,A,4807.038,N,01131.000,E,1,1,230394,,', 'GPRMC,123519,A,4867.038,N,01131.000,E,1,1,230394,,',
    'GPRMC,123519,A,4807.038,X,01131.000,E,1,1,230394,,', 'GPRMC,123519,A,4807.038,,01131.000,E,1,1,230394,,',
    'GPRMC,123519,A,4807.038,N,01131.000,E,fast,1,230394,,', 'GPRMC,123519,A,4807.038,N,01131.000,E,1,1,310294,,',
    'GPRMC,123519,Q,4807.038,N,01131.000,E,1,1,230394,,', 'GPRMC,123519,A,9107.038,N,01131.000,E,1,1,230394,,',
    'GPGGA,123519,4807.038,N,01131.000,E,x,08,0.9,545.4,M,46.9,M,,', 'GPRMC,123519,A,4807.038,N', 'GPVTG,1,T'];
  for (const body of broken) t.equal(codeOf(() => parseNmeaSentence(formatNmeaSentence(body))), 'GPS_MALFORMED', body);
  t.end();
});

t.test('parseNmeaSentence only ever throws GpsError', (t) => {
  const line = fc.oneof(
    fc.string({ maxLength: 100 }),
    fc.constantFrom(RMC_MUNICH, GGA_MUNICH, VTG).chain((s) => fc.tuple(fc.nat(s.length), fc.string({ maxLength: 3 })).map(([at, ins]) => s.slice(0, at) + ins + s.slice(at + 1))),
    fc.array(fc.constantFrom('GPRMC', 'GNGGA', 'GPVTG', '', '1', '4807.038', 'N', 'W', 'A', 'V', '.', '-1', '999999', '230394'), { maxLength: 16 }).map((f) => formatNmeaSentence(f.join(','))),
  );
  fc.assert(fc.property(line, (l) => {
    try {
      parseNmeaSentence(l);
      return true;
    } catch (err) {
      return err instanceof GpsError;
    }
  }), { numRuns: 10_000, seed: 183 });
  t.pass('held');
  t.end();
});

t.test('line splitter: CRLF, lone CR / LF, partial chunks', (t) => {
  const splitter = new NmeaLineSplitter();
  t.same(splitter.push(bytes(`${RMC_MUNICH}\r\n${GGA_MUNICH}\r\n`)), [RMC_MUNICH, GGA_MUNICH]);
  t.same(splitter.push(bytes(`${VTG}\n$GP`)), [VTG], 'LF only, and a partial tail');
  t.same(splitter.push(bytes('RMC,1')), [], 'still partial');
  t.same(splitter.push(bytes('\r')), ['$GPRMC,1'], 'CR only');
  t.same(splitter.push(bytes('\n\r\n')), [], 'no empty lines');
  const bytewise = new NmeaLineSplitter();
  const out = Array.from(bytes(`${RMC_MUNICH}\r\n${GGA_MUNICH}\r\n`)).flatMap((b) => bytewise.push(Uint8Array.of(b)));
  t.same(out, [RMC_MUNICH, GGA_MUNICH], 'byte by byte');
  t.end();
});

t.test('line splitter: garbage, resync on $, over-long lines bounded', (t) => {
  const splitter = new NmeaLineSplitter();
  t.same(splitter.push(bytes(`\x00\xff\x7fnoise${RMC_MUNICH}\r\n`)), [RMC_MUNICH], 'noise before $ is dropped');
  t.same(splitter.push(bytes(`$GPGGA,12351${GGA_MUNICH}\r\n`)), [GGA_MUNICH], 'a cut-off sentence is dropped when the next $ arrives');
  t.same(splitter.push(bytes(`$${'A'.repeat(500)}\r\n${VTG}\r\n`)), [VTG], 'over-long line dropped whole');
  t.equal(splitter.stats().overlongLines, 1);
  t.ok(splitter.stats().droppedBytes >= 500 + 8 + 12, 'dropped bytes counted');
  t.same(splitter.push(bytes(`$${'B'.repeat(NMEA_MAX_LINE - 1)}\n`)), [`$${'B'.repeat(NMEA_MAX_LINE - 1)}`], 'exactly the bound is kept');
  t.same(splitter.push(bytes(`$${'C'.repeat(NMEA_MAX_LINE)}\n`)), [], 'one over is not');
  t.same(splitter.push(bytes(`${'D'.repeat(1000)}${RMC_MUNICH}\n`)), [RMC_MUNICH], 'a new $ ends discarding');
  t.end();
});

t.test('line splitter: lines are bounded whatever the input', (t) => {
  fc.assert(fc.property(fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 20 }), (chunks) => {
    const splitter = new NmeaLineSplitter();
    return chunks.every((c) => splitter.push(c).every((line) => line.length > 0 && line.length <= NMEA_MAX_LINE && !/[\r\n]/.test(line)));
  }), { numRuns: 2000, seed: 120 });
  t.pass('held');
  t.end();
});
