// Hash primitives used across protocol/: SHA-256 (OpenSSL via node:crypto), HMAC-SHA256, hash160, tagged hashes.
import { createHash, createHmac, type Hash } from 'node:crypto';
import { ripemd160 } from '@noble/hashes/legacy.js';
import { utf8 } from './wire.js';

export function sha256(...parts: Uint8Array[]): Uint8Array {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return new Uint8Array(h.digest());
}

export function hmacSha256(key: Uint8Array, ...parts: Uint8Array[]): Uint8Array {
  const h = createHmac('sha256', key);
  for (const p of parts) h.update(p);
  return new Uint8Array(h.digest());
}

/** RIPEMD-160(SHA-256(x)), as in Bitcoin P2PKH. RIPEMD-160 comes from @noble/hashes because
 *  OpenSSL 3 only offers it through the legacy provider. */
export function hash160(data: Uint8Array): Uint8Array {
  return ripemd160(sha256(data));
}

/**
 * BIP340-style tagged hash: SHA-256(SHA-256(tag) ‖ SHA-256(tag) ‖ parts…). A distinct tag per use
 * means a signature or digest made for one purpose can never be replayed as another.
 */
export function taggedHash(tag: string, ...parts: Uint8Array[]): Uint8Array {
  const h = taggedPrefix(tag).copy();
  for (const p of parts) h.update(p);
  return new Uint8Array(h.digest());
}

// The hash state after SHA-256(tag) ‖ SHA-256(tag), per tag: record ids, leaf and block hashes run
// this per record, and the prefix is a full 64-byte block. Tags are a fixed set of constants, so the
// memo stays small; it is bounded anyway against a caller passing arbitrary tags.
const TAG_PREFIX_LIMIT = 256;
const tagPrefixes = new Map<string, Hash>();

function taggedPrefix(tag: string): Hash {
  let prefix = tagPrefixes.get(tag);
  if (prefix === undefined) {
    const tagHash = sha256(utf8(tag));
    prefix = createHash('sha256').update(tagHash).update(tagHash);
    if (tagPrefixes.size >= TAG_PREFIX_LIMIT) tagPrefixes.clear();
    tagPrefixes.set(tag, prefix);
  }
  return prefix;
}
