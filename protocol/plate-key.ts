// The WriteGrant's plateKey: a keyed hash of a licence plate that only the granting owner and the named shop can compute.
//
// The key is the secp256k1 ECDH secret of the owner's identity key and the shop's key, so the chain
// (which publishes every plateKey) never gives anyone else a way to test plates: the plate space is
// small enough (~10^10 Chinese plates) that an unkeyed or publicly keyed hash would be brute-forced.
// The owner derives it from (owner private, shop public); the terminal from (shop private, grantor
// public, which the chain returns with each grant). Pure: no I/O.
import { hmacSha256, taggedHash } from './hash.js';
import { ecdhSharedSecret } from './lock/key-schedule.js';
import { CarchainError } from './errors.js';
import { utf8 } from './wire.js';

export const PLATE_KEY_LENGTH = 32;

export class PlateKeyError extends CarchainError<'PLATE_INVALID'> {}
const MAX_PLATE_CHARS = 16;

/**
 * The canonical form hashed: NFKC, separators (`·`, `・`, `•`, `.`, `-`, spaces) removed, Latin letters
 * upper-cased. `皖A·12345`, `皖a 12345` and `皖A12345` are one plate. Throws PLATE_INVALID when empty.
 */
export function canonicalPlate(text: string): string {
  const plate = text.normalize('NFKC').replace(/[\s·・•.-]/gu, '').toUpperCase();
  if (plate.length === 0 || [...plate].length > MAX_PLATE_CHARS) {
    throw new PlateKeyError('PLATE_INVALID', `plate must be 1..${MAX_PLATE_CHARS} characters after removing separators`);
  }
  return plate;
}

/** The secret both sides derive: taggedHash('carchain/v1/plate-key-secret', ECDH x-coordinate). */
export function plateKeySecret(privateKey: Uint8Array, peerPublicKey: Uint8Array): Uint8Array {
  return taggedHash('carchain/v1/plate-key-secret', ecdhSharedSecret(privateKey, peerPublicKey));
}

/** plateKey = HMAC-SHA256(secret, "carchain/v1/plate-key:" ‖ UTF-8 of the canonical plate). */
export function plateKeyWith(secret: Uint8Array, plate: string): Uint8Array {
  return hmacSha256(secret, utf8(`carchain/v1/plate-key:${canonicalPlate(plate)}`));
}

/** Convenience for one-off derivations (the owner issuing one grant). */
export function plateKey(privateKey: Uint8Array, peerPublicKey: Uint8Array, plate: string): Uint8Array {
  return plateKeyWith(plateKeySecret(privateKey, peerPublicKey), plate);
}
