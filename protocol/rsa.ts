// RSA for the value envelope: deterministic key derivation from a wallet seed, SPKI/PEM codecs, RSA-OAEP-SHA256.
//
// Everything here is specified in docs/protocol/envelope.md. The derivation algorithm is frozen:
// owners restore their RSA key from the mnemonic, so any change would lock them out of their data.
import {
  checkPrimeSync,
  createHash,
  createHmac,
  createPrivateKey,
  createPublicKey,
  constants,
  KeyObject,
  privateDecrypt,
  publicEncrypt,
  randomBytes as nodeRandomBytes,
} from 'node:crypto';
import { ProtocolError } from './errors.js';
import { sha256 } from './hash.js';
import { concatBytes, equalBytes, utf8 } from './wire.js';

/** Personalisation string of the key-derivation DRBG (SP 800-90A); part of the frozen algorithm. */
export const RSA_KEYGEN_PERSONALIZATION = 'carchain/v1/rsa-keygen';
export const RSA_PUBLIC_EXPONENT = 65537n;
export const RSA_MIN_MODULUS_BITS = 2048;
export const RSA_MAX_MODULUS_BITS = 4096;
/** Miller–Rabin rounds per probable-prime test: a composite survives with probability ≤ 4^-64. */
const PRIME_CHECKS = 64;
const HASH_BYTES = 32;

/**
 * HMAC_DRBG with SHA-256 (NIST SP 800-90A rev. 1 §10.1.2), without reseeding or prediction
 * resistance: the generator is only ever fed the owner's seed, and one key derivation draws far
 * below the 2^48-request reseed interval. Exported so tests can check it against NIST CAVP vectors.
 */
export class HmacDrbgSha256 {
  #key: Uint8Array = new Uint8Array(HASH_BYTES);
  #value: Uint8Array = new Uint8Array(HASH_BYTES).fill(0x01);

  constructor(entropy: Uint8Array, nonce: Uint8Array, personalization: Uint8Array) {
    this.#update(concatBytes(entropy, nonce, personalization));
  }

  /** One Generate call (no additional input); at most 2^16 bytes, well inside the 2^19-bit limit. */
  generate(length: number): Uint8Array {
    if (!Number.isInteger(length) || length < 0 || length > 65536) throw new RangeError(`drbg: bad length ${length}`);
    const out = new Uint8Array(length);
    for (let offset = 0; offset < length; offset += HASH_BYTES) {
      this.#value = hmac(this.#key, this.#value);
      out.set(this.#value.subarray(0, Math.min(HASH_BYTES, length - offset)), offset);
    }
    this.#update(new Uint8Array(0));
    return out;
  }

  #update(provided: Uint8Array): void {
    this.#key = hmac(this.#key, this.#value, Uint8Array.of(0x00), provided);
    this.#value = hmac(this.#key, this.#value);
    if (provided.length === 0) return;
    this.#key = hmac(this.#key, this.#value, Uint8Array.of(0x01), provided);
    this.#value = hmac(this.#key, this.#value);
  }
}

/**
 * Derives an RSA key pair deterministically from a ≥ 32-byte secret (the wallet's BIP32-derived
 * RSA seed). Same seed and size → same key, on every platform, forever (see docs for the algorithm).
 */
export function deriveRsaKeyPair(seed: Uint8Array, bits = 3072): { publicKey: KeyObject; privateKey: KeyObject } {
  if (!(seed instanceof Uint8Array)) throw new TypeError('deriveRsaKeyPair: seed must be a Uint8Array');
  if (seed.length < 32) throw new RangeError(`deriveRsaKeyPair: seed must be at least 32 bytes, got ${seed.length}`);
  if (!Number.isInteger(bits) || bits < RSA_MIN_MODULUS_BITS || bits > RSA_MAX_MODULUS_BITS || bits % 16 !== 0) {
    throw new RangeError(`deriveRsaKeyPair: bits must be a multiple of 16 in 2048..4096, got ${bits}`);
  }
  const half = bits / 2;
  // The modulus size is the DRBG nonce, so keys of different sizes from one seed are unrelated.
  const drbg = new HmacDrbgSha256(seed, Uint8Array.of(bits >>> 8, bits & 0xff), utf8(RSA_KEYGEN_PERSONALIZATION));
  const p = nextPrime(drbg, half);
  const minDistance = 1n << BigInt(half - 100);
  const minPrivateExponent = 1n << BigInt(half);
  for (;;) {
    const q = nextPrime(drbg, half);
    // FIPS 186-5 A.1.3: p and q must not be close (Fermat factoring), d must not be small.
    if ((p > q ? p - q : q - p) <= minDistance) continue;
    const lambda = ((p - 1n) / gcd(p - 1n, q - 1n)) * (q - 1n);
    const d = modInverse(RSA_PUBLIC_EXPONENT, lambda);
    if (d <= minPrivateExponent) continue;
    const privateKey = createPrivateKey({
      format: 'jwk',
      key: {
        kty: 'RSA',
        n: base64url(p * q),
        e: base64url(RSA_PUBLIC_EXPONENT),
        d: base64url(d),
        p: base64url(p),
        q: base64url(q),
        dp: base64url(d % (p - 1n)),
        dq: base64url(d % (q - 1n)),
        qi: base64url(modInverse(q, p)),
      },
    });
    return { publicKey: createPublicKey(privateKey), privateKey };
  }
}

