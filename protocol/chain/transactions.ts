// The chain's transaction envelope: byte layout, signing, txId, decoding and the stateless checks (docs/chain-transactions.md).
//
// Tx = version u8 (=1) ‖ type u8 ‖ chainId string ‖ signer pubkey[33] ‖ nonce u64 ‖ expiresAt u64
//      ‖ body bytes (varint length) ‖ signature[64]
// The signature covers everything before it (signBytes) under DOMAIN.chainTransaction, and
// txId = sha256(signBytes), so re-encoding or re-signing a tx (ECDSA signatures are malleable in
// principle, and a signer could sign twice) never yields a second id for the same content.
// Replay protection is "unique id with bounded expiry": the chain keeps committed txIds until their
// expiry and refuses a tx whose expiry is past or more than MAX_TX_LIFETIME_MS ahead of block time.
import { randomBytes } from 'node:crypto';
import { ProtocolError } from '../errors.js';
import { sha256 } from '../hash.js';
import { DOMAIN, PUBLIC_KEY_LENGTH, SIGNATURE_LENGTH, assertPublicKey, isValidSignature, publicKeyFromPrivate, sign } from '../signature.js';
import { ByteReader, ByteWriter, expectVersion } from '../wire.js';

export const TX_VERSION = 1;
/** A tx may not expire later than this after the block that includes it: bounds the replay-id table. */
export const MAX_TX_LIFETIME_MS = 60 * 60 * 1000;
export const MAX_CHAIN_ID_BYTES = 64;
/** Largest body: a format definition (≈ 5 KiB worst case) or a lock key set (4 KiB + 41). */
export const MAX_TX_BODY_BYTES = 16 * 1024;
/** Envelope overhead: 1 + 1 + (1 + 64) + 33 + 8 + 8 + 3 + 64 bytes at most. */
export const MAX_TX_BYTES = MAX_TX_BODY_BYTES + 183;
export const TX_ID_LENGTH = 32;

/** Type names in the order of their wire codes (code = index + 1). Never reorder; only append. */
export const TX_TYPES = [
  'FormatRegister',
  'DeviceSetup',
  'DeviceReset',
  'VehicleTransfer',
  'LockKeySet',
  'Grant',
  'WriteGrant',
  'BatchAnchor',
  'Stake',
  'Unstake',
  'Evidence',
] as const;

export type TxType = (typeof TX_TYPES)[number];

export function txTypeCode(type: TxType): number {
  const index = TX_TYPES.indexOf(type);
  if (index < 0) throw new RangeError(`unknown tx type ${String(type)}`);
  return index + 1;
}

export function txTypeFromCode(code: number): TxType {
  const type = TX_TYPES[code - 1];
  if (type === undefined || code < 1) throw new ProtocolError('DECODE_INVALID', `transaction: unknown type code ${code}`);
  return type;
}

export interface Tx {
  type: TxType;
  chainId: string;
  /** 33-byte compressed key of whoever the tx speaks for. */
  signer: Uint8Array;
  /** Any u64 the client picks; it only makes otherwise equal txs distinct. */
  nonce: bigint;
  /** ms since the epoch. */
  expiresAt: number;
  /** Type-specific body (protocol/chain/tx-bodies.ts). */
  body: Uint8Array;
  signature: Uint8Array;
}

export type UnsignedTx = Omit<Tx, 'signature'>;

/**
 * A decoded tx with the bytes its signature covers and its id. The signer's address is left to
 * whoever needs it (p2pkhAddress(tx.signer)): every validator decodes every tx, and the address
 * (hash160 + base58check) is only ever printed in rejection reasons.
 */
export interface DecodedTx extends Tx {
  signBytes: Uint8Array;
  txId: Uint8Array;
}

function checkChainId(chainId: string): void {
  const n = Buffer.byteLength(chainId, 'utf8');
  if (typeof chainId !== 'string' || n < 1 || n > MAX_CHAIN_ID_BYTES) throw new RangeError(`chainId must be 1..${MAX_CHAIN_ID_BYTES} bytes`);
}

/** The bytes the signature covers: every envelope field before the signature. */
export function txSignBytes(tx: UnsignedTx): Uint8Array {
  checkChainId(tx.chainId);
  assertPublicKey(tx.signer);
  if (!Number.isSafeInteger(tx.expiresAt) || tx.expiresAt < 0) throw new RangeError(`expiresAt must be a safe integer ≥ 0`);
  if (tx.body.length > MAX_TX_BODY_BYTES) throw new RangeError(`body is ${tx.body.length} bytes, limit ${MAX_TX_BODY_BYTES}`);
  return new ByteWriter()
    .u8(TX_VERSION)
    .u8(txTypeCode(tx.type))
    .string(tx.chainId)
    .fixed(tx.signer, PUBLIC_KEY_LENGTH)
    .u64(tx.nonce)
    .u64(tx.expiresAt)
    .bytes(tx.body)
    .finish();
}

