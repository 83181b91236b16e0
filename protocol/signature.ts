// Domain-tagged, low-S secp256k1 ECDSA (libsecp256k1) and strict DER conversion.
//
// Why libsecp256k1: the reference implementation, constant time. Signing uses its WASM build
// (tiny-secp256k1: ≈ 9k sign/s on the dev box, runs unchanged on ARM dongles); verification uses
// its native build where that loads — validators verify every tx — else the WASM one
// (secp256k1-verifier.ts). For comparison: ≈ 0.7k verify/s for @noble/curves, ≈ 2.1k/s for node:crypto.
import { randomBytes as nodeRandomBytes } from 'node:crypto';
import * as ecc from 'tiny-secp256k1';
import { ProtocolError } from './errors.js';
import { taggedHash } from './hash.js';
import { secp256k1Verifier } from './secp256k1-verifier.js';

/** Compact signature: r ‖ s, 32 bytes each, big-endian. */
export const SIGNATURE_LENGTH = 64;
export const PRIVATE_KEY_LENGTH = 32;
export const PUBLIC_KEY_LENGTH = 33;
export const DIGEST_LENGTH = 32;

/**
 * Every signature is made over taggedHash(domain, message). The tag names the purpose, so a
 * signature produced for one message type can never be replayed as another, even if the bytes
 * of two messages happen to coincide. Add a tag for every new signed structure; never reuse one.
 */
export const DOMAIN = {
  poolAuthorisation: 'carchain/v1/pool-authorisation',
  poolMaterial: 'carchain/v1/pool-material',
  uplinkRoot: 'carchain/v1/uplink-root',
  deviceSetup: 'carchain/v1/device-setup',
  deviceReset: 'carchain/v1/device-reset',
  chainTransaction: 'carchain/v1/chain-transaction',
  chainVote: 'carchain/v1/chain-vote',
  chainPeer: 'carchain/v1/chain-peer',
  vehicleTransferAcceptance: 'carchain/v1/vehicle-transfer-acceptance',
  lockKeySet: 'carchain/v1/lock-key-set',
  lockCommand: 'carchain/v1/lock-command',
  caitSighting: 'carchain/v1/cait-sighting',
  lockHandshake: 'carchain/v1/lock-handshake',
  lockAudit: 'carchain/v1/lock-audit',
} as const;

export type SignatureDomain = (typeof DOMAIN)[keyof typeof DOMAIN];

const KNOWN_DOMAINS: ReadonlySet<string> = new Set(Object.values(DOMAIN));

/** secp256k1 group order n. */
export const CURVE_ORDER = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;
const HALF_ORDER = CURVE_ORDER >> 1n;

function assertBytes(value: unknown, what: string): asserts value is Uint8Array {
  if (!(value instanceof Uint8Array)) throw new TypeError(`${what}: expected Uint8Array`);
}

function bytesToBigInt(bytes: Uint8Array): bigint {
  let v = 0n;
  for (const b of bytes) v = (v << 8n) | BigInt(b);
  return v;
}

