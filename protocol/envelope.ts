// The value envelope: a record value sealed with AES-256-GCM under a fresh key wrapped by RSA-OAEP to the owner.
//
// Both layers are bound to the record's slot (version, pool address, format, encoded key): the AAD
// authenticates the ciphertext to it and the OAEP label binds the wrapped key to it, so neither a
// ciphertext nor a (re-)wrapped key can be moved to another record. Layout: docs/protocol/envelope.md.
import { randomBytes as nodeRandomBytes, type KeyObject } from 'node:crypto';
import { aesGcmOpen, aesGcmSeal } from './aead.js';
import { ProtocolError } from './errors.js';
import { taggedHash } from './hash.js';
import { oaepUnwrap, oaepWrap } from './rsa.js';
import { ByteReader, ByteWriter, expectVersion } from './wire.js';

export const ENVELOPE_VERSION = 1;
/** Largest value an envelope carries: 256 KiB, far above any record format, small enough to buffer. */
export const MAX_PLAINTEXT_BYTES = 256 * 1024;
/** RSA-OAEP output is the modulus size: 2048..4096-bit keys. */
export const WRAPPED_KEY_MIN_BYTES = 256;
export const WRAPPED_KEY_MAX_BYTES = 512;
export const ENVELOPE_IV_BYTES = 12;
export const ENVELOPE_TAG_BYTES = 16;
export const CONTENT_KEY_BYTES = 32;
/** version + varint(512) + 512 + iv + tag + varint(2^18) + 2^18. */
export const MAX_ENVELOPE_BYTES = 1 + 2 + WRAPPED_KEY_MAX_BYTES + ENVELOPE_IV_BYTES + ENVELOPE_TAG_BYTES + 3 + MAX_PLAINTEXT_BYTES;
/** BIP340-style tag of the OAEP label: separates it from every other hash of the same AAD. */
export const ENVELOPE_KEY_LABEL_TAG = 'carchain/v1/envelope-key';

/** What the AAD binds: the record's pool address, format name and order-preserving encoded key. */
export interface EnvelopeSlot {
  address: string;
  format: string;
  encodedKey: Uint8Array;
}

export interface Envelope {
  version: number;
  wrappedKey: Uint8Array;
  iv: Uint8Array;
  ciphertext: Uint8Array;
  tag: Uint8Array;
}

type RandomBytes = (n: number) => Uint8Array;

/** AAD = u8 version ‖ string address ‖ string format ‖ bytes encodedKey (varint-length-prefixed). */
export function envelopeAad(slot: EnvelopeSlot): Uint8Array {
  if (typeof slot !== 'object' || slot === null) throw new TypeError('envelope slot: expected an object');
  const { address, format, encodedKey } = slot;
  checkName(address, 'address');
  checkName(format, 'format');
  if (!(encodedKey instanceof Uint8Array)) throw new TypeError('envelope slot: encodedKey must be a Uint8Array');
  return new ByteWriter().u8(ENVELOPE_VERSION).string(address).string(format).bytes(encodedKey).finish();
}

/**
 * Seals a value to the owner's RSA public key for one slot. randomBytes is drawn in a fixed order —
 * content key (32), IV (12), OAEP seed (32) — so a deterministic source gives reproducible bytes.
 */
export function sealValue(
  ownerPublicKey: KeyObject,
  slot: EnvelopeSlot,
  plaintext: Uint8Array,
  randomBytes: RandomBytes = nodeRandomBytes,
): Envelope {
  if (!(plaintext instanceof Uint8Array)) throw new TypeError('sealValue: plaintext must be a Uint8Array');
  if (plaintext.length > MAX_PLAINTEXT_BYTES) {
    throw new RangeError(`sealValue: value of ${plaintext.length} bytes exceeds ${MAX_PLAINTEXT_BYTES}`);
  }
  const aad = envelopeAad(slot);
  const contentKey = draw(randomBytes, CONTENT_KEY_BYTES);
  const iv = draw(randomBytes, ENVELOPE_IV_BYTES);
  try {
    const { ciphertext, tag } = aesGcmSeal(contentKey, iv, plaintext, aad);
    const wrappedKey = oaepWrap(ownerPublicKey, contentKey, keyLabel(aad), randomBytes);
    return { version: ENVELOPE_VERSION, wrappedKey, iv, ciphertext, tag };
  } finally {
    contentKey.fill(0);
  }
}

