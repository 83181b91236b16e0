// Bodies of the chain's transactions: one canonical byte layout per type, encoders, strict decoders (docs/chain-transactions.md).
//
// Bodies carry no version byte of their own: the envelope's version covers them. Decoders accept
// exactly one encoding per value (sorted, unique format lists; zeroed fields in revocations), so a
// body's bytes, and with them the txId, follow from its meaning. Everything here is stateless;
// ownership, epochs and the like are checked by the state machine (gateway/chain/app/).
import { base58checkEncode } from '../base58check.js';
import { decodeAddress, P2PKH_VERSION } from '../address.js';
import { decodeDeviceResetStatement, decodeDeviceSetupStatement, encodeDeviceResetStatement, encodeDeviceSetupStatement } from '../device-statements.js';
import type { DeviceResetStatement, SignedDeviceSetup } from '../device-statements.js';
import { ProtocolError } from '../errors.js';
import { decodeFormatDefinition, encodeFormatDefinition, type FormatDefinition } from '../formats.js';
import { DOMAIN, PUBLIC_KEY_LENGTH, SIGNATURE_LENGTH, assertPublicKey, isValidSignature, sign } from '../signature.js';
import { ByteReader, ByteWriter, concatBytes } from '../wire.js';
import type { TxType } from './transactions.js';

export const VID_HASH_LENGTH = 32;
export const MAX_KEY_SET_BYTES = 4096;
export const MAX_GRANT_FORMATS = 32;
export const MAX_LEAF_COUNT = 1 << 24;
/** An encoded vote is ≈ 200 bytes; the bound only stops a hostile length. */
export const MAX_EVIDENCE_VOTE_BYTES = 512;
const MAX_STATEMENT_BYTES = 1024;
const FORMAT_NAME_PATTERN = /^[A-Za-z][A-Za-z0-9_-]{0,63}$/;
const ZERO_HASH160 = new Uint8Array(20);

// ---------------------------------------------------------------------------------------------
// Shared helpers

/** P2PKH address of a 20-byte hash160 (the inverse of decodeAddress). */
export function addressFromHash160(hash: Uint8Array): string {
  if (hash.length !== 20) throw new RangeError('hash160 must be 20 bytes');
  return base58checkEncode(concatBytes(Uint8Array.of(P2PKH_VERSION), hash));
}

/** A UTC day written as the integer YYYYMMDD, and a real calendar date from 1970 to 9999. */
export function isValidDay(day: number): boolean {
  if (!Number.isInteger(day) || day < 19700101 || day > 99991231) return false;
  const y = Math.floor(day / 10000);
  const m = Math.floor(day / 100) % 100;
  const d = day % 100;
  const date = new Date(Date.UTC(y, m - 1, d));
  return date.getUTCFullYear() === y && date.getUTCMonth() === m - 1 && date.getUTCDate() === d;
}

function invalid(what: string, why: string): ProtocolError {
  return new ProtocolError('DECODE_INVALID', `${what}: ${why}`);
}

function readPublicKey(r: ByteReader, what: string, field: string): Uint8Array {
  const key = r.take(PUBLIC_KEY_LENGTH).slice();
  try {
    assertPublicKey(key);
  } catch (cause) {
    throw new ProtocolError('DECODE_INVALID', `${what}: ${field} is not a compressed secp256k1 key`, { cause });
  }
  return key;
}

function readAmount(r: ByteReader, what: string): number {
  const amount = r.u64Number('amount');
  if (amount < 1) throw invalid(what, 'amount must be ≥ 1');
  return amount;
}

function canonicalFormats(formats: readonly string[], what: string): string[] {
  for (const f of formats) if (!FORMAT_NAME_PATTERN.test(f)) throw new RangeError(`${what}: format name ${JSON.stringify(f)} is not allowed`);
  if (formats.length > MAX_GRANT_FORMATS) throw new RangeError(`${what}: more than ${MAX_GRANT_FORMATS} formats`);
  return [...new Set(formats)].sort();
}

