// Per-record origin proofs: leaf index + Merkle path to the uplink message root + k_i's signature + the pool authorisation.
//
// A gateway stores one beside each record, so anyone holding the record can check, without the
// rest of the message, that the authorised device key signed it.
import { ProtocolError } from './errors.js';
import { MerkleTree, rootFromInclusionProof } from './merkle.js';
import {
  POOL_AUTHORISATION_BYTES,
  decodePoolAuthorisation,
  encodePoolAuthorisation,
  poolAuthorisationAddress,
  verifyPoolAuthorisation,
  type PoolAuthorisation,
} from './pool-authorisation.js';
import { decodeRecord, recordLeafHash } from './record.js';
import { DOMAIN, SIGNATURE_LENGTH, verify } from './signature.js';
import { MAX_RECORDS_PER_MESSAGE, uplinkSignedPayload, type UplinkMessage } from './uplink.js';
import { ByteReader, ByteWriter, expectVersion } from './wire.js';

export const ORIGIN_PROOF_VERSION = 1;
/** ⌈log2(MAX_RECORDS_PER_MESSAGE)⌉ path entries at most. */
const MAX_PATH = Math.ceil(Math.log2(MAX_RECORDS_PER_MESSAGE));

export interface OriginProof {
  leafIndex: number;
  treeSize: number;
  path: Uint8Array[];
  signature: Uint8Array;
  authorisation: PoolAuthorisation;
}

/**
 * One proof per record of a (verified) message, in record order. `tree`: the records' tree when the
 * caller already has it (verifyUplinkMessage returns it), so the records are not hashed twice.
 */
export function originProofs(message: UplinkMessage, tree: MerkleTree = new MerkleTree(message.records.map(recordLeafHash))): OriginProof[] {
  if (tree.size !== message.records.length) throw new RangeError(`originProofs: a tree of ${tree.size} leaves for ${message.records.length} records`);
  return message.records.map((_, leafIndex) => ({
    leafIndex,
    treeSize: tree.size,
    path: tree.inclusionProof(leafIndex),
    signature: message.signature,
    authorisation: message.authorisation,
  }));
}

/**
 * Checks that `recordBytes` was signed by the device key its pool authorisation names, and that the
 * authorisation was valid at `now` (for an audit long after ingest, pass the record's anchor time).
 */
export function verifyOrigin(recordBytes: Uint8Array, proof: OriginProof, now: number): void {
  const record = decodeRecord(recordBytes);
  const address = poolAuthorisationAddress(proof.authorisation);
  if (record.address !== address) {
    throw new ProtocolError('AUTH_MISMATCH', `record is filed under ${record.address}, the authorisation covers ${address}`);
  }
  verifyPoolAuthorisation(proof.authorisation, { now });
  const root = rootFromInclusionProof(recordLeafHash(recordBytes), proof.leafIndex, proof.treeSize, proof.path);
  verify(DOMAIN.uplinkRoot, uplinkSignedPayload(address, proof.treeSize, root), proof.signature, proof.authorisation.devicePublicKey);
}

export function encodeOriginProof(proof: OriginProof): Uint8Array {
  return encodeOriginProofWith(proof, encodePoolAuthorisation(proof.authorisation));
}

/**
 * The same bytes as encodeOriginProof, given the authorisation already encoded: every record of a
 * message shares one authorisation, and encoding it (which re-checks its keys) once per record was
 * most of a gateway's verification time. The caller vouches that `encodedAuthorisation` encodes
 * `proof.authorisation`.
 */
export function encodeOriginProofWith(proof: OriginProof, encodedAuthorisation: Uint8Array): Uint8Array {
  if (encodedAuthorisation.length !== POOL_AUTHORISATION_BYTES) throw new RangeError(`an encoded authorisation is ${POOL_AUTHORISATION_BYTES} bytes`);
  const w = new ByteWriter().u8(ORIGIN_PROOF_VERSION).varint(proof.leafIndex).varint(proof.treeSize).varint(proof.path.length);
  for (const node of proof.path) w.fixed(node, 32);
  return w.fixed(proof.signature, SIGNATURE_LENGTH).raw(encodedAuthorisation).finish();
}

export function decodeOriginProof(bytes: Uint8Array): OriginProof {
  const r = new ByteReader(bytes, 'origin proof');
  expectVersion(r, ORIGIN_PROOF_VERSION, 'origin proof');
  const leafIndex = r.varint();
  const treeSize = r.varint();
  if (treeSize < 1 || treeSize > MAX_RECORDS_PER_MESSAGE || leafIndex >= treeSize) {
    throw new ProtocolError('DECODE_INVALID', `origin proof: leaf ${leafIndex} of ${treeSize} is impossible`);
  }
  const pathLength = r.count(MAX_PATH, 'path');
  const path: Uint8Array[] = [];
  for (let i = 0; i < pathLength; i++) path.push(Uint8Array.from(r.take(32)));
  const signature = Uint8Array.from(r.take(SIGNATURE_LENGTH));
  const authorisation = decodePoolAuthorisation(r.take(POOL_AUTHORISATION_BYTES));
  r.end();
  return { leafIndex, treeSize, path, signature, authorisation };
}
