// Tests for the order-preserving key encoding: byte order equals key order (property), sentinels, round trips, rejections.
import t from 'tap';
import fc from 'fast-check';
import {
  INF_MAX, INF_MIN, compareKeyValues, decodeRecordKey, encodeKeyBound, encodeRecordKey, readKeyFormat,
  type KeyField, type KeyValue, type RecordKey,
} from '../../protocol/key-encoding.js';
import { compareBytes } from '../../protocol/wire.js';

const schema: KeyField[] = [
  { name: 'A', type: 'uint' },
  { name: 'B', type: 'int' },
  { name: 'C', type: 'string' },
  { name: 'D', type: 'bytes' },
];

// Small alphabets make equal prefixes (and embedded 0x00 bytes) common, which is where order bugs hide.
const arbKey: fc.Arbitrary<RecordKey> = fc.record({
  A: fc.oneof(fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), fc.integer({ min: 0, max: 5 })),
  B: fc.oneof(fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }), fc.integer({ min: -3, max: 3 })),
  C: fc.oneof(fc.string({ unit: fc.constantFrom('a', 'b', '\u0000', '\u00ff', '京', '😀'), maxLength: 5 }), fc.string({ unit: 'grapheme', maxLength: 8 })),
  D: fc.uint8Array({ maxLength: 5, max: 2 }),
});

function compareKeys(a: RecordKey, b: RecordKey): number {
  for (const field of schema) {
    const c = compareKeyValues(field.type, a[field.name] as KeyValue, b[field.name] as KeyValue);
    if (c !== 0) return c;
  }
  return 0;
}

t.test('property: for random keys, byte order equals key order', (t) => {
  fc.assert(
    fc.property(arbKey, arbKey, (a, b) => {
      const byBytes = compareBytes(encodeRecordKey('f', schema, a), encodeRecordKey('f', schema, b));
      return Math.sign(byBytes) === Math.sign(compareKeys(a, b));
    }),
    { numRuns: 20_000 },
  );
  t.pass('20,000 random pairs agree');
  t.end();
});

t.test('property: encode → decode round-trips', (t) => {
  fc.assert(
    fc.property(arbKey, (key) => {
      const { format, key: back } = decodeRecordKey(schema, encodeRecordKey('trip-gps', schema, key));
      return format === 'trip-gps' && compareKeys(key, back) === 0;
    }),
    { numRuns: 5_000 },
  );
  t.pass('5,000 round trips');
  t.end();
});

t.test('property: INF_MIN / INF_MAX bound every key with the same prefix', (t) => {
  fc.assert(
    fc.property(arbKey, fc.integer({ min: 0, max: 3 }), (key, at) => {
      const prefix = Object.fromEntries(schema.slice(0, at).map((f) => [f.name, key[f.name]!]));
      const encoded = encodeRecordKey('f', schema, key);
      const low = encodeKeyBound('f', schema, { ...prefix, [schema[at]!.name]: INF_MIN });
      const high = encodeKeyBound('f', schema, { ...prefix, [schema[at]!.name]: INF_MAX });
      return compareBytes(low, encoded) < 0 && compareBytes(encoded, high) < 0;
    }),
    { numRuns: 5_000 },
  );
  t.pass('sentinels bracket keys');
  t.end();
});

