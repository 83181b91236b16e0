// Tests for the format dictionary, its wire encoding, the built-in formats and record value checks.
import t from 'tap';
import { BUILTIN_FORMATS, builtinFormatDictionary } from '../../protocol/builtin-formats.js';
import { FormatDictionary, decodeFormatDefinition, encodeFormatDefinition, type FormatDefinition } from '../../protocol/formats.js';
import { decodeRecordValue, encodeRecordValue, projectColumns } from '../../protocol/record-value.js';

const formats = builtinFormatDictionary();

t.test('the built-in formats are all there and round-trip through the wire encoding', (t) => {
  t.same(formats.list().map((f) => f.name).sort(), ['VIN_CODE', 'carvio', 'dtc', 'maintenance', 'obd-snapshot', 'plate-sighting', 'trip-gps']);
  for (const def of BUILTIN_FORMATS) t.same(decodeFormatDefinition(encodeFormatDefinition(def)), def, def.name);
  t.same(formats.get('trip-gps').key.map((f) => f.name), ['SESSION_ID', 'START_TIME', 'END_TIME']);
  t.end();
});

t.test('unknown formats and bad definitions are typed errors', (t) => {
  t.throws(() => formats.get('nope'), { code: 'FORMAT_UNKNOWN' });
  const base: FormatDefinition = { name: 'x', version: 1, description: '', key: [{ name: 'K', type: 'uint' }], columns: [] };
  t.throws(() => new FormatDictionary([{ ...base, name: '1bad' }]), { code: 'FORMAT_INVALID' });
  t.throws(() => new FormatDictionary([{ ...base, key: [] }]), { code: 'FORMAT_INVALID' });
  t.throws(() => new FormatDictionary([{ ...base, key: [{ name: 'K', type: 'uint' }, { name: 'K', type: 'int' }] }]), { code: 'FORMAT_INVALID' });
  t.throws(() => new FormatDictionary([{ ...base, version: 0 }]), { code: 'FORMAT_INVALID' });
  t.end();
});

t.test('upgrades must raise the version and keep the key schema', (t) => {
  const v1 = formats.get('VIN_CODE');
  const v2 = { ...v1, version: 2, columns: [...v1.columns, { name: 'plate', type: 'string' as const, required: false }] };
  t.equal(formats.with(v2).get('VIN_CODE').version, 2);
  t.equal(formats.get('VIN_CODE').version, 1, 'the original dictionary is unchanged');
  t.throws(() => formats.with({ ...v2, version: 1 }), { code: 'FORMAT_INVALID' });
  t.throws(() => formats.with({ ...v2, key: [{ name: 'OTHER', type: 'uint' }] }), { code: 'FORMAT_INVALID' });
  t.end();
});

t.test('format definition decoding rejects malformed bytes', (t) => {
  const good = encodeFormatDefinition(formats.get('dtc'));
  t.throws(() => decodeFormatDefinition(Uint8Array.of(2, ...good.subarray(1))), { code: 'UNSUPPORTED_VERSION' });
  t.throws(() => decodeFormatDefinition(good.subarray(0, good.length - 1)), { code: 'DECODE_TRUNCATED' });
  t.throws(() => decodeFormatDefinition(Uint8Array.of(...good, 0)), { code: 'DECODE_TRAILING_BYTES' });
  const badType = Uint8Array.from(good);
  // first key field's type byte follows: version, name, u16, description, count, field name
  const nameLen = good[1]!;
  const descLenAt = 2 + nameLen + 2;
  const fieldAt = descLenAt + 1 + good[descLenAt]! + 1;
  badType[fieldAt + 1 + good[fieldAt]!] = 9;
  t.throws(() => decodeFormatDefinition(badType), { code: 'DECODE_INVALID' });
  t.end();
});

t.test('values: deterministic CBOR, schema checks, projection', (t) => {
  const trip = formats.get('trip-gps');
  const value = { VID: 'LBVNU79049SB81546', len: 2, GPS: [{ lat: 31.25, lng: 121.44 }, { lat: 31.26, lng: 121.45 }], SPEED: [0, 23] };
  const a = encodeRecordValue(trip, value);
  const b = encodeRecordValue(trip, { SPEED: [0, 23], GPS: value.GPS, len: 2, VID: value.VID });
  t.same(a, b, 'key order does not change the bytes');
  t.same(decodeRecordValue(trip, a), value);
  t.same(projectColumns(trip, value, ['VID', 'SPEED', 'MAX_SPEED']), { VID: value.VID, SPEED: [0, 23] });
  t.throws(() => projectColumns(trip, value, ['nope']), { code: 'VALUE_SCHEMA_MISMATCH' });
  t.throws(() => encodeRecordValue(trip, { ...value, VID: 5 }), { code: 'VALUE_SCHEMA_MISMATCH' });
  t.throws(() => encodeRecordValue(trip, { len: 2, GPS: [], SPEED: [] }), { code: 'VALUE_SCHEMA_MISMATCH' }, 'required VID');
  t.throws(() => encodeRecordValue(trip, { ...value, extra: 1 }), { code: 'VALUE_SCHEMA_MISMATCH' }, 'unknown column');
  t.throws(() => encodeRecordValue(trip, { ...value, MAX_SPEED: Number.NaN }), { code: 'VALUE_SCHEMA_MISMATCH' }, 'NaN');
  t.throws(() => decodeRecordValue(trip, Uint8Array.of(0xff)), { code: 'DECODE_INVALID' });
  t.throws(() => decodeRecordValue(trip, Uint8Array.of(0x01)), { code: 'DECODE_INVALID' }, 'not a map');
  t.throws(() => decodeRecordValue(trip, Uint8Array.of(0x18, 0x01)), { code: 'DECODE_INVALID' }, 'non-minimal integer');
  t.throws(() => decodeRecordValue(trip, Uint8Array.of(0xa2, 0x61, 0x61, 0x01, 0x61, 0x61, 0x02)), { code: 'DECODE_INVALID' }, 'duplicate keys');
  t.end();
});
