// AES-GCM over node:crypto with the size policy the envelope relies on: full 16-byte tags, IVs of 96..1024 bits.
import { createCipheriv, createDecipheriv, type CipherGCMTypes } from 'node:crypto';
import { ProtocolError } from './errors.js';

/** Only full-length tags: node would otherwise accept 4..15-byte tags, each cutting forgery cost. */
export const AES_GCM_TAG_BYTES = 16;
/** 96 bits is the IV size GCM is designed around; shorter IVs make random-IV collisions likely. */
export const AES_GCM_MIN_IV_BYTES = 12;
/** OpenSSL's limit (node refuses longer GCM IVs); checked here so the refusal is ours and typed. */
export const AES_GCM_MAX_IV_BYTES = 128;

export interface AesGcmSealed {
  ciphertext: Uint8Array;
  tag: Uint8Array;
}

/**
 * AES-GCM encryption. key: 16, 24 or 32 bytes; iv: 12..128 bytes (12 is the envelope's; longer IVs
 * are GHASHed per SP 800-38D); returns the ciphertext (same length as the plaintext) and a 16-byte tag.
 * Unsupported sizes are programmer errors: RangeError.
 */
export function aesGcmSeal(key: Uint8Array, iv: Uint8Array, plaintext: Uint8Array, aad: Uint8Array): AesGcmSealed {
  const algorithm = checkParameters('aesGcmSeal', key, iv, plaintext, aad);
  const cipher = createCipheriv(algorithm, key, iv, { authTagLength: AES_GCM_TAG_BYTES });
  cipher.setAAD(aad);
  const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return { ciphertext: toBytes(ciphertext), tag: toBytes(cipher.getAuthTag()) };
}

/**
 * AES-GCM decryption. Throws ENVELOPE_OPEN_FAILED when the tag does not verify (wrong key, IV, AAD,
 * tampered ciphertext or tag) — one generic error; no plaintext is ever returned unauthenticated.
 * A tag that is not exactly 16 bytes is refused up front with a RangeError.
 */
export function aesGcmOpen(key: Uint8Array, iv: Uint8Array, ciphertext: Uint8Array, tag: Uint8Array, aad: Uint8Array): Uint8Array {
  const algorithm = checkParameters('aesGcmOpen', key, iv, ciphertext, aad);
  if (!(tag instanceof Uint8Array)) throw new TypeError('aesGcmOpen: tag must be a Uint8Array');
  if (tag.length !== AES_GCM_TAG_BYTES) {
    throw new RangeError(`aesGcmOpen: tag must be ${AES_GCM_TAG_BYTES} bytes, got ${tag.length} (truncated tags are refused)`);
  }
  const decipher = createDecipheriv(algorithm, key, iv, { authTagLength: AES_GCM_TAG_BYTES });
  decipher.setAuthTag(tag);
  decipher.setAAD(aad);
  const unauthenticated = decipher.update(ciphertext);
  try {
    return toBytes(Buffer.concat([unauthenticated, decipher.final()]));
  } catch {
    unauthenticated.fill(0);
    throw new ProtocolError('ENVELOPE_OPEN_FAILED', 'envelope: authentication failed');
  }
}

function checkParameters(what: string, key: Uint8Array, iv: Uint8Array, data: Uint8Array, aad: Uint8Array): CipherGCMTypes {
  for (const [name, value] of [['key', key], ['iv', iv], ['data', data], ['aad', aad]] as const) {
    if (!(value instanceof Uint8Array)) throw new TypeError(`${what}: ${name} must be a Uint8Array`);
  }
  if (iv.length < AES_GCM_MIN_IV_BYTES || iv.length > AES_GCM_MAX_IV_BYTES) {
    throw new RangeError(`${what}: IV must be ${AES_GCM_MIN_IV_BYTES}..${AES_GCM_MAX_IV_BYTES} bytes, got ${iv.length}`);
  }
  switch (key.length) {
    case 16:
      return 'aes-128-gcm';
    case 24:
      return 'aes-192-gcm';
    case 32:
      return 'aes-256-gcm';
    default:
      throw new RangeError(`${what}: key must be 16, 24 or 32 bytes, got ${key.length}`);
  }
}

/** A plain copy: small Buffers are views into node's shared pool, which callers must not see. */
function toBytes(buffer: Buffer): Uint8Array {
  return new Uint8Array(buffer);
}
