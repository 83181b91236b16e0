// Mode 09: VIN in CAN and legacy multi-message forms (never truncated), calibration ids, CVNs, supported infotypes.
import t from 'tap';
import { ObdDecodeError } from '../../../../hardware/obd/j1979/errors.js';
import { decodeCalibrationIds, decodeCvns, decodeMode09Supported, decodeVin } from '../../../../hardware/obd/j1979/mode09.js';

const hex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ''), 'hex'));
const ascii = (s: string): number[] => Array.from(Buffer.from(s, 'latin1'));
const codeOf = (f: () => unknown): string | undefined => {
  try {
    f();
  } catch (err) {
    return err instanceof ObdDecodeError ? err.code : `untyped: ${String(err)}`;
  }
  return undefined;
};

const VIN = '1D4GP00R55B123456';
// The legacy form: five messages of four bytes, the first padded with three NULs.
const LEGACY_VIN = ['02 01 00 00 00 31', '02 02 44 34 47 50', '02 03 30 30 52 35', '02 04 35 42 31 32', '02 05 33 34 35 36'].map(hex);

t.test('VIN, CAN: count byte 01 then 17 bytes', (t) => {
  t.equal(decodeVin(Uint8Array.of(0x02, 0x01, ...ascii(VIN))), VIN);
  t.equal(decodeVin([Uint8Array.of(0x02, 0x01, ...ascii(VIN))]), VIN, 'as a one-message array');
  t.equal(decodeVin(Uint8Array.of(0x02, 0x01, 0, 0, 0, ...ascii(VIN))), VIN, 'NUL padding on CAN too');
  t.end();
});

t.test('VIN, legacy: multi-message with leading NUL padding, all 17 characters kept', (t) => {
  t.equal(decodeVin(LEGACY_VIN), VIN);
  t.equal(decodeVin([...LEGACY_VIN].reverse()), VIN, 'messages out of order are put back by sequence number');
  t.equal(decodeVin(Uint8Array.from(LEGACY_VIN.flatMap((m) => Array.from(m)))), VIN, 'messages concatenated into one buffer');
  // A VIN whose first characters are digits that look like the start of padding elsewhere.
  const zeros = '00000000000000001';
  t.equal(decodeVin(Uint8Array.of(0x02, 0x01, ...ascii(zeros))), zeros, "ASCII '0' is data, not padding");
  t.end();
});

t.test('a VIN that is not 17 characters is an error, never truncated or padded', (t) => {
  t.equal(codeOf(() => decodeVin(Uint8Array.of(0x02, 0x01, ...ascii(`${VIN}X`)))), 'OBD_BAD_VIN', '18 characters');
  t.equal(codeOf(() => decodeVin(Uint8Array.of(0x02, 0x01, ...ascii(VIN.slice(1))))), 'OBD_BAD_VIN', '16 characters');
  t.equal(codeOf(() => decodeVin(LEGACY_VIN.slice(0, 4))), 'OBD_BAD_VIN', 'a missing message');
  t.equal(codeOf(() => decodeVin(Uint8Array.of(0x02, 0x01, ...ascii(VIN.slice(0, 16)), 0x07))), 'OBD_BAD_VIN', 'control character');
  t.equal(codeOf(() => decodeVin(Uint8Array.of(0x04, 0x01, ...ascii(VIN)))), 'OBD_BAD_INFOTYPE', 'not infotype 02');
  t.equal(codeOf(() => decodeVin([LEGACY_VIN[0] ?? hex(''), LEGACY_VIN[0] ?? hex('')])), 'OBD_BAD_INFOTYPE', 'repeated sequence number');
  t.equal(codeOf(() => decodeVin([])), 'OBD_EMPTY_PAYLOAD');
  t.equal(codeOf(() => decodeVin(hex('02'))), 'OBD_SHORT_DATA');
  t.end();
});

t.test('calibration ids: 16-byte ASCII, NUL padded, possibly several', (t) => {
  const id1 = [...ascii('JMB*36761500'), 0, 0, 0, 0];
  const id2 = [...ascii('JMB*47872611'), 0, 0, 0, 0];
  t.same(decodeCalibrationIds(Uint8Array.of(0x04, 0x01, ...id1)), ['JMB*36761500']);
  t.same(decodeCalibrationIds(Uint8Array.of(0x04, 0x02, ...id1, ...id2)), ['JMB*36761500', 'JMB*47872611']);
  const full = ascii('ABCDEFGHIJKLMNOP');
  t.same(decodeCalibrationIds(Uint8Array.of(0x04, 0x01, ...full)), ['ABCDEFGHIJKLMNOP'], 'all 16 characters used');
  const legacy = [...id1, ...id2].reduce<Uint8Array[]>((frames, _, i, all) => {
    if (i % 4 === 0) frames.push(Uint8Array.of(0x04, i / 4 + 1, ...all.slice(i, i + 4)));
    return frames;
  }, []);
  t.equal(legacy.length, 8);
  t.same(decodeCalibrationIds(legacy), ['JMB*36761500', 'JMB*47872611'], 'legacy: 4 messages per id');
  t.equal(codeOf(() => decodeCalibrationIds(Uint8Array.of(0x04, 0x01, ...id1.slice(0, 12)))), 'OBD_BAD_CALIBRATION_ID');
  t.equal(codeOf(() => decodeCalibrationIds(Uint8Array.of(0x04, 0x01, ...ascii('ABC'), 0x01, ...Array<number>(12).fill(0)))), 'OBD_BAD_CALIBRATION_ID');
  t.end();
});

t.test('CVNs: 4 bytes each, uppercase hex', (t) => {
  t.same(decodeCvns(hex('06 01 17 91 BC 82')), ['1791BC82']);
  t.same(decodeCvns(hex('06 02 17 91 BC 82 16 E0 62 BE')), ['1791BC82', '16E062BE']);
  t.same(decodeCvns([hex('06 01 17 91 BC 82'), hex('06 02 16 E0 62 BE')]), ['1791BC82', '16E062BE'], 'legacy messages');
  t.same(decodeCvns(hex('06 04 06 02 00 00 06 03 00 00 00 00 00 00 00 00 00 00')), ['06020000', '06030000', '00000000', '00000000'],
    'a CAN count byte that matches the length wins over a legacy-looking pattern');
  t.equal(codeOf(() => decodeCvns(hex('06 01 17 91 BC'))), 'OBD_SHORT_DATA');
  t.end();
});

t.test('supported infotypes (0900)', (t) => {
  t.same(decodeMode09Supported(hex('00 55 40 00 00')), [0x02, 0x04, 0x06, 0x08, 0x0a], 'CAN');
  t.same(decodeMode09Supported(hex('00 01 55 40 00 00')), [0x02, 0x04, 0x06, 0x08, 0x0a], 'legacy with message count');
  t.same(decodeMode09Supported(hex('20 80 00 00 00')), [0x21]);
  t.equal(codeOf(() => decodeMode09Supported(hex('00 55 40'))), 'OBD_BAD_BITMAP');
  t.equal(codeOf(() => decodeMode09Supported(hex('02 55 40 00 00'))), 'OBD_BAD_BITMAP');
  t.end();
});
