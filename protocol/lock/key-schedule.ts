// Session cryptography of the car lock: secp256k1 ECDH, HKDF-SHA256 key schedule, AES-256-GCM frames with counter nonces.
//
// Why these choices (docs/car-lock.md §Key schedule): fresh ephemeral keys on both sides give
// forward secrecy; the transcript hash as HKDF salt binds every key to everything said so far;
// one key per direction plus a direction constant in the nonce means a frame can never be
// reflected back to its sender; a strictly increasing counter as the nonce means a (key, nonce)
// pair is never used twice, which is the one rule AES-GCM cannot survive breaking.
import { hkdfSync } from 'node:crypto';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import * as ecc from 'tiny-secp256k1';
import { aesGcmOpen, aesGcmSeal, AES_GCM_TAG_BYTES } from '../aead.js';
import { ProtocolError } from '../errors.js';
import { publicKeyFromPrivate, randomPrivateKey } from '../signature.js';
import { concatBytes, utf8 } from '../wire.js';
import { LockError } from './errors.js';

export const SESSION_KEY_BYTES = 32;
export const NONCE_BYTES = 12;
export const TAG_BYTES = AES_GCM_TAG_BYTES;
/** Counters are u32 on the wire; the maximum is reserved so a counter can never wrap. */
export const MAX_COUNTER = 0xffffffff;

export type Direction = 'phoneToLock' | 'lockToPhone';
/** Written into every nonce, so the same counter under a swapped key still gives a different nonce. */
const DIRECTION_WORD: Record<Direction, number> = { phoneToLock: 0x50324c00, lockToPhone: 0x4c325000 };

const INFO = {
  auth: 'carchain/v1/lock/auth phone->lock',
  phoneToLock: 'carchain/v1/lock/cmd phone->lock',
  lockToPhone: 'carchain/v1/lock/rsp lock->phone',
} as const;

export interface EphemeralKeyPair {
  privateKey: Uint8Array;
  publicKey: Uint8Array;
}

export function ephemeralKeyPair(randomBytes?: (n: number) => Uint8Array): EphemeralKeyPair {
  const privateKey = randomPrivateKey(randomBytes);
  return { privateKey, publicKey: publicKeyFromPrivate(privateKey) };
}

/**
 * The x coordinate of privateKey · publicKey (SEC1 ECDH, as Wycheproof defines it). The public key
 * may be 33-byte compressed or 65-byte uncompressed; anything that is not a point of the curve
 * (wrong length, hybrid prefix, off-curve, the point at infinity, x ≥ p) is BAD_POINT.
 *
 * Two libraries on purpose: @noble/curves parses and validates the point (explicit, audited
 * checks, one error path), libsecp256k1 (tiny-secp256k1, as for signatures) does the constant-time
 * multiplication — ≈ 3× faster than noble's generic-point multiply on the dongle-class CPU,
 * which is most of the handshake's budget (docs/car-lock.md §Performance).
 */
export function ecdhSharedSecret(privateKey: Uint8Array, publicKey: Uint8Array): Uint8Array {
  if (!(publicKey instanceof Uint8Array) || !(publicKey.length === 33 || publicKey.length === 65)) {
    throw new LockError('BAD_POINT', 'public key must be a 33- or 65-byte SEC1 point');
  }
  const prefix = publicKey[0];
  if ((publicKey.length === 33 && prefix !== 0x02 && prefix !== 0x03) || (publicKey.length === 65 && prefix !== 0x04)) {
    throw new LockError('BAD_POINT', `public key prefix 0x${(prefix ?? 0).toString(16)} is not allowed`);
  }
  try {
    secp256k1.Point.fromBytes(publicKey).assertValidity();
  } catch (cause) {
    throw new LockError('BAD_POINT', 'public key is not a point on secp256k1', { cause });
  }
  if (!ecc.isPrivate(privateKey)) throw new RangeError('ecdh: private key is not a scalar in [1, n-1]');
  const point = ecc.pointMultiply(publicKey, privateKey, true);
  // Unreachable for a valid point of the prime-order group and a scalar in [1, n-1]; checked anyway.
  if (point === null) throw new LockError('BAD_POINT', 'shared point is the point at infinity');
  return point.slice(1);
}

