// The grant coverage rule: format from the encoded key, day from the time key field or from when the gateway stored the record.
import t from 'tap';
import { coversRecord, recordDay } from '../../../gateway/api/grant-coverage.js';
import { builtinFormatDictionary } from '../../../protocol/builtin-formats.js';
import { encodeRecordKey } from '../../../protocol/key-encoding.js';

const formats = builtinFormatDictionary();
const key = (format: string, fields: Record<string, number | string>) => encodeRecordKey(format, formats.get(format).key, fields);
const storedAt = Date.UTC(2026, 10, 25, 23, 59);

t.test('a record\'s day', (t) => {
  t.equal(recordDay(formats, key('dtc', { TIME: 20261120235959, SESSION_ID: 1 }), storedAt), 20261120, 'TIME');
  t.equal(recordDay(formats, key('trip-gps', { SESSION_ID: 1, START_TIME: 20261120233000, END_TIME: 20261121003000 }), storedAt), 20261120, 'a trip across midnight belongs to its start');
  t.equal(recordDay(formats, key('carvio', { CARVIO_ID: 5 }), storedAt), 20261125, 'no time field: the day it was stored');
  t.equal(recordDay(formats, key('obd-snapshot', { TIME: 42, SEQ: 1 }), storedAt), 20261125, 'a time field that is not a date: the day it was stored');
  t.end();
});

t.test('coverage', (t) => {
  const terms = { fromDay: 20261119, toDay: 20261121, formats: ['dtc', 'carvio'] };
  t.equal(coversRecord(terms, formats, key('dtc', { TIME: 20261119000000, SESSION_ID: 1 }), storedAt), true, 'first day');
  t.equal(coversRecord(terms, formats, key('dtc', { TIME: 20261121235959, SESSION_ID: 1 }), storedAt), true, 'last day');
  t.equal(coversRecord(terms, formats, key('dtc', { TIME: 20261122000000, SESSION_ID: 1 }), storedAt), false, 'the day after');
  t.equal(coversRecord(terms, formats, key('dtc', { TIME: 20261118235959, SESSION_ID: 1 }), storedAt), false, 'the day before');
  t.equal(coversRecord(terms, formats, key('obd-snapshot', { TIME: 20261120000000, SEQ: 1 }), storedAt), false, 'another format');
  t.equal(coversRecord(terms, formats, key('carvio', { CARVIO_ID: 1 }), Date.UTC(2026, 10, 20)), true, 'stored on a granted day');
  t.equal(coversRecord(terms, formats, key('carvio', { CARVIO_ID: 1 }), storedAt), false, 'stored after the range');
  t.equal(coversRecord(terms, formats, Uint8Array.of(0xff, 0xfe), storedAt), false, 'a key that does not decode is not covered');
  t.end();
});
