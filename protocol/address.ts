// Bitcoin-style P2PKH addresses: base58check(0x00 ‖ hash160(public key)), the owner's and pools' public names.
import { base58checkDecode, base58checkEncode } from './base58check.js';
import { ProtocolError } from './errors.js';
import { hash160 } from './hash.js';
import { assertPublicKeyAnyForm } from './signature.js';
import { concatBytes, equalBytes } from './wire.js';

/**
 * Bitcoin main-net P2PKH version byte: addresses start with '1'. Kept identical to Bitcoin so
 * that any wallet or block explorer tool can parse (not spend) CarChain addresses.
 */
export const P2PKH_VERSION = 0x00;
export const HASH160_LENGTH = 20;

/**
 * The P2PKH address of a public key. Use the 33-byte compressed form (what every CarChain key
 * uses); the 65-byte uncompressed form is accepted but yields a *different* address.
 * KEY_INVALID if the key is not a valid secp256k1 point.
 */
export function p2pkhAddress(publicKey: Uint8Array): string {
  assertPublicKeyAnyForm(publicKey);
  return base58checkEncode(concatBytes(Uint8Array.of(P2PKH_VERSION), hash160(publicKey)));
}

/**
 * The 20-byte hash160 inside a P2PKH address. CHECKSUM_MISMATCH for a bad checksum;
 * ADDRESS_INVALID for anything else (bad characters, too long, wrong length, wrong version —
 * e.g. a P2SH '3…' or test-net 'm…'/'n…' address).
 */
export function decodeAddress(address: string): Uint8Array {
  if (typeof address !== 'string') throw new TypeError('decodeAddress: expected a string');
  let payload: Uint8Array;
  try {
    payload = base58checkDecode(address);
  } catch (err) {
    if (err instanceof ProtocolError && err.code !== 'CHECKSUM_MISMATCH') {
      throw new ProtocolError('ADDRESS_INVALID', `address: ${err.message}`, { cause: err });
    }
    throw err;
  }
  if (payload.length !== 1 + HASH160_LENGTH) {
    throw new ProtocolError('ADDRESS_INVALID', `address: payload is ${payload.length} bytes, expected ${1 + HASH160_LENGTH}`);
  }
  if (payload[0] !== P2PKH_VERSION) {
    throw new ProtocolError('ADDRESS_INVALID', `address: version byte 0x${payload[0]!.toString(16).padStart(2, '0')}, expected 0x00 (P2PKH)`);
  }
  return payload.slice(1);
}

/** True when `text` is a well-formed main-net P2PKH address (any non-string is false). */
export function isAddress(text: string): boolean {
  if (typeof text !== 'string') return false;
  try {
    decodeAddress(text);
    return true;
  } catch (err) {
    if (err instanceof ProtocolError) return false;
    throw err;
  }
}

/**
 * True when `address` is the P2PKH address of exactly this public key encoding (compressed and
 * uncompressed forms of one point have different addresses). A malformed address or key throws
 * its ProtocolError rather than returning false, so "not yours" and "garbage" stay distinct.
 */
export function addressMatchesPublicKey(address: string, publicKey: Uint8Array): boolean {
  const expected = decodeAddress(address);
  assertPublicKeyAnyForm(publicKey);
  return equalBytes(expected, hash160(publicKey));
}
