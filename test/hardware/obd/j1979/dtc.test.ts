// DTC decoding for modes 03 / 07 / 0A: P/C/B/U letters, the CAN count byte, legacy 0000 padding.
import t from 'tap';
import fc from 'fast-check';
import { decodeDtc, decodeDtcs, encodeDtc } from '../../../../hardware/obd/j1979/dtc.js';
import { ObdDecodeError } from '../../../../hardware/obd/j1979/errors.js';

const hex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ''), 'hex'));
const codeOf = (f: () => unknown): string | undefined => {
  try {
    f();
  } catch (err) {
    return err instanceof ObdDecodeError ? err.code : `untyped: ${String(err)}`;
  }
  return undefined;
};

t.test('the first two bits pick the system letter', (t) => {
  t.equal(decodeDtc(0x03, 0x01), 'P0301');
  t.equal(decodeDtc(0x01, 0x43), 'P0143');
  t.equal(decodeDtc(0x41, 0x23), 'C0123');
  t.equal(decodeDtc(0x92, 0x34), 'B1234');
  t.equal(decodeDtc(0xc1, 0x00), 'U0100');
  t.equal(decodeDtc(0x3f, 0xff), 'P3FFF');
  t.equal(decodeDtc(0x0a, 0x24), 'P0A24', 'hex digits stay hex');
  t.equal(decodeDtc(0, 0), null);
  t.end();
});

t.test('encodeDtc is the inverse', (t) => {
  fc.assert(fc.property(fc.integer({ min: 1, max: 0xffff }), (v) => {
    const code = decodeDtc(v >> 8, v & 0xff);
    return code !== null && Buffer.from(encodeDtc(code)).readUInt16BE(0) === v;
  }));
  t.throws(() => encodeDtc('X0301'));
  t.throws(() => encodeDtc('P4301'));
  t.end();
});

t.test('CAN: count byte then codes', (t) => {
  t.same(decodeDtcs(hex('06 01 43 01 96 02 34 02 CD 03 57 0A 24'), { can: true }), ['P0143', 'P0196', 'P0234', 'P02CD', 'P0357', 'P0A24'], 'ISO 15031-5 example');
  t.same(decodeDtcs(hex('00'), { can: true }), [], 'no DTCs');
  t.same(decodeDtcs(hex('02 03 01 C1 00'), { can: true }), ['P0301', 'U0100']);
  t.same(decodeDtcs(hex('01 03 01 00 00 00 00'), { can: true }), ['P0301'], 'zero padding after the announced codes');
  t.end();
});

t.test('CAN: a count that disagrees with the data is an error', (t) => {
  t.equal(codeOf(() => decodeDtcs(hex('02 03 01'), { can: true })), 'OBD_DTC_COUNT_MISMATCH', 'fewer codes than counted');
  t.equal(codeOf(() => decodeDtcs(hex('01 03 01 04 20'), { can: true })), 'OBD_DTC_COUNT_MISMATCH', 'more codes than counted');
  t.equal(codeOf(() => decodeDtcs(hex('02 03 01 00 00'), { can: true })), 'OBD_DTC_COUNT_MISMATCH', 'a counted code is 0000');
  t.equal(codeOf(() => decodeDtcs(hex('01 03 01 00 00 04 20'), { can: true })), 'OBD_DTC_COUNT_MISMATCH', 'a code hiding after padding');
  t.equal(codeOf(() => decodeDtcs(hex('01 03'), { can: true })), 'OBD_BAD_DTC_LENGTH');
  t.equal(codeOf(() => decodeDtcs(hex(''), { can: true })), 'OBD_EMPTY_PAYLOAD');
  t.end();
});

t.test('legacy: no count byte, 0000 pads each 3-code message', (t) => {
  t.same(decodeDtcs(hex('03 01 04 20 00 00'), { can: false }), ['P0301', 'P0420']);
  t.same(decodeDtcs(hex('00 00 00 00 00 00'), { can: false }), []);
  t.same(decodeDtcs(hex(''), { can: false }), []);
  // Two messages (4 codes) concatenated, the second padded.
  t.same(decodeDtcs(hex('01 43 01 96 02 34 03 57 00 00 00 00'), { can: false }), ['P0143', 'P0196', 'P0234', 'P0357']);
  t.equal(codeOf(() => decodeDtcs(hex('03 01 04'), { can: false })), 'OBD_BAD_DTC_LENGTH');
  t.end();
});

t.test('the same codes read the same on both layouts', (t) => {
  fc.assert(fc.property(fc.array(fc.integer({ min: 1, max: 0xffff }), { maxLength: 20 }), (values) => {
    const pairs = values.flatMap((v) => [v >> 8, v & 0xff]);
    const can = decodeDtcs(Uint8Array.of(values.length, ...pairs), { can: true });
    const legacy = decodeDtcs(Uint8Array.of(...pairs, 0, 0), { can: false });
    return can.length === values.length && can.join() === legacy.join();
  }));
  t.end();
});
