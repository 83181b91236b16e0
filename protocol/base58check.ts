// Base58Check: Bitcoin's base58 text with a 4-byte double-SHA-256 checksum, for addresses and extended keys.
import { base58 } from '@scure/base';
import { ProtocolError } from './errors.js';
import { sha256 } from './hash.js';
import { concatBytes, equalBytes } from './wire.js';

/** Checksum bytes appended to the payload: the first 4 bytes of SHA-256(SHA-256(payload)). */
export const CHECKSUM_LENGTH = 4;

/**
 * Longest base58check text accepted. Base58 decoding is quadratic in the input length, so the
 * bound is what keeps a hostile string cheap to reject. 128 characters hold ≥ 93 bytes, more
 * than an extended key (82 bytes → 111 characters) or an address (25 bytes → ≤ 34 characters).
 */
export const MAX_BASE58CHECK_LENGTH = 128;

/** Plain base58 (Bitcoin alphabet, leading zero bytes ↔ leading '1's). */
export function base58Encode(bytes: Uint8Array): string {
  if (!(bytes instanceof Uint8Array)) throw new TypeError('base58Encode: expected Uint8Array');
  return base58.encode(bytes);
}

/**
 * Plain base58 decoding with an explicit length bound. Any character outside the alphabet
 * (including whitespace) is DECODE_INVALID; a longer text is DECODE_TOO_LARGE.
 */
export function base58Decode(text: string, maxLength = MAX_BASE58CHECK_LENGTH): Uint8Array {
  if (typeof text !== 'string') throw new TypeError('base58Decode: expected a string');
  if (text.length > maxLength) {
    throw new ProtocolError('DECODE_TOO_LARGE', `base58: ${text.length} characters, limit ${maxLength}`);
  }
  try {
    return base58.decode(text);
  } catch (cause) {
    throw new ProtocolError('DECODE_INVALID', 'base58: character outside the alphabet', { cause });
  }
}

function checksum(payload: Uint8Array): Uint8Array {
  return sha256(sha256(payload)).subarray(0, CHECKSUM_LENGTH);
}

/** base58(payload ‖ checksum). The payload must be non-empty (it starts with a version byte). */
export function base58checkEncode(payload: Uint8Array): string {
  if (!(payload instanceof Uint8Array)) throw new TypeError('base58checkEncode: expected Uint8Array');
  if (payload.length === 0) throw new RangeError('base58checkEncode: empty payload');
  const text = base58.encode(concatBytes(payload, checksum(payload)));
  // Refuse to produce text our own decoder would refuse.
  if (text.length > MAX_BASE58CHECK_LENGTH) {
    throw new RangeError(`base58checkEncode: ${text.length} characters exceeds ${MAX_BASE58CHECK_LENGTH}`);
  }
  return text;
}

/**
 * Decodes base58check text and returns the payload (without the checksum).
 * Errors: DECODE_TOO_LARGE (over the length bound), DECODE_INVALID (bad character, or fewer than
 * 1 payload byte + 4 checksum bytes), CHECKSUM_MISMATCH.
 */
export function base58checkDecode(text: string): Uint8Array {
  const raw = base58Decode(text, MAX_BASE58CHECK_LENGTH);
  if (raw.length < CHECKSUM_LENGTH + 1) {
    throw new ProtocolError('DECODE_INVALID', `base58check: ${raw.length} bytes is too short for payload and checksum`);
  }
  const payload = raw.subarray(0, raw.length - CHECKSUM_LENGTH);
  if (!equalBytes(raw.subarray(raw.length - CHECKSUM_LENGTH), checksum(payload))) {
    throw new ProtocolError('CHECKSUM_MISMATCH', 'base58check: checksum does not match');
  }
  return payload.slice();
}
