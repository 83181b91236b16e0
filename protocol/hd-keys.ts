// The owner wallet's and devices' key trees: BIP39 mnemonic → seed → BIP32 secp256k1 tree under purpose 17219'.
//
// Paths (docs/protocol/keys-and-signatures.md §Paths has the full table and the reasoning):
// every level down to the account is hardened, so one leaked key never exposes its parent or
// siblings; only pool accounts have non-hardened children, because a dongle must derive pool
// addresses from an extended *public* key.
import { randomBytes as nodeRandomBytes } from 'node:crypto';
import { HDKey } from '@scure/bip32';
import * as bip39 from '@scure/bip39';
import { wordlist as english } from '@scure/bip39/wordlists/english.js';
import { p2pkhAddress } from './address.js';
import { ProtocolError } from './errors.js';

export { HDKey };

/**
 * BIP43 purpose 17219' = 0x4343, ASCII "CC" (CarChain). Deliberately not 44'/49'/84'/86': a
 * mnemonic restored into an ordinary Bitcoin wallet must never show, reuse or sweep CarChain
 * keys, and CarChain keys must never coincide with the owner's coin keys from the same seed.
 */
export const CARCHAIN_PURPOSE = 17219;

/** First hardened index (2^31); valid u31 indices are 0 .. 2^31-1. */
export const HARDENED_OFFSET = 0x80000000;

function u31(value: number, what: string): number {
  if (!Number.isSafeInteger(value) || value < 0 || value >= HARDENED_OFFSET) {
    throw new RangeError(`${what} must be an integer in 0..2^31-1, got ${String(value)}`);
  }
  return value;
}

export const PATH = {
  /** The owner's identity key; its P2PKH address is the owner address on the chain. */
  ownerIdentity: "m/17219'/0'/0'",
  /** One account per paired vehicle; its xpub goes to the dongle; pool address i = child i (non-hardened). */
  poolAccount: (vehicle: number) => `m/17219'/1'/${u31(vehicle, 'vehicle')}'`,
  /** Private key bytes → deriveRsaKeyPair seed: restoring the mnemonic restores the RSA key. */
  ownerRsaSeed: "m/17219'/2'/0'",
  /** The owner's key for one vehicle's lock key set. */
  lockKeys: (vehicle: number) => `m/17219'/3'/${u31(vehicle, 'vehicle')}'`,
  /** A device's own identity key (in the device's tree, random seed on first boot). */
  deviceIdentity: "m/17219'/10'/0'",
  /** Device signing key k_i for pool address i (device tree). */
  devicePoolKey: (index: number) => `m/17219'/11'/${u31(index, 'index')}'`,
} as const;

/** Longest path string accepted: generous for 255 levels of short indices, cheap to scan. */
const MAX_PATH_LENGTH = 1024;
/** BIP32 serialises depth in one byte. */
const MAX_DEPTH = 255;
/** BIP39 entropy sizes: 12, 15, 18, 21, 24 words. */
const ENTROPY_LENGTHS = [16, 20, 24, 28, 32];
/** 24 words × ≤ 8 letters + 23 spaces; longer input is rejected before any work. */
const MAX_MNEMONIC_LENGTH = 24 * 8 + 23;

/**
 * A BIP39 English mnemonic. Default: 24 words from 32 random bytes. `entropy` (16/20/24/28/32
 * bytes) makes it deterministic, for tests and fixtures.
 */
export function generateMnemonic(entropy?: Uint8Array): string {
  const bytes = entropy ?? nodeRandomBytes(32);
  if (!(bytes instanceof Uint8Array)) throw new TypeError('generateMnemonic: entropy must be a Uint8Array');
  if (!ENTROPY_LENGTHS.includes(bytes.length)) {
    throw new RangeError(`generateMnemonic: entropy must be 16, 20, 24, 28 or 32 bytes, got ${bytes.length}`);
  }
  return bip39.entropyToMnemonic(bytes, english);
}

/**
 * True for a canonical English mnemonic: 12–24 lower-case list words separated by single ASCII
 * spaces, with a valid checksum. No trimming, case folding or Unicode normalisation is done for
 * the caller: a wallet UI cleans input up, the protocol layer accepts one spelling per mnemonic.
 */
export function validateMnemonic(mnemonic: string): boolean {
  if (typeof mnemonic !== 'string' || mnemonic.length > MAX_MNEMONIC_LENGTH) return false;
  // BIP39 applies NFKD first, so U+3000 or full-width letters would pass the library and name the
  // same seed; we accept only the one canonical ASCII spelling.
  if (!/^[a-z]+(?: [a-z]+)*$/.test(mnemonic)) return false;
  return bip39.validateMnemonic(mnemonic, english);
}