/** RFC 5869 HKDF-SHA256 (extract then expand). Output length 1..8160 bytes (RangeError otherwise). */
export function hkdfSha256(ikm: Uint8Array, salt: Uint8Array, info: Uint8Array, length: number): Uint8Array {
  if (!Number.isInteger(length) || length < 1 || length > 255 * 32) throw new RangeError(`hkdf: length ${length} outside 1..8160`);
  return new Uint8Array(hkdfSync('sha256', ikm, salt, info, length));
}

/** The key that encrypts AUTH: salt = transcript hash after CHALLENGE (th1). Used for exactly one frame. */
export function deriveAuthKey(sharedSecret: Uint8Array, th1: Uint8Array): Uint8Array {
  return hkdfSha256(sharedSecret, th1, utf8(INFO.auth), SESSION_KEY_BYTES);
}

export interface SessionKeys {
  phoneToLock: Uint8Array;
  lockToPhone: Uint8Array;
}

/** The two command-phase keys: salt = transcript hash after AUTH (th2), one key per direction. */
export function deriveSessionKeys(sharedSecret: Uint8Array, th2: Uint8Array): SessionKeys {
  return {
    phoneToLock: hkdfSha256(sharedSecret, th2, utf8(INFO.phoneToLock), SESSION_KEY_BYTES),
    lockToPhone: hkdfSha256(sharedSecret, th2, utf8(INFO.lockToPhone), SESSION_KEY_BYTES),
  };
}

/** direction word u32 ‖ counter u64, big-endian. */
export function frameNonce(direction: Direction, counter: number): Uint8Array {
  if (!Number.isInteger(counter) || counter < 0 || counter > MAX_COUNTER) throw new RangeError(`counter ${counter}`);
  const nonce = new Uint8Array(NONCE_BYTES);
  const view = new DataView(nonce.buffer);
  view.setUint32(0, DIRECTION_WORD[direction]);
  view.setBigUint64(4, BigInt(counter));
  return nonce;
}

/** AES-256-GCM: ciphertext ‖ 16-byte tag. The one AEAD entry point of the lock protocol (tested against Wycheproof). */
export function sealAead(key: Uint8Array, iv: Uint8Array, plaintext: Uint8Array, aad: Uint8Array): Uint8Array {
  const sealed = aesGcmSeal(key, iv, plaintext, aad);
  return concatBytes(sealed.ciphertext, sealed.tag);
}

/** Opens ciphertext ‖ tag; DECRYPT_FAILED on any mismatch (key, IV, AAD, any bit). */
export function openAead(key: Uint8Array, iv: Uint8Array, sealed: Uint8Array, aad: Uint8Array): Uint8Array {
  if (sealed.length < TAG_BYTES) throw new LockError('BAD_FRAME', 'encrypted field shorter than its tag');
  const split = sealed.length - TAG_BYTES;
  try {
    return aesGcmOpen(key, iv, sealed.subarray(0, split), sealed.subarray(split), aad);
  } catch (err) {
    if (err instanceof ProtocolError) throw new LockError('DECRYPT_FAILED', 'frame does not authenticate', { cause: err });
    throw err;
  }
}

/** Seals a frame body under the direction's key with the counter nonce. */
export function sealFrame(key: Uint8Array, direction: Direction, counter: number, plaintext: Uint8Array, aad: Uint8Array): Uint8Array {
  return sealAead(key, frameNonce(direction, counter), plaintext, aad);
}

/** Opens a frame body; DECRYPT_FAILED for a wrong key, direction, counter, AAD or any flipped bit. */
export function openFrame(key: Uint8Array, direction: Direction, counter: number, sealed: Uint8Array, aad: Uint8Array): Uint8Array {
  return openAead(key, frameNonce(direction, counter), sealed, aad);
}