t.test('the API sketch range: one session, END_TIME up to INF_MAX', (t) => {
  const trip: KeyField[] = [{ name: 'SESSION_ID', type: 'uint' }, { name: 'START_TIME', type: 'uint' }, { name: 'END_TIME', type: 'uint' }];
  const start = encodeKeyBound('trip-gps', trip, { SESSION_ID: 1, START_TIME: 20160511071428, END_TIME: 20160511094623 });
  const end = encodeKeyBound('trip-gps', trip, { SESSION_ID: 1, START_TIME: 20160511071428, END_TIME: INF_MAX });
  const later = encodeRecordKey('trip-gps', trip, { SESSION_ID: 1, START_TIME: 20160511071428, END_TIME: 20160512000000 });
  const nextSession = encodeRecordKey('trip-gps', trip, { SESSION_ID: 2, START_TIME: 0, END_TIME: 0 });
  t.ok(compareBytes(start, later) < 0 && compareBytes(later, end) < 0, 'a later END_TIME is inside');
  t.ok(compareBytes(end, nextSession) < 0, 'the next session is outside');
  t.equal(Buffer.from(start).toString('hex'), '747269702d67707300010100000000000000010100001255fc19d4c40100001255fc1a2f5f', 'pinned bytes');
  t.equal(readKeyFormat(end), 'trip-gps');
  t.end();
});

t.test('formats do not interleave: a format name is a prefix-free first element', (t) => {
  const one: KeyField[] = [{ name: 'K', type: 'uint' }];
  const a = encodeRecordKey('dtc', one, { K: 2n ** 64n - 1n });
  const b = encodeRecordKey('dtca', one, { K: 0 });
  const max = encodeKeyBound('dtc', one, { K: INF_MAX });
  t.ok(compareBytes(a, max) < 0 && compareBytes(max, b) < 0);
  t.end();
});

t.test('bad keys are typed errors', (t) => {
  const s: KeyField[] = [{ name: 'N', type: 'uint' }, { name: 'S', type: 'string' }];
  t.throws(() => encodeRecordKey('f', s, { N: 1 }), { code: 'KEY_SCHEMA_MISMATCH' }, 'missing field');
  t.throws(() => encodeRecordKey('f', s, { N: 1, S: 'x', Z: 1 }), { code: 'KEY_SCHEMA_MISMATCH' }, 'unknown field');
  t.throws(() => encodeRecordKey('f', s, { N: -1, S: 'x' }), { code: 'KEY_SCHEMA_MISMATCH' }, 'negative uint');
  t.throws(() => encodeRecordKey('f', s, { N: 1.5, S: 'x' }), { code: 'KEY_SCHEMA_MISMATCH' }, 'fraction');
  t.throws(() => encodeRecordKey('f', s, { N: 2n ** 64n, S: 'x' }), { code: 'KEY_SCHEMA_MISMATCH' }, 'overflow');
  t.throws(() => encodeRecordKey('f', s, { N: 1, S: 5 }), { code: 'KEY_SCHEMA_MISMATCH' }, 'wrong type');
  t.throws(() => encodeRecordKey('f', s, { N: 1, S: '\ud800' }), { code: 'KEY_SCHEMA_MISMATCH' }, 'lone surrogate');
  t.throws(() => encodeRecordKey('f', s, { N: INF_MAX, S: 'x' } as unknown as RecordKey), { code: 'KEY_SCHEMA_MISMATCH' }, 'sentinel in a record key');
  t.throws(() => encodeRecordKey('f', s, { N: 1, S: 'x'.repeat(2000) }), { code: 'KEY_SCHEMA_MISMATCH' }, 'too long');
  const good = encodeRecordKey('f', s, { N: 1, S: 'x' });
  t.throws(() => decodeRecordKey(s, good.subarray(0, good.length - 1)), { code: 'DECODE_TRUNCATED' });
  t.throws(() => decodeRecordKey(s, Uint8Array.of(...good, 0)), { code: 'DECODE_TRAILING_BYTES' });
  t.throws(() => decodeRecordKey(s, encodeKeyBound('f', s, { N: INF_MAX })), { code: 'DECODE_INVALID' }, 'sentinel in stored key');
  t.throws(() => decodeRecordKey(s, Uint8Array.of(0x66, 0x00, 0x02)), { code: 'DECODE_INVALID' }, 'bad escape');
  t.throws(() => decodeRecordKey(s, Uint8Array.of(0xc3, 0x28, 0x00, 0x01)), { code: 'DECODE_INVALID' }, 'bad UTF-8');
  t.end();
});