/**
 * Opens an envelope with the owner's private key, or with a grantee's key and the wrappedKey that was
 * re-wrapped for that grantee. Every cryptographic failure — wrong key, wrong slot, any tampered
 * byte — is ENVELOPE_OPEN_FAILED; a slot mismatch cannot be told apart without acting as an oracle.
 */
export function openValue(privateKey: KeyObject, slot: EnvelopeSlot, envelope: Envelope, wrappedKey?: Uint8Array): Uint8Array {
  checkEnvelope(envelope);
  const aad = envelopeAad(slot);
  const contentKey = unwrapWithAad(privateKey, aad, wrappedKey ?? envelope.wrappedKey);
  try {
    return aesGcmOpen(contentKey, envelope.iv, envelope.ciphertext, envelope.tag, aad);
  } finally {
    contentKey.fill(0);
  }
}

/** Recovers the 32-byte content key of a slot's envelope (ENVELOPE_OPEN_FAILED on any failure). */
export function unwrapContentKey(privateKey: KeyObject, slot: EnvelopeSlot, wrappedKey: Uint8Array): Uint8Array {
  return unwrapWithAad(privateKey, envelopeAad(slot), wrappedKey);
}

/**
 * Sharing: unwraps the content key with the owner's key and wraps it to the grantee's key for the
 * same slot. The ciphertext is untouched; the grantee opens it with openValue(…, wrappedKey).
 */
export function rewrapContentKey(
  ownerPrivateKey: KeyObject,
  slot: EnvelopeSlot,
  wrappedKey: Uint8Array,
  granteePublicKey: KeyObject,
  randomBytes: RandomBytes = nodeRandomBytes,
): Uint8Array {
  const aad = envelopeAad(slot);
  const contentKey = unwrapWithAad(ownerPrivateKey, aad, wrappedKey);
  try {
    return oaepWrap(granteePublicKey, contentKey, keyLabel(aad), randomBytes);
  } finally {
    contentKey.fill(0);
  }
}

/** version u8 ‖ bytes wrappedKey ‖ iv (12) ‖ tag (16) ‖ bytes ciphertext. RangeError on an invalid envelope. */
export function encodeEnvelope(envelope: Envelope): Uint8Array {
  try {
    checkEnvelope(envelope);
  } catch (err) {
    if (err instanceof ProtocolError) throw new RangeError(`encodeEnvelope: ${err.message}`, { cause: err });
    throw err;
  }
  return new ByteWriter()
    .u8(envelope.version)
    .bytes(envelope.wrappedKey)
    .fixed(envelope.iv, ENVELOPE_IV_BYTES)
    .fixed(envelope.tag, ENVELOPE_TAG_BYTES)
    .bytes(envelope.ciphertext)
    .finish();
}

/** Strict decoder: typed ProtocolErrors for bad version, sizes, truncation and trailing bytes. */
export function decodeEnvelope(bytes: Uint8Array): Envelope {
  if (!(bytes instanceof Uint8Array)) throw new TypeError('decodeEnvelope: expected Uint8Array');
  if (bytes.length > MAX_ENVELOPE_BYTES) {
    throw new ProtocolError('DECODE_TOO_LARGE', `envelope: ${bytes.length} bytes exceeds ${MAX_ENVELOPE_BYTES}`);
  }
  const reader = new ByteReader(bytes, 'envelope');
  expectVersion(reader, ENVELOPE_VERSION, 'envelope');
  const wrappedKey = reader.bytes(WRAPPED_KEY_MAX_BYTES, 'wrappedKey').slice();
  if (wrappedKey.length < WRAPPED_KEY_MIN_BYTES) {
    throw new ProtocolError('DECODE_INVALID', `envelope: wrappedKey of ${wrappedKey.length} bytes, minimum ${WRAPPED_KEY_MIN_BYTES}`);
  }
  const iv = reader.take(ENVELOPE_IV_BYTES).slice();
  const tag = reader.take(ENVELOPE_TAG_BYTES).slice();
  const ciphertext = reader.bytes(MAX_PLAINTEXT_BYTES, 'ciphertext').slice();
  reader.end();
  return { version: ENVELOPE_VERSION, wrappedKey, iv, ciphertext, tag };
}

