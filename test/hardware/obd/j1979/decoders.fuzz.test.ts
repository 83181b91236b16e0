// Property tests: on arbitrary bytes every J1979 decoder returns a value or throws ObdDecodeError — nothing else.
import t from 'tap';
import fc from 'fast-check';
import { decodeDtcs } from '../../../../hardware/obd/j1979/dtc.js';
import { ObdDecodeError } from '../../../../hardware/obd/j1979/errors.js';
import { decodeMode01, decodeMode02 } from '../../../../hardware/obd/j1979/mode01.js';
import { mode01Pid } from '../../../../hardware/obd/j1979/mode01-pids.js';
import { decodeCalibrationIds, decodeCvns, decodeMode09Supported, decodeVin } from '../../../../hardware/obd/j1979/mode09.js';

const RUNS = 5_000;
const seed = Number(process.env.CARCHAIN_FUZZ_SEED ?? 0x0bd2);
t.comment(`fast-check seed ${seed}`);

/** Runs `f`; true when it returned or threw an ObdDecodeError. */
const onlyTypedErrors = (f: () => unknown): boolean => {
  try {
    f();
    return true;
  } catch (err) {
    return err instanceof ObdDecodeError;
  }
};

// Mostly known PIDs followed by plausible data, so the walk gets past the first item.
const pidItem = fc.oneof(
  fc.constantFrom(0x0c, 0x0d, 0x05, 0x24, 0x68, 0x7f, 0x81, 0xa6, 0xc4, 0x00).chain((pid) =>
    fc.uint8Array({ minLength: 0, maxLength: (mode01Pid(pid)?.bytes ?? 4) + 1 }).map((d) => [pid, ...d])),
  fc.uint8Array({ minLength: 1, maxLength: 6 }).map((d) => Array.from(d)),
);
const payload = fc.oneof(fc.uint8Array({ maxLength: 48 }), fc.array(pidItem, { maxLength: 6 }).map((items) => Uint8Array.from(items.flat())));

t.test('decodeMode01 on random bytes only ever throws ObdDecodeError', (t) => {
  fc.assert(fc.property(payload, (p) => onlyTypedErrors(() => decodeMode01(p))), { numRuns: RUNS, seed });
  t.pass('held');
  t.end();
});

t.test('a successful decodeMode01 consumes the payload exactly', (t) => {
  fc.assert(fc.property(payload, (p) => {
    let readings;
    try {
      readings = decodeMode01(p);
    } catch {
      return true;
    }
    return readings.reduce((n, r) => n + 1 + r.raw.length, 0) === p.length;
  }), { numRuns: RUNS, seed });
  t.pass('held');
  t.end();
});

t.test('mode 02, DTC and mode 09 decoders only ever throw ObdDecodeError', (t) => {
  const bytes = fc.uint8Array({ maxLength: 48 });
  fc.assert(fc.property(payload, (p) => onlyTypedErrors(() => decodeMode02(p))), { numRuns: RUNS, seed });
  fc.assert(fc.property(bytes, fc.boolean(), (p, can) => onlyTypedErrors(() => decodeDtcs(p, { can }))), { numRuns: RUNS, seed });
  const mode09 = fc.oneof(bytes, fc.array(bytes, { maxLength: 6 }), fc.constantFrom(2, 4, 6).chain((inf) =>
    fc.array(fc.uint8Array({ minLength: 4, maxLength: 4 }), { minLength: 1, maxLength: 8 }).map((frames) => frames.map((f, i) => Uint8Array.of(inf, i + 1, ...f)))));
  fc.assert(fc.property(mode09, (r) => onlyTypedErrors(() => decodeVin(r))), { numRuns: RUNS, seed });
  fc.assert(fc.property(mode09, (r) => onlyTypedErrors(() => decodeCalibrationIds(r))), { numRuns: RUNS, seed });
  fc.assert(fc.property(mode09, (r) => onlyTypedErrors(() => decodeCvns(r))), { numRuns: RUNS, seed });
  fc.assert(fc.property(bytes, (p) => onlyTypedErrors(() => decodeMode09Supported(p))), { numRuns: RUNS, seed });
  t.pass('held');
  t.end();
});