function writeFormats(w: ByteWriter, formats: readonly string[]): void {
  w.varint(formats.length);
  for (const f of formats) w.string(f);
}

/** Strictly ascending (by UTF-16 code units = bytes for these ASCII names), so one list has one encoding. */
function readFormats(r: ByteReader, what: string): string[] {
  const out: string[] = [];
  for (let i = r.count(MAX_GRANT_FORMATS, 'formats'); i > 0; i--) {
    const name = r.string(64, 'format name');
    if (!FORMAT_NAME_PATTERN.test(name)) throw invalid(what, `format name ${JSON.stringify(name)} is not allowed`);
    const previous = out[out.length - 1];
    if (previous !== undefined && !(previous < name)) throw new ProtocolError('DECODE_NON_CANONICAL', `${what}: formats must be sorted and unique`);
    out.push(name);
  }
  return out;
}

function writeRevokes(w: ByteWriter, revokes: Uint8Array | null): void {
  if (revokes === null) w.u8(0);
  else w.u8(1).fixed(revokes, 32);
}

function readRevokes(r: ByteReader, what: string): Uint8Array | null {
  const flag = r.u8();
  if (flag === 0) return null;
  if (flag !== 1) throw invalid(what, `revokes flag ${flag}`);
  return r.take(32).slice();
}

function isZero(bytes: Uint8Array): boolean {
  return bytes.every((b) => b === 0);
}

// ---------------------------------------------------------------------------------------------
// FormatRegister: body = encodeFormatDefinition(def)

export function encodeFormatRegisterBody(def: FormatDefinition): Uint8Array {
  return encodeFormatDefinition(def);
}

export function decodeFormatRegisterBody(body: Uint8Array): FormatDefinition {
  return decodeFormatDefinition(body);
}

// ---------------------------------------------------------------------------------------------
// DeviceSetup: statement bytes (varint length) ‖ owner signature[64] ‖ device signature[64]

export function encodeDeviceSetupBody(setup: SignedDeviceSetup): Uint8Array {
  return new ByteWriter()
    .bytes(encodeDeviceSetupStatement(setup.statement))
    .fixed(setup.ownerSignature, SIGNATURE_LENGTH)
    .fixed(setup.deviceSignature, SIGNATURE_LENGTH)
    .finish();
}

export function decodeDeviceSetupBody(body: Uint8Array): SignedDeviceSetup {
  const r = new ByteReader(body, 'DeviceSetup body');
  const statementBytes = r.bytes(MAX_STATEMENT_BYTES, 'statement');
  const statement = decodeDeviceSetupStatement(statementBytes);
  try {
    assertPublicKey(statement.devicePublicKey);
    assertPublicKey(statement.ownerPublicKey);
  } catch (cause) {
    throw new ProtocolError('DECODE_INVALID', 'DeviceSetup body: a key is not a compressed secp256k1 point', { cause });
  }
  const ownerSignature = r.take(SIGNATURE_LENGTH).slice();
  const deviceSignature = r.take(SIGNATURE_LENGTH).slice();
  r.end();
  return { statement, ownerSignature, deviceSignature };
}

// ---------------------------------------------------------------------------------------------
// DeviceReset: statement bytes (varint length) ‖ owner signature[64]

export interface DeviceResetBody {
  statement: DeviceResetStatement;
  signature: Uint8Array;
}

export function encodeDeviceResetBody(b: DeviceResetBody): Uint8Array {
  return new ByteWriter().bytes(encodeDeviceResetStatement(b.statement)).fixed(b.signature, SIGNATURE_LENGTH).finish();
}

export function decodeDeviceResetBody(body: Uint8Array): DeviceResetBody {
  const r = new ByteReader(body, 'DeviceReset body');
  const statement = decodeDeviceResetStatement(r.bytes(MAX_STATEMENT_BYTES, 'statement'));
  try {
    assertPublicKey(statement.devicePublicKey);
    assertPublicKey(statement.ownerPublicKey);
  } catch (cause) {
    throw new ProtocolError('DECODE_INVALID', 'DeviceReset body: a key is not a compressed secp256k1 point', { cause });
  }
  const signature = r.take(SIGNATURE_LENGTH).slice();
  r.end();
  return { statement, signature };
}