/** Encodes an RSA public key (or the public half of a private key) as SPKI DER. */
export function encodeRsaPublicKey(key: KeyObject): Uint8Array {
  const publicKey = checkRsaPublicKey(key, 'encodeRsaPublicKey');
  return new Uint8Array(publicKey.export({ type: 'spki', format: 'der' }));
}

/** Decodes SPKI DER; throws KEY_INVALID unless canonical DER of an RSA key, 2048..4096 bits, e = 65537. */
export function decodeRsaPublicKey(der: Uint8Array): KeyObject {
  if (!(der instanceof Uint8Array)) throw new TypeError('decodeRsaPublicKey: expected Uint8Array');
  let key: KeyObject;
  try {
    key = createPublicKey({ key: Buffer.from(der), format: 'der', type: 'spki' });
  } catch (cause) {
    throw new ProtocolError('KEY_INVALID', 'RSA public key: not a parsable SPKI structure', { cause });
  }
  checkRsaPublicKey(key, 'RSA public key');
  // The fingerprint hashes these bytes, so one key must have exactly one accepted encoding.
  if (!equalBytes(new Uint8Array(key.export({ type: 'spki', format: 'der' })), der)) {
    throw new ProtocolError('KEY_INVALID', 'RSA public key: SPKI is not in canonical DER');
  }
  return key;
}

/** SPKI PEM ("-----BEGIN PUBLIC KEY-----"). */
export function rsaPublicKeyToPem(key: KeyObject): string {
  return checkRsaPublicKey(key, 'rsaPublicKeyToPem').export({ type: 'spki', format: 'pem' }) as string;
}

/** Parses SPKI PEM strictly (one PUBLIC KEY block, canonical base64), then as decodeRsaPublicKey. */
export function rsaPublicKeyFromPem(pem: string): KeyObject {
  if (typeof pem !== 'string') throw new TypeError('rsaPublicKeyFromPem: expected a string');
  const match = /^-----BEGIN PUBLIC KEY-----\r?\n([A-Za-z0-9+/=\r\n]+?)\r?\n?-----END PUBLIC KEY-----$/.exec(pem.trim());
  const body = match?.[1]?.replace(/\r?\n/g, '');
  // Buffer's base64 decoder skips junk, so require the body to re-encode to itself.
  const der = body === undefined ? undefined : Buffer.from(body, 'base64');
  if (der === undefined || der.toString('base64') !== body) {
    throw new ProtocolError('KEY_INVALID', 'RSA public key: not a single canonical "PUBLIC KEY" PEM block');
  }
  return decodeRsaPublicKey(new Uint8Array(der));
}

/** SHA-256 of the SPKI DER encoding: the key's identity wherever one is referenced. */
export function rsaKeyFingerprint(key: KeyObject): Uint8Array {
  return sha256(encodeRsaPublicKey(key));
}

/**
 * RSAES-OAEP encryption (RFC 8017 §7.1.1, SHA-256, MGF1-SHA256). The encoding is done here so the
 * 32-byte seed can come from an injectable source (node:crypto offers none); the RSA step is OpenSSL's.
 */
