// Uplink messages: 1..n records under one pool address, one signature by k_i over their Merkle root, the pool authorisation.
//
// One signature per message (not per record) is what lets a gateway verify thousands of records/s:
// ECDSA verify costs ~0.25 ms, a SHA-256 leaf a microsecond. origin-proof.ts cuts a message into
// per-record proofs that verify alone.
import { ProtocolError } from './errors.js';
import { MerkleTree } from './merkle.js';
import {
  POOL_AUTHORISATION_BYTES,
  checkAuthorisationWindow,
  decodePoolAuthorisation,
  encodePoolAuthorisation,
  poolAuthorisationAddress,
  verifyPoolAuthorisation,
  type PoolAuthorisation,
} from './pool-authorisation.js';
import { MAX_ENVELOPE_BYTES } from './envelope.js';
import { decodeRecord, encodeRecord, recordLeafHash, type SealedRecord } from './record.js';
import { DOMAIN, SIGNATURE_LENGTH, publicKeyFromPrivate, sign, verify } from './signature.js';
import { ByteReader, ByteWriter, equalBytes, expectVersion } from './wire.js';

export const UPLINK_VERSION = 1;
export const MAX_RECORDS_PER_MESSAGE = 256;
/** Bound on one MQTT payload; devices split larger batches. Brokers should be configured to match. */
export const MAX_UPLINK_MESSAGE_BYTES = 2 * 1024 * 1024;
const MAX_RECORD_BYTES = MAX_ENVELOPE_BYTES + 2048;

export interface UplinkMessage {
  authorisation: PoolAuthorisation;
  /** Encoded records (record.ts), all filed under the authorisation's pool address. */
  records: readonly Uint8Array[];
  /** k_i's signature over uplinkSignedPayload(address, records.length, root). */
  signature: Uint8Array;
}

/** The signed statement: "these n records, with this Merkle root, are for this address". */
export function uplinkSignedPayload(address: string, treeSize: number, root: Uint8Array): Uint8Array {
  return new ByteWriter().u8(UPLINK_VERSION).string(address).varint(treeSize).fixed(root, 32).finish();
}

/** Device side: signs a batch of records with k_i. */
export function createUplinkMessage(
  records: readonly SealedRecord[],
  authorisation: PoolAuthorisation,
  devicePrivateKey: Uint8Array,
): UplinkMessage {
  if (records.length < 1 || records.length > MAX_RECORDS_PER_MESSAGE) {
    throw new RangeError(`an uplink message holds 1..${MAX_RECORDS_PER_MESSAGE} records, got ${records.length}`);
  }
  const address = poolAuthorisationAddress(authorisation);
  if (!equalBytes(publicKeyFromPrivate(devicePrivateKey), authorisation.devicePublicKey)) {
    throw new ProtocolError('AUTH_MISMATCH', 'the signing key is not the authorised device key');
  }
  for (const record of records) {
    if (record.address !== address) throw new ProtocolError('MESSAGE_INVALID', `record for ${record.address} in a message for ${address}`);
  }
  const encoded = records.map(encodeRecord);
  const root = new MerkleTree(encoded.map(recordLeafHash)).root;
  const signature = sign(DOMAIN.uplinkRoot, uplinkSignedPayload(address, encoded.length, root), devicePrivateKey);
  return { authorisation, records: encoded, signature };
}

export function encodeUplinkMessage(message: UplinkMessage): Uint8Array {
  const w = new ByteWriter().u8(UPLINK_VERSION).raw(encodePoolAuthorisation(message.authorisation)).varint(message.records.length);
  for (const record of message.records) w.bytes(record);
  const bytes = w.fixed(message.signature, SIGNATURE_LENGTH).finish();
  if (bytes.length > MAX_UPLINK_MESSAGE_BYTES) throw new RangeError(`uplink message is ${bytes.length} bytes, limit ${MAX_UPLINK_MESSAGE_BYTES}`);
  return bytes;
}

export interface DecodedUplinkMessage extends UplinkMessage {
  address: string;
  decodedRecords: SealedRecord[];
}

/** Structural decode: every record parses and is filed under the authorisation's address. No signature check. */
export function decodeUplinkMessage(bytes: Uint8Array): DecodedUplinkMessage {
  if (!(bytes instanceof Uint8Array)) throw new TypeError('uplink message must be a Uint8Array');
  if (bytes.length > MAX_UPLINK_MESSAGE_BYTES) {
    throw new ProtocolError('DECODE_TOO_LARGE', `uplink message is ${bytes.length} bytes, limit ${MAX_UPLINK_MESSAGE_BYTES}`);
  }
  const r = new ByteReader(bytes, 'uplink message');
  expectVersion(r, UPLINK_VERSION, 'uplink message');
  const authorisation = decodePoolAuthorisation(r.take(POOL_AUTHORISATION_BYTES));
  const count = r.count(MAX_RECORDS_PER_MESSAGE, 'records');
  if (count === 0) throw new ProtocolError('DECODE_INVALID', 'uplink message: no records');
  const records: Uint8Array[] = [];
  for (let i = 0; i < count; i++) records.push(r.bytes(MAX_RECORD_BYTES, 'record'));
  const signature = Uint8Array.from(r.take(SIGNATURE_LENGTH));
  r.end();
  const address = poolAuthorisationAddress(authorisation);
  const decodedRecords = records.map((record, i) => {
    const decoded = decodeRecord(record, address);
    if (decoded.address !== address) {
      throw new ProtocolError('MESSAGE_INVALID', `uplink message: record ${i} is for ${decoded.address}, message for ${address}`);
    }
    return decoded;
  });
  return { authorisation, records, signature, address, decodedRecords };
}

export interface VerifiedUplink {
  address: string;
  leafHashes: Uint8Array[];
  root: Uint8Array;
  /** The records' tree, for cutting per-record origin proofs without hashing it again. */
  tree: MerkleTree;
}

/**
 * Verifies k_i's signature over the records' root. `authorisationChecked` lets a gateway that has
 * already verified this authorisation's signature skip that second ECDSA verify; its validity window
 * is still checked against `now`.
 */
export function verifyUplinkMessage(
  message: UplinkMessage,
  options: { now: number; authorisationChecked?: boolean },
): VerifiedUplink {
  if (options.authorisationChecked) checkAuthorisationWindow(message.authorisation, options.now);
  else verifyPoolAuthorisation(message.authorisation, { now: options.now });
  const address = poolAuthorisationAddress(message.authorisation);
  const leafHashes = message.records.map(recordLeafHash);
  const tree = new MerkleTree(leafHashes);
  const root = tree.root;
  verify(DOMAIN.uplinkRoot, uplinkSignedPayload(address, leafHashes.length, root), message.signature, message.authorisation.devicePublicKey);
  return { address, leafHashes, root, tree };
}