// ---------------------------------------------------------------------------------------------
// VehicleTransfer: vidHash[32] ‖ newOwnerPubKey[33] ‖ acceptanceSignature[64]

export interface VehicleTransferBody {
  vidHash: Uint8Array;
  newOwnerPubKey: Uint8Array;
  /** By the new owner, over vehicleTransferAcceptanceBytes(...). */
  acceptanceSignature: Uint8Array;
}

export interface VehicleTransferAcceptance {
  chainId: string;
  vidHash: Uint8Array;
  currentOwnerPubKey: Uint8Array;
  newOwnerPubKey: Uint8Array;
  /** The nonce of the transfer tx: binds the acceptance to exactly one transfer. */
  nonce: bigint;
}

/** chainId string ‖ vidHash[32] ‖ currentOwnerPub[33] ‖ newOwnerPub[33] ‖ nonce u64. */
export function vehicleTransferAcceptanceBytes(a: VehicleTransferAcceptance): Uint8Array {
  return new ByteWriter()
    .string(a.chainId)
    .fixed(a.vidHash, VID_HASH_LENGTH)
    .fixed(a.currentOwnerPubKey, PUBLIC_KEY_LENGTH)
    .fixed(a.newOwnerPubKey, PUBLIC_KEY_LENGTH)
    .u64(a.nonce)
    .finish();
}

export function signVehicleTransferAcceptance(a: VehicleTransferAcceptance, newOwnerPrivateKey: Uint8Array): Uint8Array {
  return sign(DOMAIN.vehicleTransferAcceptance, vehicleTransferAcceptanceBytes(a), newOwnerPrivateKey);
}

export function isVehicleTransferAcceptanceValid(a: VehicleTransferAcceptance, signature: Uint8Array): boolean {
  return isValidSignature(DOMAIN.vehicleTransferAcceptance, vehicleTransferAcceptanceBytes(a), signature, a.newOwnerPubKey);
}

export function encodeVehicleTransferBody(b: VehicleTransferBody): Uint8Array {
  assertPublicKey(b.newOwnerPubKey);
  return new ByteWriter()
    .fixed(b.vidHash, VID_HASH_LENGTH)
    .fixed(b.newOwnerPubKey, PUBLIC_KEY_LENGTH)
    .fixed(b.acceptanceSignature, SIGNATURE_LENGTH)
    .finish();
}

export function decodeVehicleTransferBody(body: Uint8Array): VehicleTransferBody {
  const r = new ByteReader(body, 'VehicleTransfer body');
  const vidHash = r.take(VID_HASH_LENGTH).slice();
  const newOwnerPubKey = readPublicKey(r, 'VehicleTransfer body', 'newOwnerPubKey');
  const acceptanceSignature = r.take(SIGNATURE_LENGTH).slice();
  r.end();
  return { vidHash, newOwnerPubKey, acceptanceSignature };
}

// ---------------------------------------------------------------------------------------------
// LockKeySet: vidHash[32] ‖ epoch u64 ‖ keySet bytes (≤ 4096, opaque here; protocol/lock/ defines it)

export interface LockKeySetBody {
  vidHash: Uint8Array;
  /** ≤ 2^53 − 1 so it stays a JS number everywhere. */
  epoch: number;
  keySet: Uint8Array;
}

export function encodeLockKeySetBody(b: LockKeySetBody): Uint8Array {
  if (b.keySet.length > MAX_KEY_SET_BYTES) throw new RangeError(`keySet is ${b.keySet.length} bytes, limit ${MAX_KEY_SET_BYTES}`);
  return new ByteWriter().fixed(b.vidHash, VID_HASH_LENGTH).u64(b.epoch).bytes(b.keySet).finish();
}

