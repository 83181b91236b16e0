// The formats every chain starts with (genesis): trips, violations, VINs, DTCs, OBD snapshots, sightings, maintenance.
//
// Times in keys are UTC `YYYYMMDDhhmmss` integers as in the original API sketch, so keys read naturally
// and sort chronologically. Every value carries VID so the owner can double-check a decrypted record.
import { FormatDictionary, type ColumnDefinition, type ColumnType, type FormatDefinition } from './formats.js';
import type { KeyField, KeyFieldType } from './key-encoding.js';

const key = (...fields: [string, KeyFieldType][]): KeyField[] => fields.map(([name, type]) => ({ name, type }));
const columns = (...cols: [string, ColumnType, 'required'?][]): ColumnDefinition[] =>
  cols.map(([name, type, required]) => ({ name, type, required: required === 'required' }));

export const BUILTIN_FORMATS: readonly FormatDefinition[] = [
  {
    name: 'trip-gps',
    version: 1,
    description: 'A trip from ignition on to off: GPS track, speed series and statistics',
    key: key(['SESSION_ID', 'uint'], ['START_TIME', 'uint'], ['END_TIME', 'uint']),
    columns: columns(
      ['VID', 'string', 'required'],
      ['VEHICLE_DATA', 'uint'],
      ['len', 'uint', 'required'],
      ['GPS', 'array', 'required'], // [{lat, lng, t?}] in WGS84 degrees, t = ms since epoch
      ['SPEED', 'array', 'required'], // km/h, one entry per GPS point
      ['DISTANCE_M', 'number'],
      ['DURATION_S', 'number'],
      ['MAX_SPEED', 'number'],
      ['AVG_SPEED', 'number'],
      ['EVENTS', 'array'], // harsh acceleration / braking / speeding: [{type, t, lat, lng, value}]
    ),
  },
  {
    name: 'carvio',
    version: 1,
    description: 'A traffic violation notice for the vehicle',
    key: key(['CARVIO_ID', 'uint']),
    columns: columns(
      ['VID', 'string', 'required'],
      ['VEHICLE_DATA', 'uint'],
      ['datetime', 'uint', 'required'],
      ['loc', 'object'],
      ['viotype', 'string', 'required'],
      ['price', 'number'],
      ['point', 'int'],
    ),
  },
  {
    name: 'VIN_CODE',
    version: 1,
    description: "The vehicle's VIN, read over OBD mode 09 or entered in the wallet",
    key: key(['VEHICLE_DATA', 'uint']),
    columns: columns(['VIN', 'string', 'required'], ['VID', 'string'], ['source', 'string']),
  },
  {
    name: 'dtc',
    version: 1,
    description: 'Diagnostic trouble codes seen at a time (modes 03/07/0A)',
    key: key(['TIME', 'uint'], ['SESSION_ID', 'uint']),
    columns: columns(
      ['VID', 'string', 'required'],
      ['stored', 'array', 'required'],
      ['pending', 'array'],
      ['permanent', 'array'],
      ['mil', 'bool'],
      ['loc', 'object'],
    ),
  },
  {
    name: 'obd-snapshot',
    version: 1,
    description: 'A set of decoded mode-01 PID values at one time',
    key: key(['TIME', 'uint'], ['SEQ', 'uint']),
    columns: columns(['VID', 'string', 'required'], ['pids', 'object', 'required'], ['loc', 'object']),
  },
  {
    name: 'plate-sighting',
    version: 1,
    description: "A CAIT terminal's sighting of an authorised vehicle's plate",
    key: key(['TIME', 'uint'], ['TERMINAL', 'string']),
    columns: columns(
      ['VID', 'string', 'required'],
      ['plate', 'string', 'required'],
      ['confidence', 'number', 'required'],
      ['shop', 'string'],
      ['loc', 'object'],
    ),
  },
  {
    name: 'maintenance',
    version: 1,
    description: 'A maintenance job written by a repair shop under a WriteGrant',
    key: key(['TIME', 'uint'], ['SHOP', 'string'], ['JOB_ID', 'uint']),
    columns: columns(
      ['VID', 'string', 'required'],
      ['mileage_km', 'number', 'required'],
      ['work', 'string', 'required'],
      ['parts', 'array'],
      ['shop', 'string', 'required'],
      ['technician', 'string'],
    ),
  },
];

/** A moment as the UTC `YYYYMMDDhhmmss` integer the built-in formats use in keys and values. */
export function timeKey(ms: number): number {
  const d = new Date(ms);
  if (!Number.isFinite(d.getTime()) || d.getUTCFullYear() < 1970 || d.getUTCFullYear() > 9999) {
    throw new RangeError(`timeKey: ${ms} is outside 1970..9999`);
  }
  const two = (n: number) => String(n).padStart(2, '0');
  return Number(`${d.getUTCFullYear()}${two(d.getUTCMonth() + 1)}${two(d.getUTCDate())}${two(d.getUTCHours())}${two(d.getUTCMinutes())}${two(d.getUTCSeconds())}`);
}

export function builtinFormatDictionary(): FormatDictionary {
  return new FormatDictionary(BUILTIN_FORMATS);
}
