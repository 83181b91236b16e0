// Records (putIotKV / putWalKV): a sealed value filed under (pool address, encoded key), its id and wire form.
import type { KeyObject } from 'node:crypto';
import { decodeAddress } from './address.js';
import { MAX_ENVELOPE_BYTES, decodeEnvelope, encodeEnvelope, openValue, sealValue, type Envelope, type EnvelopeSlot } from './envelope.js';
import { ProtocolError } from './errors.js';
import type { FormatDefinition, FormatDictionary } from './formats.js';
import { taggedHash } from './hash.js';
import { decodeRecordKey, encodeRecordKey, readKeyFormat, MAX_ENCODED_KEY_BYTES, type KeyValue, type RecordKey } from './key-encoding.js';
import { leafHash } from './merkle.js';
import { decodeRecordValue, encodeRecordValue, type RecordValue } from './record-value.js';
import { ByteReader, ByteWriter, expectVersion } from './wire.js';

export const RECORD_VERSION = 1;
const MAX_ADDRESS_CHARS = 64;

export interface SealedRecord {
  /** The pool address the record is filed under. */
  address: string;
  /** Order-preserving key: format name, then the format's key fields (key-encoding.ts). */
  encodedKey: Uint8Array;
  envelope: Envelope;
}

export interface OpenedRecord {
  format: string;
  key: Record<string, KeyValue>;
  value: RecordValue;
}

/** Record id = H(address ‖ encoded key); at most one record per id. */
export function recordId(address: string, encodedKey: Uint8Array): Uint8Array {
  return taggedHash('carchain/v1/record-id', new ByteWriter().string(address).raw(encodedKey).finish());
}

export function recordFormat(record: Pick<SealedRecord, 'encodedKey'>): string {
  return readKeyFormat(record.encodedKey);
}

function slotOf(record: Pick<SealedRecord, 'address' | 'encodedKey'>): EnvelopeSlot {
  return { address: record.address, format: recordFormat(record), encodedKey: record.encodedKey };
}

/** Seals a value to the owner's RSA key under (address, key): the device and wallet side of putKV. */
export function sealRecord(
  def: FormatDefinition,
  address: string,
  key: RecordKey,
  value: RecordValue,
  ownerRsaPublicKey: KeyObject,
  randomBytes?: (n: number) => Uint8Array,
): SealedRecord {
  decodeAddress(address);
  const encodedKey = encodeRecordKey(def.name, def.key, key);
  const plaintext = encodeRecordValue(def, value);
  const envelope = sealValue(ownerRsaPublicKey, { address, format: def.name, encodedKey }, plaintext, randomBytes);
  return { address, encodedKey, envelope };
}

/** Opens a record with the owner's RSA key, or a grantee's key and its re-wrapped content key. */
export function openRecord(record: SealedRecord, formats: FormatDictionary, privateKey: KeyObject, wrappedKey?: Uint8Array): OpenedRecord {
  const def = formats.get(recordFormat(record));
  const { format, key } = decodeRecordKey(def.key, record.encodedKey);
  const plaintext = openValue(privateKey, slotOf(record), record.envelope, wrappedKey);
  return { format, key, value: decodeRecordValue(def, plaintext) };
}

/** Gateway check: the format is known and the key matches its schema (values stay sealed). */
export function checkRecordKey(record: Pick<SealedRecord, 'encodedKey'>, formats: FormatDictionary): FormatDefinition {
  const def = formats.get(recordFormat(record));
  try {
    decodeRecordKey(def.key, record.encodedKey);
  } catch (err) {
    if (err instanceof ProtocolError) throw new ProtocolError('KEY_SCHEMA_MISMATCH', `${def.name}: ${err.message}`, { cause: err });
    throw err;
  }
  return def;
}

export function encodeRecord(record: SealedRecord): Uint8Array {
  return new ByteWriter()
    .u8(RECORD_VERSION)
    .string(record.address)
    .bytes(record.encodedKey)
    .bytes(encodeEnvelope(record.envelope))
    .finish();
}

/**
 * `knownAddress`: an address the caller has already validated (an uplink message's own); a record
 * filed under exactly that string skips the base58check decode, which is most of a decode's hashing.
 */
export function decodeRecord(bytes: Uint8Array, knownAddress?: string): SealedRecord {
  const r = new ByteReader(bytes, 'record');
  expectVersion(r, RECORD_VERSION, 'record');
  const address = r.string(MAX_ADDRESS_CHARS, 'address');
  const encodedKey = Uint8Array.from(r.bytes(MAX_ENCODED_KEY_BYTES, 'encodedKey'));
  const envelope = decodeEnvelope(r.bytes(MAX_ENVELOPE_BYTES, 'envelope'));
  r.end();
  if (address !== knownAddress) decodeAddress(address);
  readKeyFormat(encodedKey);
  return { address, encodedKey, envelope };
}

/** The record's Merkle leaf hash: SHA-256(0x00 ‖ encoded record). */
export function recordLeafHash(recordBytes: Uint8Array): Uint8Array {
  return leafHash(recordBytes);
}
