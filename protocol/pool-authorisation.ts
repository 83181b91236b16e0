// Pool authorisations: "the holder of device key k_i may write under pool address A_i from T0 until T1", signed by A_i.
//
// Pools never go on the chain (that keeps days unlinkable), so each uplink message carries the
// authorisation; the gateway verifies it once per (A_i, k_i) and caches the result.
import { p2pkhAddress } from './address.js';
import { ProtocolError } from './errors.js';
import { DOMAIN, SIGNATURE_LENGTH, assertPublicKey, publicKeyFromPrivate, sign, verify } from './signature.js';
import { ByteReader, ByteWriter, equalBytes, expectVersion } from './wire.js';

export const POOL_AUTHORISATION_VERSION = 1;
export const POOL_AUTHORISATION_BYTES = 1 + 33 + 33 + 8 + 8 + SIGNATURE_LENGTH;

export interface PoolAuthorisation {
  /** A_i's compressed public key; the pool address is its P2PKH. */
  poolPublicKey: Uint8Array;
  /** k_i: the device key allowed to sign uplink messages for this address. */
  devicePublicKey: Uint8Array;
  /** Validity window in ms since the epoch, notBefore ≤ t < notAfter. */
  notBefore: number;
  notAfter: number;
  signature: Uint8Array;
}

export type UnsignedPoolAuthorisation = Omit<PoolAuthorisation, 'poolPublicKey' | 'signature'>;

/** Wallet side: A_i's private key signs the grant for device key k_i. */
export function authorisePoolKey(poolPrivateKey: Uint8Array, grant: UnsignedPoolAuthorisation): PoolAuthorisation {
  const poolPublicKey = publicKeyFromPrivate(poolPrivateKey);
  const unsigned = { ...grant, poolPublicKey };
  checkFields(unsigned);
  return { ...unsigned, signature: sign(DOMAIN.poolAuthorisation, signedPayload(unsigned), poolPrivateKey) };
}

export function poolAuthorisationAddress(auth: Pick<PoolAuthorisation, 'poolPublicKey'>): string {
  return p2pkhAddress(auth.poolPublicKey);
}

export interface PoolAuthorisationCheck {
  /** The time at which the authorisation must be valid (ingest: receive time). */
  now: number;
  /** When given, the authorisation must be for this pool address. */
  poolAddress?: string;
  /** When given, the authorisation must be for this device key. */
  devicePublicKey?: Uint8Array;
}

/** Throws AUTH_MISMATCH / AUTH_NOT_YET_VALID / AUTH_EXPIRED / SIGNATURE_* / KEY_INVALID. */
export function verifyPoolAuthorisation(auth: PoolAuthorisation, check: PoolAuthorisationCheck): void {
  checkFields(auth);
  if (check.poolAddress !== undefined && poolAuthorisationAddress(auth) !== check.poolAddress) {
    throw new ProtocolError('AUTH_MISMATCH', `pool authorisation is for ${poolAuthorisationAddress(auth)}, not ${check.poolAddress}`);
  }
  if (check.devicePublicKey !== undefined && !equalBytes(check.devicePublicKey, auth.devicePublicKey)) {
    throw new ProtocolError('AUTH_MISMATCH', 'pool authorisation is for another device key');
  }
  verify(DOMAIN.poolAuthorisation, signedPayload(auth), auth.signature, auth.poolPublicKey);
  checkAuthorisationWindow(auth, check.now);
}

/** The cheap part of verification, re-run on every message even when the signature check is cached. */
export function checkAuthorisationWindow(auth: Pick<PoolAuthorisation, 'notBefore' | 'notAfter'>, now: number): void {
  if (now < auth.notBefore) {
    throw new ProtocolError('AUTH_NOT_YET_VALID', `pool authorisation is valid from ${new Date(auth.notBefore).toISOString()}`);
  }
  if (now >= auth.notAfter) {
    throw new ProtocolError('AUTH_EXPIRED', `pool authorisation expired at ${new Date(auth.notAfter).toISOString()}`);
  }
}

export function encodePoolAuthorisation(auth: PoolAuthorisation): Uint8Array {
  checkFields(auth);
  return new ByteWriter().raw(signedPayload(auth)).fixed(auth.signature, SIGNATURE_LENGTH).finish();
}

export function decodePoolAuthorisation(bytes: Uint8Array): PoolAuthorisation {
  const r = new ByteReader(bytes, 'pool authorisation');
  expectVersion(r, POOL_AUTHORISATION_VERSION, 'pool authorisation');
  const auth: PoolAuthorisation = {
    poolPublicKey: Uint8Array.from(r.take(33)),
    devicePublicKey: Uint8Array.from(r.take(33)),
    notBefore: r.u64Number('notBefore'),
    notAfter: r.u64Number('notAfter'),
    signature: Uint8Array.from(r.take(SIGNATURE_LENGTH)),
  };
  r.end();
  try {
    checkFields(auth);
  } catch (err) {
    if (err instanceof ProtocolError) throw new ProtocolError('DECODE_INVALID', err.message, { cause: err });
    throw err;
  }
  return auth;
}

/** The signed bytes: everything but the signature, in wire order. */
function signedPayload(auth: Omit<PoolAuthorisation, 'signature'>): Uint8Array {
  return new ByteWriter()
    .u8(POOL_AUTHORISATION_VERSION)
    .fixed(auth.poolPublicKey, 33)
    .fixed(auth.devicePublicKey, 33)
    .u64(auth.notBefore)
    .u64(auth.notAfter)
    .finish();
}

function checkFields(auth: Omit<PoolAuthorisation, 'signature'> & { signature?: Uint8Array }): void {
  assertPublicKey(auth.poolPublicKey);
  assertPublicKey(auth.devicePublicKey);
  if (auth.poolPublicKey.length !== 33 || auth.devicePublicKey.length !== 33) {
    throw new ProtocolError('KEY_INVALID', 'pool authorisation keys must be 33-byte compressed points');
  }
  for (const t of [auth.notBefore, auth.notAfter]) {
    if (!Number.isSafeInteger(t) || t < 0) throw new ProtocolError('AUTH_INVALID', 'pool authorisation times must be ms since the epoch');
  }
  if (auth.notBefore >= auth.notAfter) throw new ProtocolError('AUTH_INVALID', 'pool authorisation window is empty');
  if (auth.signature !== undefined && auth.signature.length !== SIGNATURE_LENGTH) {
    throw new ProtocolError('SIGNATURE_MALFORMED', `signature must be ${SIGNATURE_LENGTH} bytes`);
  }
}