export function decodeLockKeySetBody(body: Uint8Array): LockKeySetBody {
  const r = new ByteReader(body, 'LockKeySet body');
  const vidHash = r.take(VID_HASH_LENGTH).slice();
  const epoch = r.u64Number('epoch');
  const keySet = r.bytes(MAX_KEY_SET_BYTES, 'keySet').slice();
  r.end();
  return { vidHash, epoch, keySet };
}

// ---------------------------------------------------------------------------------------------
// Grant: grantee hash160[20] ‖ granteeRsaFingerprint[32] ‖ fromDay u32 ‖ toDay u32 ‖ formats
//        ‖ resell u8 ‖ expiresAt u64 ‖ revokes (u8 flag ‖ grantId[32])
// An empty format list means a pure revocation: revokes is then required and every other field zero.

export interface GrantTerms {
  kind: 'grant';
  /** P2PKH address of the grantee. */
  grantee: string;
  granteeRsaFingerprint: Uint8Array;
  /** UTC days YYYYMMDD, inclusive; fromDay ≤ toDay. */
  fromDay: number;
  toDay: number;
  /** 1..32 format names (sorted and deduplicated by the encoder). */
  formats: string[];
  resell: boolean;
  /** ms since the epoch; 0 = never. */
  expiresAt: number;
  /** A grant of the same grantor this one replaces (it is marked revoked), or null. */
  revokes: Uint8Array | null;
}

export interface GrantRevocation {
  kind: 'revoke';
  revokes: Uint8Array;
}

export type GrantBody = GrantTerms | GrantRevocation;

export function encodeGrantBody(b: GrantBody): Uint8Array {
  const w = new ByteWriter();
  if (b.kind === 'revoke') {
    return w.raw(ZERO_HASH160).raw(new Uint8Array(32)).u32(0).u32(0).varint(0).u8(0).u64(0).u8(1).fixed(b.revokes, 32).finish();
  }
  const formats = canonicalFormats(b.formats, 'Grant');
  if (formats.length === 0) throw new RangeError('Grant: at least one format (an empty list is a revocation)');
  if (!isValidDay(b.fromDay) || !isValidDay(b.toDay) || b.fromDay > b.toDay) throw new RangeError('Grant: fromDay/toDay must be valid days, fromDay ≤ toDay');
  w.fixed(decodeAddress(b.grantee), 20).fixed(b.granteeRsaFingerprint, 32).u32(b.fromDay).u32(b.toDay);
  writeFormats(w, formats);
  w.u8(b.resell ? 1 : 0).u64(b.expiresAt);
  writeRevokes(w, b.revokes);
  return w.finish();
}

export function decodeGrantBody(body: Uint8Array): GrantBody {
  const what = 'Grant body';
  const r = new ByteReader(body, what);
  const grantee = r.take(20).slice();
  const granteeRsaFingerprint = r.take(32).slice();
  const fromDay = r.u32();
  const toDay = r.u32();
  const formats = readFormats(r, what);
  const resellByte = r.u8();
  if (resellByte > 1) throw invalid(what, `resell flag ${resellByte}`);
  const expiresAt = r.u64Number('expiresAt');
  const revokes = readRevokes(r, what);
  r.end();
  if (formats.length === 0) {
    if (revokes === null) throw invalid(what, 'an empty format list is a revocation and needs revokes');
    if (!isZero(grantee) || !isZero(granteeRsaFingerprint) || fromDay !== 0 || toDay !== 0 || resellByte !== 0 || expiresAt !== 0) {
      throw new ProtocolError('DECODE_NON_CANONICAL', `${what}: a revocation has every other field zero`);
    }
    return { kind: 'revoke', revokes };
  }
  if (!isValidDay(fromDay) || !isValidDay(toDay) || fromDay > toDay) throw invalid(what, `days ${fromDay}..${toDay}`);
  return {
    kind: 'grant',
    grantee: addressFromHash160(grantee),
    granteeRsaFingerprint,
    fromDay,
    toDay,
    formats,
    resell: resellByte === 1,
    expiresAt,
    revokes,
  };
}