export function oaepWrap(
  publicKey: KeyObject,
  message: Uint8Array,
  label: Uint8Array,
  randomBytes: (n: number) => Uint8Array = nodeRandomBytes,
): Uint8Array {
  const key = checkRsaPublicKey(publicKey, 'oaepWrap');
  if (!(message instanceof Uint8Array) || !(label instanceof Uint8Array)) {
    throw new TypeError('oaepWrap: message and label must be Uint8Array');
  }
  const k = Math.ceil(key.asymmetricKeyDetails!.modulusLength! / 8);
  const dbLength = k - HASH_BYTES - 1;
  if (message.length > k - 2 * HASH_BYTES - 2) {
    throw new RangeError(`oaepWrap: message of ${message.length} bytes exceeds ${k - 2 * HASH_BYTES - 2}`);
  }
  const db = new Uint8Array(dbLength);
  db.set(sha256(label), 0);
  db[dbLength - message.length - 1] = 0x01; // PS (zeros) ends here
  db.set(message, dbLength - message.length);
  const seed = randomBytes(HASH_BYTES);
  if (!(seed instanceof Uint8Array) || seed.length !== HASH_BYTES) {
    throw new TypeError('oaepWrap: randomBytes returned the wrong number of bytes');
  }
  const maskedDb = xor(db, mgf1Sha256(seed, dbLength));
  const maskedSeed = xor(seed, mgf1Sha256(maskedDb, HASH_BYTES));
  const encoded = concatBytes(Uint8Array.of(0x00), maskedSeed, maskedDb);
  // EM starts with 0x00, so as an integer it is below 2^(8(k-1)) < n: raw RSA accepts it.
  return new Uint8Array(publicEncrypt({ key, padding: constants.RSA_NO_PADDING }, encoded));
}

/**
 * RSAES-OAEP decryption (SHA-256, MGF1-SHA256) by OpenSSL. Every failure — wrong length, wrong key,
 * wrong label, bad padding — is the same ENVELOPE_OPEN_FAILED with the same message, so callers
 * cannot become a padding oracle (Manger's attack).
 */
