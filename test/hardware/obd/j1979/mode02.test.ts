// Mode 02 freeze frames: every item is `pid frame data`, and the frame number travels with the reading.
import t from 'tap';
import { ObdDecodeError } from '../../../../hardware/obd/j1979/errors.js';
import { decodeMode02 } from '../../../../hardware/obd/j1979/mode01.js';

const hex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ''), 'hex'));
const codeOf = (f: () => unknown): string | undefined => {
  try {
    f();
  } catch (err) {
    return err instanceof ObdDecodeError ? err.code : `untyped: ${String(err)}`;
  }
  return undefined;
};

t.test('the frame byte is not data (python-OBD reads 42 0C 00 1A F8 as 6.5 rpm)', (t) => {
  const [rpm] = decodeMode02(hex('0C 00 1A F8'));
  t.match(rpm, { pid: 0x0c, name: 'RPM', value: 1726, frame: 0, unit: 'rpm' });
  t.match(decodeMode02(hex('0C 01 0B B8'))[0], { value: 750, frame: 1 }, 'frame 1 is reported as frame 1');
  t.end();
});

t.test('PID 02: the DTC that stored the freeze frame', (t) => {
  t.match(decodeMode02(hex('02 00 03 01'))[0], { name: 'FREEZE_DTC', value: { dtc: 'P0301' }, frame: 0 });
  t.match(decodeMode02(hex('02 00 C1 00'))[0], { value: { dtc: 'U0100' } });
  t.match(decodeMode02(hex('02 00 00 00'))[0], { value: { dtc: null } }, '0000: no freeze frame stored');
  t.end();
});

t.test('several PIDs of one frame in one CAN response', (t) => {
  const readings = decodeMode02(hex('02 00 03 01 0C 00 1A F8 0D 00 32 05 00 7B'));
  t.same(readings.map((r) => [r.name, r.frame, r.value]), [
    ['FREEZE_DTC', 0, { dtc: 'P0301' }], ['RPM', 0, 1726], ['SPEED', 0, 50], ['COOLANT_TEMP', 0, 83],
  ]);
  t.end();
});

t.test('truncated or unknown items are typed errors', (t) => {
  t.equal(codeOf(() => decodeMode02(hex(''))), 'OBD_EMPTY_PAYLOAD');
  t.equal(codeOf(() => decodeMode02(hex('0C'))), 'OBD_SHORT_DATA', 'no frame number');
  t.equal(codeOf(() => decodeMode02(hex('0C 00 1A'))), 'OBD_SHORT_DATA', 'short data');
  t.equal(codeOf(() => decodeMode02(hex('0C 1A F8'))), 'OBD_SHORT_DATA', 'a mode 01 payload is not a freeze frame');
  t.equal(codeOf(() => decodeMode02(hex('C2 00 00'))), 'OBD_UNKNOWN_PID');
  t.end();
});