/** OAEP label = taggedHash("carchain/v1/envelope-key", AAD): binds the wrapped key to the slot. */
function keyLabel(aad: Uint8Array): Uint8Array {
  return taggedHash(ENVELOPE_KEY_LABEL_TAG, aad);
}

function unwrapWithAad(privateKey: KeyObject, aad: Uint8Array, wrappedKey: Uint8Array): Uint8Array {
  if (!(wrappedKey instanceof Uint8Array)) throw new TypeError('envelope: wrappedKey must be a Uint8Array');
  const contentKey = oaepUnwrap(privateKey, wrappedKey, keyLabel(aad));
  if (contentKey.length !== CONTENT_KEY_BYTES) {
    // A valid OAEP ciphertext of something else (anyone can make one with the public key): same failure.
    contentKey.fill(0);
    throw new ProtocolError('ENVELOPE_OPEN_FAILED', 'envelope: cannot unwrap the content key');
  }
  return contentKey;
}

/** Structural checks shared by the decoder's callers and openValue (which may get a hand-built object). */
function checkEnvelope(envelope: Envelope): void {
  if (typeof envelope !== 'object' || envelope === null) throw new TypeError('envelope: expected an object');
  const { version, wrappedKey, iv, ciphertext, tag } = envelope;
  for (const [name, value] of [['wrappedKey', wrappedKey], ['iv', iv], ['ciphertext', ciphertext], ['tag', tag]] as const) {
    if (!(value instanceof Uint8Array)) throw new TypeError(`envelope: ${name} must be a Uint8Array`);
  }
  if (version !== ENVELOPE_VERSION) {
    throw new ProtocolError('UNSUPPORTED_VERSION', `envelope: version ${version}, this implementation reads ${ENVELOPE_VERSION}`);
  }
  if (wrappedKey.length > WRAPPED_KEY_MAX_BYTES) {
    throw new ProtocolError('DECODE_TOO_LARGE', `envelope: wrappedKey of ${wrappedKey.length} bytes, limit ${WRAPPED_KEY_MAX_BYTES}`);
  }
  if (wrappedKey.length < WRAPPED_KEY_MIN_BYTES) {
    throw new ProtocolError('DECODE_INVALID', `envelope: wrappedKey of ${wrappedKey.length} bytes, minimum ${WRAPPED_KEY_MIN_BYTES}`);
  }
  if (iv.length !== ENVELOPE_IV_BYTES) throw new ProtocolError('DECODE_INVALID', `envelope: iv must be ${ENVELOPE_IV_BYTES} bytes`);
  if (tag.length !== ENVELOPE_TAG_BYTES) throw new ProtocolError('DECODE_INVALID', `envelope: tag must be ${ENVELOPE_TAG_BYTES} bytes`);
  if (ciphertext.length > MAX_PLAINTEXT_BYTES) {
    throw new ProtocolError('DECODE_TOO_LARGE', `envelope: ciphertext of ${ciphertext.length} bytes, limit ${MAX_PLAINTEXT_BYTES}`);
  }
}

function checkName(value: unknown, field: string): asserts value is string {
  if (typeof value !== 'string') throw new TypeError(`envelope slot: ${field} must be a string`);
  if (value.length === 0) throw new RangeError(`envelope slot: ${field} is empty`);
  // A lone surrogate would be UTF-8-encoded as U+FFFD, letting two different slots share one AAD.
  if (!WELL_FORMED_UTF16.test(value)) throw new RangeError(`envelope slot: ${field} is not well-formed Unicode`);
}

const WELL_FORMED_UTF16 = /^(?:[^\uD800-\uDFFF]|[\uD800-\uDBFF][\uDC00-\uDFFF])*$/;

function draw(randomBytes: RandomBytes, length: number): Uint8Array {
  const bytes = randomBytes(length);
  if (!(bytes instanceof Uint8Array) || bytes.length !== length) {
    throw new TypeError(`envelope: randomBytes(${length}) returned the wrong number of bytes`);
  }
  return Uint8Array.from(bytes); // own copy: the content key is zeroed after use
}