export function oaepUnwrap(privateKey: KeyObject, ciphertext: Uint8Array, label: Uint8Array): Uint8Array {
  if (!(privateKey instanceof KeyObject) || privateKey.type !== 'private' || privateKey.asymmetricKeyType !== 'rsa') {
    throw new TypeError('oaepUnwrap: expected an RSA private KeyObject');
  }
  if (!(ciphertext instanceof Uint8Array) || !(label instanceof Uint8Array)) {
    throw new TypeError('oaepUnwrap: ciphertext and label must be Uint8Array');
  }
  const k = Math.ceil(privateKey.asymmetricKeyDetails!.modulusLength! / 8);
  // RFC 8017 §7.1.2 step 1b; OpenSSL itself would accept a short ciphertext as if left-padded.
  if (ciphertext.length === k) {
    try {
      return new Uint8Array(
        privateDecrypt(
          { key: privateKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256', oaepLabel: label },
          ciphertext,
        ),
      );
    } catch {
      // fall through to the one generic error; the cause is deliberately dropped
    }
  }
  throw new ProtocolError('ENVELOPE_OPEN_FAILED', 'envelope: cannot unwrap the content key');
}

/** Returns the public key after checking the envelope's key policy (RSA, 2048..4096 bits, e = 65537). */
function checkRsaPublicKey(key: KeyObject, what: string): KeyObject {
  if (!(key instanceof KeyObject) || key.type === 'secret') throw new TypeError(`${what}: expected an RSA KeyObject`);
  const publicKey = key.type === 'private' ? createPublicKey(key) : key;
  const details = publicKey.asymmetricKeyDetails;
  const bits = details?.modulusLength ?? 0;
  if (publicKey.asymmetricKeyType !== 'rsa') {
    throw new ProtocolError('KEY_INVALID', `${what}: not an rsaEncryption key (${publicKey.asymmetricKeyType})`);
  }
  if (bits < RSA_MIN_MODULUS_BITS || bits > RSA_MAX_MODULUS_BITS) {
    throw new ProtocolError('KEY_INVALID', `${what}: modulus of ${bits} bits is outside 2048..4096`);
  }
  if (details?.publicExponent !== RSA_PUBLIC_EXPONENT) {
    throw new ProtocolError('KEY_INVALID', `${what}: public exponent must be 65537`);
  }
  const n = publicKey.export({ format: 'jwk' }).n ?? '';
  const lastByte = Buffer.from(n, 'base64url').at(-1) ?? 0;
  if ((lastByte & 1) === 0) throw new ProtocolError('KEY_INVALID', `${what}: modulus is even`);
  return publicKey;
}

/** The first c ≥ start (c ≡ start mod 2) with c prime and gcd(e, c-1) = 1; fresh start on overflow. */
function nextPrime(drbg: HmacDrbgSha256, bits: number): bigint {
  const limit = 1n << BigInt(bits);
  const forcedBits = (1n << BigInt(bits - 1)) | (1n << BigInt(bits - 2)) | 1n;
  for (;;) {
    let base = bytesToBigInt(drbg.generate(bits / 8)) | forcedBits;
    while (base < limit) {
      const excluded = sieveWindow(base);
      for (let j = 0; j < SIEVE_WINDOW; j++) {
        if (excluded[j] === 1) continue;
        const candidate = base + BigInt(2 * j);
        if (candidate >= limit) break;
        if (checkPrimeSync(candidate, { checks: PRIME_CHECKS })) return candidate;
      }
      base += BigInt(2 * SIEVE_WINDOW);
    }
  }
}

/**
 * Marks offsets j of base + 2j that cannot be chosen: divisible by an odd prime below 2^16, or
 * ≡ 1 mod e. Pure speed-up: it skips only candidates the definition rejects anyway (the candidates
 * are ~2^1000, so a small divisor proves compositeness), leaving ~10 % for Miller–Rabin.
 */
function sieveWindow(base: bigint): Uint8Array {
  const excluded = new Uint8Array(SIEVE_WINDOW);
  const mark = (modulus: number, bigModulus: bigint, target: number): void => {
    const residue = Number(base % bigModulus);
    // base + 2j ≡ target (mod m)  ⇔  j ≡ (target − residue) · 2⁻¹ (mod m), with 2⁻¹ = (m + 1) / 2
    const first = Number((BigInt(target - residue + modulus) * BigInt((modulus + 1) / 2)) % bigModulus);
    for (let j = first; j < SIEVE_WINDOW; j += modulus) excluded[j] = 1;
  };
  for (let i = 0; i < SMALL_PRIMES.length; i++) mark(SMALL_PRIMES[i]!, SMALL_PRIMES_BIG[i]!, 0);
  mark(Number(RSA_PUBLIC_EXPONENT), RSA_PUBLIC_EXPONENT, 1);
  return excluded;
}

const SIEVE_WINDOW = 2048;
const SMALL_PRIMES: readonly number[] = oddPrimesBelow(1 << 16);
const SMALL_PRIMES_BIG: readonly bigint[] = SMALL_PRIMES.map(BigInt);

function oddPrimesBelow(limit: number): number[] {
  const composite = new Uint8Array(limit);
  const primes: number[] = [];
  for (let i = 3; i < limit; i += 2) {
    if (composite[i] === 1) continue;
    primes.push(i);
    for (let j = i * i; j < limit; j += 2 * i) composite[j] = 1;
  }
  return primes;
}

function mgf1Sha256(seed: Uint8Array, length: number): Uint8Array {
  const out = new Uint8Array(length);
  const counter = new Uint8Array(4);
  for (let i = 0, offset = 0; offset < length; i++, offset += HASH_BYTES) {
    new DataView(counter.buffer).setUint32(0, i);
    const block = createHash('sha256').update(seed).update(counter).digest();
    out.set(block.subarray(0, Math.min(HASH_BYTES, length - offset)), offset);
  }
  return out;
}

function hmac(key: Uint8Array, ...parts: Uint8Array[]): Uint8Array {
  const h = createHmac('sha256', key);
  for (const part of parts) h.update(part);
  return new Uint8Array(h.digest());
}

function xor(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length);
  for (let i = 0; i < a.length; i++) out[i] = a[i]! ^ b[i]!;
  return out;
}

function gcd(a: bigint, b: bigint): bigint {
  while (b !== 0n) [a, b] = [b, a % b];
  return a;
}

/** a⁻¹ mod m by the extended Euclidean algorithm (callers guarantee gcd(a, m) = 1). */
function modInverse(a: bigint, m: bigint): bigint {
  let [oldR, r] = [a % m, m];
  let [oldS, s] = [1n, 0n];
  while (r !== 0n) {
    const quotient = oldR / r;
    [oldR, r] = [r, oldR - quotient * r];
    [oldS, s] = [s, oldS - quotient * s];
  }
  if (oldR !== 1n) throw new RangeError('modInverse: not invertible');
  return ((oldS % m) + m) % m;
}

function bytesToBigInt(bytes: Uint8Array): bigint {
  return bytes.length === 0 ? 0n : BigInt('0x' + Buffer.from(bytes).toString('hex'));
}

function base64url(value: bigint): string {
  const hex = value.toString(16);
  return Buffer.from(hex.length % 2 === 0 ? hex : '0' + hex, 'hex').toString('base64url');
}