// ---------------------------------------------------------------------------------------------
// WriteGrant: vidHash[32] ‖ shop pubkey[33] ‖ plateKey[32] ‖ formats ‖ expiresAt u64 ‖ revokes
// Revocation as for Grant: empty formats, revokes set, every other field zero (shop key 33 zero bytes).

export interface WriteGrantTerms {
  kind: 'grant';
  vidHash: Uint8Array;
  shopPubKey: Uint8Array;
  /** Keyed hash of the plate, opaque to the chain (CAIT privacy filter). */
  plateKey: Uint8Array;
  formats: string[];
  /** ms since the epoch; 0 = never. */
  expiresAt: number;
  revokes: Uint8Array | null;
}

export type WriteGrantBody = WriteGrantTerms | GrantRevocation;

export function encodeWriteGrantBody(b: WriteGrantBody): Uint8Array {
  const w = new ByteWriter();
  if (b.kind === 'revoke') {
    return w.raw(new Uint8Array(32 + 33 + 32)).varint(0).u64(0).u8(1).fixed(b.revokes, 32).finish();
  }
  const formats = canonicalFormats(b.formats, 'WriteGrant');
  if (formats.length === 0) throw new RangeError('WriteGrant: at least one format (an empty list is a revocation)');
  assertPublicKey(b.shopPubKey);
  w.fixed(b.vidHash, VID_HASH_LENGTH).fixed(b.shopPubKey, PUBLIC_KEY_LENGTH).fixed(b.plateKey, 32);
  writeFormats(w, formats);
  w.u64(b.expiresAt);
  writeRevokes(w, b.revokes);
  return w.finish();
}

export function decodeWriteGrantBody(body: Uint8Array): WriteGrantBody {
  const what = 'WriteGrant body';
  const r = new ByteReader(body, what);
  const vidHash = r.take(VID_HASH_LENGTH).slice();
  const shopPubKey = r.take(PUBLIC_KEY_LENGTH).slice();
  const plateKey = r.take(32).slice();
  const formats = readFormats(r, what);
  const expiresAt = r.u64Number('expiresAt');
  const revokes = readRevokes(r, what);
  r.end();
  if (formats.length === 0) {
    if (revokes === null) throw invalid(what, 'an empty format list is a revocation and needs revokes');
    if (!isZero(vidHash) || !isZero(shopPubKey) || !isZero(plateKey) || expiresAt !== 0) {
      throw new ProtocolError('DECODE_NON_CANONICAL', `${what}: a revocation has every other field zero`);
    }
    return { kind: 'revoke', revokes };
  }
  try {
    assertPublicKey(shopPubKey);
  } catch (cause) {
    throw new ProtocolError('DECODE_INVALID', `${what}: shop key is not a compressed secp256k1 key`, { cause });
  }
  return { kind: 'grant', vidHash, shopPubKey, plateKey, formats, expiresAt, revokes };
}

// ---------------------------------------------------------------------------------------------
// BatchAnchor: batchId u64 ‖ root[32] ‖ leafCount u32 (1..2^24)

export interface BatchAnchorBody {
  batchId: number;
  root: Uint8Array;
  leafCount: number;
}

export function encodeBatchAnchorBody(b: BatchAnchorBody): Uint8Array {
  if (!Number.isInteger(b.leafCount) || b.leafCount < 1 || b.leafCount > MAX_LEAF_COUNT) throw new RangeError('leafCount must be 1..2^24');
  return new ByteWriter().u64(b.batchId).fixed(b.root, 32).u32(b.leafCount).finish();
}

export function decodeBatchAnchorBody(body: Uint8Array): BatchAnchorBody {
  const r = new ByteReader(body, 'BatchAnchor body');
  const batchId = r.u64Number('batchId');
  const root = r.take(32).slice();
  const leafCount = r.u32();
  r.end();
  if (leafCount < 1 || leafCount > MAX_LEAF_COUNT) throw invalid('BatchAnchor body', `leafCount ${leafCount} outside 1..2^24`);
  return { batchId, root, leafCount };
}

