// The format dictionary: each record format's key schema and value columns, and its wire encoding.
//
// The dictionary lives on the chain (FormatRegister transactions; genesis carries BUILTIN_FORMATS).
// A gateway needs only the key schema (it never sees values); devices and wallets check values.
import { ProtocolError } from './errors.js';
import type { KeyField, KeyFieldType } from './key-encoding.js';
import { ByteReader, ByteWriter, expectVersion } from './wire.js';

export type ColumnType = 'uint' | 'int' | 'number' | 'string' | 'bytes' | 'bool' | 'array' | 'object';

export interface ColumnDefinition {
  name: string;
  type: ColumnType;
  required: boolean;
}

export interface FormatDefinition {
  name: string;
  /** Bumped when columns are added; the key schema of a name never changes. */
  version: number;
  description: string;
  key: readonly KeyField[];
  columns: readonly ColumnDefinition[];
}

export const FORMAT_DEFINITION_VERSION = 1;
const NAME_PATTERN = /^[A-Za-z][A-Za-z0-9_-]{0,63}$/;
const MAX_KEY_FIELDS = 8;
const MAX_COLUMNS = 64;
const MAX_DESCRIPTION_BYTES = 512;
const KEY_TYPES: readonly KeyFieldType[] = ['uint', 'int', 'string', 'bytes'];
const COLUMN_TYPES: readonly ColumnType[] = ['uint', 'int', 'number', 'string', 'bytes', 'bool', 'array', 'object'];

/** Checks a definition's shape; FORMAT_INVALID names the first problem. */
export function validateFormatDefinition(def: FormatDefinition): FormatDefinition {
  const bad = (why: string) => new ProtocolError('FORMAT_INVALID', `format ${def.name}: ${why}`);
  if (!NAME_PATTERN.test(def.name)) throw bad('name must match [A-Za-z][A-Za-z0-9_-]{0,63}');
  if (!Number.isInteger(def.version) || def.version < 1 || def.version > 0xffff) throw bad('version must be 1..65535');
  if (def.key.length < 1 || def.key.length > MAX_KEY_FIELDS) throw bad(`needs 1..${MAX_KEY_FIELDS} key fields`);
  if (def.columns.length > MAX_COLUMNS) throw bad(`has more than ${MAX_COLUMNS} columns`);
  const names = new Set<string>();
  for (const field of def.key) {
    if (!NAME_PATTERN.test(field.name)) throw bad(`key field name ${field.name} is not allowed`);
    if (!KEY_TYPES.includes(field.type)) throw bad(`key field ${field.name} has unknown type ${String(field.type)}`);
    if (names.has(field.name)) throw bad(`duplicate name ${field.name}`);
    names.add(field.name);
  }
  const columnNames = new Set<string>();
  for (const column of def.columns) {
    if (!NAME_PATTERN.test(column.name)) throw bad(`column name ${column.name} is not allowed`);
    if (!COLUMN_TYPES.includes(column.type)) throw bad(`column ${column.name} has unknown type ${String(column.type)}`);
    if (columnNames.has(column.name)) throw bad(`duplicate column ${column.name}`);
    columnNames.add(column.name);
  }
  if (new TextEncoder().encode(def.description).length > MAX_DESCRIPTION_BYTES) throw bad('description is too long');
  return def;
}

/** An immutable name → definition map. `with` returns a new dictionary (chain state is versioned). */
export class FormatDictionary {
  private readonly byName: ReadonlyMap<string, FormatDefinition>;

  constructor(definitions: Iterable<FormatDefinition>) {
    const map = new Map<string, FormatDefinition>();
    for (const def of definitions) map.set(def.name, validateFormatDefinition(def));
    this.byName = map;
  }

  has(name: string): boolean {
    return this.byName.has(name);
  }

  /** Throws FORMAT_UNKNOWN for a name the dictionary does not hold. */
  get(name: string): FormatDefinition {
    const def = this.byName.get(name);
    if (!def) throw new ProtocolError('FORMAT_UNKNOWN', `format ${JSON.stringify(name)} is not in the dictionary`);
    return def;
  }

  list(): FormatDefinition[] {
    return [...this.byName.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /**
   * Adds or upgrades a format. An upgrade must keep the key schema (records already filed under it
   * would otherwise become undecodable) and raise the version.
   */
  with(def: FormatDefinition): FormatDictionary {
    validateFormatDefinition(def);
    const current = this.byName.get(def.name);
    if (current) {
      if (def.version <= current.version) {
        throw new ProtocolError('FORMAT_INVALID', `format ${def.name}: version ${def.version} does not raise ${current.version}`);
      }
      const sameKey = current.key.length === def.key.length && current.key.every((f, i) => f.name === def.key[i]!.name && f.type === def.key[i]!.type);
      if (!sameKey) throw new ProtocolError('FORMAT_INVALID', `format ${def.name}: the key schema of a format can never change`);
    }
    return new FormatDictionary([...this.byName.values(), def]);
  }
}

export function encodeFormatDefinition(def: FormatDefinition): Uint8Array {
  validateFormatDefinition(def);
  const w = new ByteWriter().u8(FORMAT_DEFINITION_VERSION).string(def.name).u16(def.version).string(def.description);
  w.varint(def.key.length);
  for (const field of def.key) w.string(field.name).u8(KEY_TYPES.indexOf(field.type));
  w.varint(def.columns.length);
  for (const column of def.columns) w.string(column.name).u8(COLUMN_TYPES.indexOf(column.type)).u8(column.required ? 1 : 0);
  return w.finish();
}

export function decodeFormatDefinition(bytes: Uint8Array): FormatDefinition {
  const r = new ByteReader(bytes, 'format definition');
  expectVersion(r, FORMAT_DEFINITION_VERSION, 'format definition');
  const name = r.string(64, 'name');
  const version = r.u16();
  const description = r.string(MAX_DESCRIPTION_BYTES, 'description');
  const key: KeyField[] = [];
  for (let i = r.count(MAX_KEY_FIELDS, 'key fields'); i > 0; i--) {
    const fieldName = r.string(64, 'key field name');
    key.push({ name: fieldName, type: enumByte(r, KEY_TYPES, 'key field type') });
  }
  const columns: ColumnDefinition[] = [];
  for (let i = r.count(MAX_COLUMNS, 'columns'); i > 0; i--) {
    const columnName = r.string(64, 'column name');
    const type = enumByte(r, COLUMN_TYPES, 'column type');
    const flags = r.u8();
    if (flags > 1) throw new ProtocolError('DECODE_INVALID', `format definition: column flags 0x${flags.toString(16)}`);
    columns.push({ name: columnName, type, required: flags === 1 });
  }
  r.end();
  try {
    return validateFormatDefinition({ name, version, description, key, columns });
  } catch (err) {
    if (err instanceof ProtocolError) throw new ProtocolError('DECODE_INVALID', err.message, { cause: err });
    throw err;
  }
}

function enumByte<T>(r: ByteReader, values: readonly T[], what: string): T {
  const index = r.u8();
  const value = values[index];
  if (value === undefined) throw new ProtocolError('DECODE_INVALID', `format definition: unknown ${what} ${index}`);
  return value;
}