function bigIntTo32Bytes(value: bigint): Uint8Array {
  const out = new Uint8Array(32);
  let v = value;
  for (let i = 31; i >= 0; i--) {
    out[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  return out;
}

/** The digest that is actually signed: BIP340-style taggedHash(domain, message). */
export function signatureDigest(domain: SignatureDomain, message: Uint8Array): Uint8Array {
  if (typeof domain !== 'string' || !KNOWN_DOMAINS.has(domain)) {
    throw new ProtocolError('DOMAIN_INVALID', `unknown signature domain ${JSON.stringify(domain)}`);
  }
  assertBytes(message, 'message');
  return taggedHash(domain, message);
}

/** Signs taggedHash(domain, message): RFC 6979 deterministic nonce, low-S, 64-byte compact. */
export function sign(domain: SignatureDomain, message: Uint8Array, privateKey: Uint8Array): Uint8Array {
  return signDigest(signatureDigest(domain, message), privateKey);
}

/** Throws SIGNATURE_MALFORMED / SIGNATURE_HIGH_S / KEY_INVALID / SIGNATURE_INVALID. */
export function verify(domain: SignatureDomain, message: Uint8Array, signature: Uint8Array, publicKey: Uint8Array): void {
  assertPointEncoding(publicKey, false);
  verifyDigest(signatureDigest(domain, message), signature, publicKey);
}

/** Boolean form of `verify`: false for any ProtocolError; programmer errors still throw. */
export function isValidSignature(
  domain: SignatureDomain,
  message: Uint8Array,
  signature: Uint8Array,
  publicKey: Uint8Array,
): boolean {
  try {
    verify(domain, message, signature, publicKey);
    return true;
  } catch (err) {
    if (err instanceof ProtocolError) return false;
    throw err;
  }
}

function assertDigest(digest: unknown): asserts digest is Uint8Array {
  assertBytes(digest, 'digest');
  if (digest.length !== DIGEST_LENGTH) throw new RangeError(`digest: expected ${DIGEST_LENGTH} bytes, got ${digest.length}`);
}

function assertPrivateKey(privateKey: unknown): asserts privateKey is Uint8Array {
  assertBytes(privateKey, 'privateKey');
  if (!ecc.isPrivate(privateKey)) {
    throw new ProtocolError('KEY_INVALID', 'private key is not a 32-byte scalar in [1, n-1]');
  }
}

/** Signs a 32-byte digest as is. Prefer `sign`, which adds the domain tag. */
export function signDigest(digest: Uint8Array, privateKey: Uint8Array): Uint8Array {
  assertDigest(digest);
  assertPrivateKey(privateKey);
  // libsecp256k1 always normalises s to the lower half; checked anyway because a high-S
  // signature leaving this function would be rejected by every verifier.
  const signature = ecc.sign(digest, privateKey);
  if (bytesToBigInt(signature.subarray(32)) > HALF_ORDER) throw new Error('signDigest: library produced a high-S signature');
  return signature;
}

/** Splits a compact signature and enforces 0 < r, s < n and s ≤ n/2. */
function checkCompact(signature: unknown): { r: bigint; s: bigint } {
  assertBytes(signature, 'signature');
  if (signature.length !== SIGNATURE_LENGTH) {
    throw new ProtocolError('SIGNATURE_MALFORMED', `signature is ${signature.length} bytes, expected ${SIGNATURE_LENGTH}`);
  }
  const r = bytesToBigInt(signature.subarray(0, 32));
  const s = bytesToBigInt(signature.subarray(32));
  if (r === 0n || r >= CURVE_ORDER) throw new ProtocolError('SIGNATURE_MALFORMED', 'signature r is 0 or ≥ n');
  if (s === 0n || s >= CURVE_ORDER) throw new ProtocolError('SIGNATURE_MALFORMED', 'signature s is 0 or ≥ n');
  return { r, s };
}

/**
 * Verifies a compact signature over a 32-byte digest. The public key may be 33-byte compressed
 * or 65-byte uncompressed (0x04 prefix; kept for published vectors). High-S is refused here,
 * before the library is called, so the rule does not depend on a library flag.
 */
export function verifyDigest(digest: Uint8Array, signature: Uint8Array, publicKey: Uint8Array): void {
  assertDigest(digest);
  const { s } = checkCompact(signature);
  if (s > HALF_ORDER) throw new ProtocolError('SIGNATURE_HIGH_S', 'signature s > n/2 (malleable form)');
  assertPointEncoding(publicKey, true);
  // The curve check is left to libsecp256k1's own key parsing inside verify: a separate isPoint
  // call decompresses the key a second time, which cost validators ~10 % of their CPU.
  const outcome = secp256k1Verifier.verify(digest, publicKey, signature);
  if (outcome === 'bad-key') throw new ProtocolError('KEY_INVALID', 'public key is not a valid secp256k1 point');
  if (outcome === 'invalid') throw new ProtocolError('SIGNATURE_INVALID', 'signature does not verify');
}

/**
 * Strict DER (the BIP66 rules, without the sighash byte) → 64-byte compact.
 * SEQUENCE { INTEGER r, INTEGER s }, short-form lengths only, no trailing bytes, no negative
 * integers, no superfluous leading 0x00, each integer at most 32 significant bytes.
 * Range (0 < r, s < n) and low-S are checked at verification, not here.
 */
export function decodeDerSignature(der: Uint8Array): Uint8Array {
  assertBytes(der, 'der');
  const fail = (why: string): never => {
    throw new ProtocolError('SIGNATURE_MALFORMED', `DER signature: ${why}`);
  };
  // 0x30 len 0x02 lenR R 0x02 lenS S: at least 1 byte per integer, at most 33.
  if (der.length < 8 || der.length > 72) fail(`length ${der.length} outside 8..72`);
  if (der[0] !== 0x30) fail('not a SEQUENCE');
  if (der[1] !== der.length - 2) fail('SEQUENCE length does not cover exactly the rest of the input');
  const r = readDerInteger(der, 2, fail);
  const s = readDerInteger(der, r.next, fail);
  if (s.next !== der.length) fail('bytes after the second INTEGER');
  const out = new Uint8Array(SIGNATURE_LENGTH);
  out.set(r.value, 32 - r.value.length);
  out.set(s.value, 64 - s.value.length);
  return out;
}

function readDerInteger(
  der: Uint8Array,
  offset: number,
  fail: (why: string) => never,
): { value: Uint8Array; next: number } {
  if (der[offset] !== 0x02) fail(`expected INTEGER at offset ${offset}`);
  const length = der[offset + 1];
  if (length === undefined) return fail('truncated INTEGER header');
  // Lengths ≥ 0x80 would be long-form (BER); they also exceed what a 32-byte integer needs.
  if (length === 0) fail('zero-length INTEGER');
  if (length > 33) fail(`INTEGER of ${length} bytes`);
  const start = offset + 2;
  const end = start + length;
  if (end > der.length) fail('INTEGER runs past the end');
  const first = der[start]!;
  if (first & 0x80) fail('negative INTEGER');
  if (length > 1 && first === 0x00 && (der[start + 1]! & 0x80) === 0) fail('INTEGER has a superfluous leading zero');
  const value = first === 0x00 && length > 1 ? der.subarray(start + 1, end) : der.subarray(start, end);
  if (value.length > 32) fail('INTEGER wider than 256 bits');
  return { value, next: end };
}

/** 64-byte compact → minimal DER. The compact form must be in range (SIGNATURE_MALFORMED). */
export function encodeDerSignature(compact: Uint8Array): Uint8Array {
  const { r, s } = checkCompact(compact);
  const derInt = (v: bigint): number[] => {
    const bytes = [...bigIntTo32Bytes(v)];
    while (bytes.length > 1 && bytes[0] === 0) bytes.shift();
    if (bytes[0]! & 0x80) bytes.unshift(0);
    return [0x02, bytes.length, ...bytes];
  };
  const body = [...derInt(r), ...derInt(s)];
  return Uint8Array.from([0x30, body.length, ...body]);
}

/** The 33-byte compressed public key of a private key. KEY_INVALID outside [1, n-1]. */
export function publicKeyFromPrivate(privateKey: Uint8Array): Uint8Array {
  assertPrivateKey(privateKey);
  const point = ecc.pointFromScalar(privateKey, true);
  if (point === null) throw new ProtocolError('KEY_INVALID', 'private key maps to the point at infinity');
  return point;
}

function keyFormProblem(allowUncompressed: boolean): ProtocolError {
  return new ProtocolError(
    'KEY_INVALID',
    `public key is not a valid ${allowUncompressed ? '33- or 65-byte' : '33-byte compressed'} secp256k1 point`,
  );
}

/** Length and SEC1 prefix only (no curve arithmetic). */
function assertPointEncoding(publicKey: unknown, allowUncompressed: boolean): asserts publicKey is Uint8Array {
  assertBytes(publicKey, 'publicKey');
  const prefix = publicKey[0];
  const wellFormed =
    (publicKey.length === PUBLIC_KEY_LENGTH && (prefix === 0x02 || prefix === 0x03)) ||
    (allowUncompressed && publicKey.length === 65 && prefix === 0x04);
  // The prefix check rules out the SEC1 "hybrid" 0x06/0x07 form that libsecp256k1 would parse.
  if (!wellFormed) throw keyFormProblem(allowUncompressed);
}

function assertPoint(publicKey: unknown, allowUncompressed: boolean): asserts publicKey is Uint8Array {
  assertPointEncoding(publicKey, allowUncompressed);
  if (!secp256k1Verifier.isPoint(publicKey)) throw keyFormProblem(allowUncompressed);
}

/** A valid 33-byte compressed SEC1 point on secp256k1, else KEY_INVALID. */
export function assertPublicKey(publicKey: Uint8Array): void {
  assertPoint(publicKey, false);
}

/**
 * Like `assertPublicKey` but also accepts the 65-byte uncompressed form (0x04 ‖ x ‖ y): for
 * addresses of legacy keys and published vectors.
 */
export function assertPublicKeyAnyForm(publicKey: Uint8Array): void {
  assertPoint(publicKey, true);
}

/**
 * A uniformly random private key: 32 random bytes, redrawn in the (≈ 2^-128) case that they are
 * 0 or ≥ n. A source that fails 16 times in a row is broken, not unlucky.
 */
export function randomPrivateKey(randomBytes: (n: number) => Uint8Array = nodeRandomBytes): Uint8Array {
  for (let attempt = 0; attempt < 16; attempt++) {
    const candidate = Uint8Array.from(randomBytes(PRIVATE_KEY_LENGTH));
    if (candidate.length === PRIVATE_KEY_LENGTH && ecc.isPrivate(candidate)) return candidate;
  }
  throw new Error('randomPrivateKey: the random source keeps returning invalid scalars');
}
