// The mode-01 PID table itself: coverage 0x00–0xC4, unique names, and every row decoded at its declared length.
import { readFileSync } from 'node:fs';
import t from 'tap';
import { decodeMode01, decodeMode02, decodePid } from '../../../../hardware/obd/j1979/mode01.js';
import { MODE01_BITMAP_PIDS, MODE01_PID_TABLE, mode01Pid, mode01PidByName } from '../../../../hardware/obd/j1979/mode01-pids.js';

/** Deterministic, non-trivial data bytes for a row: every support bit set so every value is decoded. */
const sample = (pid: number, length: number): Uint8Array => Uint8Array.from({ length }, (_, i) => (i === 0 ? 0xff : (pid * 31 + i * 17) & 0xff));

/** Every number inside a decoded value, however nested. */
function numbersIn(value: unknown): number[] {
  if (typeof value === 'number') return [value];
  if (value === null || typeof value !== 'object') return [];
  return Object.values(value).flatMap(numbersIn);
}

t.test('the table covers the standard range', (t) => {
  const pids = MODE01_PID_TABLE.map((e) => e.pid);
  t.same(pids, [...pids].sort((a, b) => a - b), 'sorted by PID');
  t.equal(new Set(pids).size, pids.length, 'no duplicate PIDs');
  t.equal(new Set(MODE01_PID_TABLE.map((e) => e.name)).size, pids.length, 'no duplicate names');
  for (let pid = 0x00; pid <= 0x94; pid++) t.ok(mode01Pid(pid), `0x${pid.toString(16)} defined`);
  for (const pid of [0x98, 0x9f, 0xa0, 0xa9, 0xc0, 0xc3, 0xc4]) t.ok(mode01Pid(pid), `0x${pid.toString(16)} defined`);
  for (const pid of [0x95, 0x96, 0x97, 0xaa, 0xbf, 0xc1, 0xc2, 0xc5, 0xff]) t.notOk(mode01Pid(pid), `0x${pid.toString(16)} not standard`);
  for (const base of MODE01_BITMAP_PIDS) t.equal(mode01Pid(base)?.bytes, 4, `bitmap 0x${base.toString(16)}`);
  t.ok(MODE01_PID_TABLE.length > 0x60, 'well beyond python-OBD’s 0x00–0x5F');
  for (const name of ['RPM', 'SPEED', 'COOLANT_TEMP', 'MAF', 'FUEL_LEVEL', 'THROTTLE_POS', 'ENGINE_LOAD', 'INTAKE_TEMP', 'ODOMETER']) {
    t.ok(mode01PidByName(name), `${name} present`);
  }
  for (const e of MODE01_PID_TABLE) {
    t.match(e.name, /^[A-Z][A-Z0-9_]*$/, `${e.name} is SCREAMING_SNAKE`);
    t.ok(e.bytes >= 1 && e.description.length > 0 && e.formula.length > 0, `${e.name} row complete`);
  }
  t.end();
});

t.test('every row decodes a payload of its declared length', (t) => {
  for (const e of MODE01_PID_TABLE) {
    const data = sample(e.pid, e.bytes);
    const [reading, ...rest] = decodeMode01(Uint8Array.of(e.pid, ...data));
    t.equal(rest.length, 0, `${e.name}: one reading`);
    t.match(reading, { pid: e.pid, name: e.name, unit: e.unit }, `${e.name}: identity`);
    t.same(Array.from(reading?.raw ?? []), Array.from(data), `${e.name}: raw`);
    const numbers = numbersIn(reading?.value);
    t.ok(numbers.every(Number.isFinite), `${e.name}: finite numbers`);
    if (typeof reading?.value !== 'number') t.ok(reading?.value !== null && typeof reading?.value === 'object', `${e.name}: number or object`);
    if (e.raw) t.same(reading?.value, { hex: Buffer.from(data).toString('hex') }, `${e.name}: raw layout keeps the bytes`);
    t.same(decodePid(e.pid, data).value, reading?.value, `${e.name}: decodePid agrees`);
    // And in the middle of a multi-PID response, followed by RPM, and inside a freeze frame.
    const walked = decodeMode01(Uint8Array.of(e.pid, ...data, 0x0c, 0x1a, 0xf8));
    t.same(walked.map((r) => r.pid), [e.pid, 0x0c], `${e.name}: walked in a multi-PID response`);
    t.same(decodeMode02(Uint8Array.of(e.pid, 0x01, ...data))[0]?.value, reading?.value, `${e.name}: same value in mode 02`);
    for (const alt of e.altBytes ?? []) {
      t.equal(decodeMode01(Uint8Array.of(e.pid, ...sample(e.pid, alt))).length, 1, `${e.name}: alternative length ${alt}`);
    }
  }
  t.end();
});

t.test('docs/obd-decoding.md lists every row', (t) => {
  const doc = readFileSync(new URL('../../../../docs/obd-decoding.md', import.meta.url), 'utf8');
  for (const e of MODE01_PID_TABLE) {
    const hex = e.pid.toString(16).toUpperCase().padStart(2, '0');
    t.ok(doc.includes(`| ${hex} | ${e.name} |`), `${hex} ${e.name} documented`);
  }
  t.end();
});