/** The 64-byte BIP39 seed (PBKDF2-HMAC-SHA512, 2048 rounds). MNEMONIC_INVALID on a bad mnemonic. */
export function mnemonicToSeed(mnemonic: string, passphrase = ''): Uint8Array {
  if (typeof passphrase !== 'string') throw new TypeError('mnemonicToSeed: passphrase must be a string');
  if (!validateMnemonic(mnemonic)) {
    throw new ProtocolError('MNEMONIC_INVALID', 'mnemonic has an unknown word, a wrong word count or a bad checksum');
  }
  return bip39.mnemonicToSeedSync(mnemonic, passphrase);
}

/**
 * The BIP32 master key of a 16..64-byte seed. KEY_INVALID in the ≈ 2^-127 case that
 * HMAC-SHA512("Bitcoin seed", seed) gives an invalid scalar.
 */
export function masterKeyFromSeed(seed: Uint8Array): HDKey {
  if (!(seed instanceof Uint8Array)) throw new TypeError('masterKeyFromSeed: seed must be a Uint8Array');
  if (seed.length < 16 || seed.length > 64) throw new RangeError(`masterKeyFromSeed: seed must be 16..64 bytes, got ${seed.length}`);
  try {
    return HDKey.fromMasterSeed(seed);
  } catch (cause) {
    throw new ProtocolError('KEY_INVALID', 'seed yields an invalid BIP32 master key', { cause });
  }
}

/** Parses "m/a'/b/…" into child indices (hardened ones ≥ 2^31). PATH_INVALID if malformed. */
export function parsePath(path: string): number[] {
  if (typeof path !== 'string') throw new TypeError('path must be a string');
  const fail = (why: string): never => {
    throw new ProtocolError('PATH_INVALID', `path ${JSON.stringify(path.slice(0, 64))}: ${why}`);
  };
  if (path.length > MAX_PATH_LENGTH) fail(`longer than ${MAX_PATH_LENGTH} characters`);
  if (path === 'm') return [];
  if (!path.startsWith('m/')) fail('must be "m" or start with "m/"');
  const steps = path.slice(2).split('/');
  if (steps.length > MAX_DEPTH) fail(`deeper than ${MAX_DEPTH} levels`);
  return steps.map((step) => {
    // Canonical decimal only (no sign, no leading zeros, no 'h'/'H'): one spelling per path.
    const m = /^(0|[1-9][0-9]{0,9})(')?$/.exec(step);
    if (m === null) return fail(`bad step ${JSON.stringify(step)}`);
    const index = Number(m[1]);
    if (index >= HARDENED_OFFSET) fail(`index ${index} ≥ 2^31 (write hardened indices with ')`);
    return m[2] === "'" ? index + HARDENED_OFFSET : index;
  });
}

/**
 * One child step that refuses the BIP32 "invalid child" case instead of silently moving on to
 * index + 1 as @scure/bip32 does: a skip would make indices i and i+1 name the same key (two
 * pool addresses sharing a key, or a wallet and a dongle disagreeing about index i).
 */
function childAt(parent: HDKey, index: number): HDKey {
  if (index >= HARDENED_OFFSET && parent.privateKey === null) {
    throw new ProtocolError('PATH_INVALID', 'a hardened step needs a private extended key');
  }
  const child = parent.deriveChild(index);
  if (child.index !== index) {
    throw new ProtocolError('KEY_INVALID', `BIP32 child ${index} is invalid (probability < 2^-127)`);
  }
  return child;
}

/**
 * Derives an absolute path ("m/…") from a master key (depth 0). PATH_INVALID on a malformed
 * path, a non-master root or a hardened step from a public-only key; KEY_INVALID on an invalid child.
 */
export function deriveAt(root: HDKey, path: string): HDKey {
  if (!(root instanceof HDKey)) throw new TypeError('deriveAt: root must be an HDKey');
  const indices = parsePath(path);
  if (root.depth !== 0) {
    throw new ProtocolError('PATH_INVALID', `absolute path applied to a key at depth ${root.depth}, not a master key`);
  }
  let key = root;
  for (const index of indices) key = childAt(key, index);
  return key;
}

/** A 32-byte private scalar and its 33-byte compressed public key. */
export interface KeyPair {
  privateKey: Uint8Array;
  publicKey: Uint8Array;
}

/** The key pair at `path` (copies: zeroing them does not touch the HDKey). Needs a private root. */
export function keyPairAt(root: HDKey, path: string): KeyPair {
  const key = deriveAt(root, path);
  const { privateKey, publicKey } = key;
  if (privateKey === null || publicKey === null) throw new TypeError('keyPairAt: root has no private key');
  return { privateKey: privateKey.slice(), publicKey: publicKey.slice() };
}

/**
 * Pool address i of a pool account: P2PKH of the account's non-hardened child i. Works from an
 * xpub-only HDKey (what the dongle holds), and gives the same address as the wallet's xprv.
 */
export function poolAddressFromAccount(account: HDKey, index: number): string {
  if (!(account instanceof HDKey)) throw new TypeError('poolAddressFromAccount: account must be an HDKey');
  const child = childAt(account, u31(index, 'index'));
  return p2pkhAddress(child.publicKey!);
}