export function encodeTx(tx: Tx): Uint8Array {
  return new ByteWriter().raw(txSignBytes(tx)).fixed(tx.signature, SIGNATURE_LENGTH).finish();
}

/** Decodes the envelope only (not the body, not the signature's validity). Throws ProtocolError. */
export function decodeTx(bytes: Uint8Array): DecodedTx {
  if (!(bytes instanceof Uint8Array)) throw new ProtocolError('DECODE_INVALID', 'transaction: expected bytes');
  if (bytes.length > MAX_TX_BYTES) throw new ProtocolError('DECODE_TOO_LARGE', `transaction: ${bytes.length} bytes, limit ${MAX_TX_BYTES}`);
  const r = new ByteReader(bytes, 'transaction');
  expectVersion(r, TX_VERSION, 'transaction');
  const type = txTypeFromCode(r.u8());
  const chainId = r.string(MAX_CHAIN_ID_BYTES, 'chainId');
  if (chainId.length === 0) throw new ProtocolError('DECODE_INVALID', 'transaction: empty chainId');
  const signer = r.take(PUBLIC_KEY_LENGTH).slice();
  try {
    assertPublicKey(signer);
  } catch (cause) {
    throw new ProtocolError('DECODE_INVALID', 'transaction: signer is not a compressed secp256k1 key', { cause });
  }
  const nonce = r.u64();
  const expiresAt = r.u64Number('expiresAt');
  const body = r.bytes(MAX_TX_BODY_BYTES, 'body').slice();
  const signEnd = r.position;
  const signature = r.take(SIGNATURE_LENGTH).slice();
  r.end();
  const signBytes = bytes.slice(0, signEnd);
  return { type, chainId, signer, nonce, expiresAt, body, signature, signBytes, txId: sha256(signBytes) };
}

/** txId = sha256(signBytes): independent of the signature bytes. Accepts encoded or structured txs. */
export function txIdOf(tx: Uint8Array | UnsignedTx): Uint8Array {
  if (tx instanceof Uint8Array) return decodeTx(tx).txId;
  return sha256(txSignBytes(tx));
}

export function isTxSignatureValid(tx: DecodedTx): boolean {
  return isValidSignature(DOMAIN.chainTransaction, tx.signBytes, tx.signature, tx.signer);
}

export function signTx(unsigned: UnsignedTx, signerPrivateKey: Uint8Array): Tx {
  return { ...unsigned, signature: sign(DOMAIN.chainTransaction, txSignBytes(unsigned), signerPrivateKey) };
}

export interface BuildTxInput {
  type: TxType;
  chainId: string;
  signerPriv: Uint8Array;
  /** Default: 8 random bytes. Pass one to make the tx (and its id) reproducible. */
  nonce?: bigint | number;
  expiresAt: number;
  body: Uint8Array;
}

/** Builds, signs and encodes a tx: what a wallet, dongle or gateway submits. */
export function buildTx(input: BuildTxInput): { bytes: Uint8Array; txId: Uint8Array; tx: Tx } {
  const nonce = input.nonce === undefined ? randomNonce() : BigInt(input.nonce);
  if (nonce < 0n || nonce > 0xffffffffffffffffn) throw new RangeError('nonce must be a u64');
  const unsigned: UnsignedTx = {
    type: input.type,
    chainId: input.chainId,
    signer: publicKeyFromPrivate(input.signerPriv),
    nonce,
    expiresAt: input.expiresAt,
    body: input.body,
  };
  const tx = signTx(unsigned, input.signerPriv);
  return { bytes: encodeTx(tx), txId: sha256(txSignBytes(unsigned)), tx };
}

export function randomNonce(): bigint {
  return new DataView(new Uint8Array(randomBytes(8)).buffer).getBigUint64(0);
}

/** Why a tx's expiry does not fit a block time, or null when it does. */
export function expiryProblem(expiresAt: number, blockTime: number): 'EXPIRED' | 'TOO_FAR_IN_FUTURE' | null {
  if (expiresAt < blockTime) return 'EXPIRED';
  if (expiresAt > blockTime + MAX_TX_LIFETIME_MS) return 'TOO_FAR_IN_FUTURE';
  return null;
}