// ---------------------------------------------------------------------------------------------
// Stake / Unstake: amount u64 (1..2^53 − 1)

export interface AmountBody {
  amount: number;
}

export function encodeAmountBody(b: AmountBody): Uint8Array {
  if (!Number.isSafeInteger(b.amount) || b.amount < 1) throw new RangeError('amount must be a safe integer ≥ 1');
  return new ByteWriter().u64(b.amount).finish();
}

export function decodeAmountBody(body: Uint8Array, what = 'Stake body'): AmountBody {
  const r = new ByteReader(body, what);
  const amount = readAmount(r, what);
  r.end();
  return { amount };
}

export const encodeStakeBody = encodeAmountBody;
export const encodeUnstakeBody = encodeAmountBody;

// ---------------------------------------------------------------------------------------------
// Evidence: voteA bytes (varint length) ‖ voteB bytes (varint length)
// The votes are the consensus layer's encodeVote bytes, kept opaque here (protocol/ imports nothing
// of the gateway); the state machine decodes and checks them.

export interface EvidenceBody {
  voteA: Uint8Array;
  voteB: Uint8Array;
}

export function encodeEvidenceBody(b: EvidenceBody): Uint8Array {
  if (b.voteA.length > MAX_EVIDENCE_VOTE_BYTES || b.voteB.length > MAX_EVIDENCE_VOTE_BYTES) throw new RangeError('vote too large');
  return new ByteWriter().bytes(b.voteA).bytes(b.voteB).finish();
}

export function decodeEvidenceBody(body: Uint8Array): EvidenceBody {
  const r = new ByteReader(body, 'Evidence body');
  const voteA = r.bytes(MAX_EVIDENCE_VOTE_BYTES, 'voteA').slice();
  const voteB = r.bytes(MAX_EVIDENCE_VOTE_BYTES, 'voteB').slice();
  r.end();
  return { voteA, voteB };
}

// ---------------------------------------------------------------------------------------------
// Dispatch

export type TxBody =
  | { type: 'FormatRegister'; body: FormatDefinition }
  | { type: 'DeviceSetup'; body: SignedDeviceSetup }
  | { type: 'DeviceReset'; body: DeviceResetBody }
  | { type: 'VehicleTransfer'; body: VehicleTransferBody }
  | { type: 'LockKeySet'; body: LockKeySetBody }
  | { type: 'Grant'; body: GrantBody }
  | { type: 'WriteGrant'; body: WriteGrantBody }
  | { type: 'BatchAnchor'; body: BatchAnchorBody }
  | { type: 'Stake'; body: AmountBody }
  | { type: 'Unstake'; body: AmountBody }
  | { type: 'Evidence'; body: EvidenceBody };

/** Decodes a body by its tx type. Throws ProtocolError only. */
export function decodeTxBody(type: TxType, body: Uint8Array): TxBody {
  switch (type) {
    case 'FormatRegister':
      return { type, body: decodeFormatRegisterBody(body) };
    case 'DeviceSetup':
      return { type, body: decodeDeviceSetupBody(body) };
    case 'DeviceReset':
      return { type, body: decodeDeviceResetBody(body) };
    case 'VehicleTransfer':
      return { type, body: decodeVehicleTransferBody(body) };
    case 'LockKeySet':
      return { type, body: decodeLockKeySetBody(body) };
    case 'Grant':
      return { type, body: decodeGrantBody(body) };
    case 'WriteGrant':
      return { type, body: decodeWriteGrantBody(body) };
    case 'BatchAnchor':
      return { type, body: decodeBatchAnchorBody(body) };
    case 'Stake':
      return { type, body: decodeAmountBody(body, 'Stake body') };
    case 'Unstake':
      return { type, body: decodeAmountBody(body, 'Unstake body') };
    case 'Evidence':
      return { type, body: decodeEvidenceBody(body) };
  }
}
