// ECDSA verification over secp256k1 by libsecp256k1: its native N-API build (the `secp256k1` package's prebuilt binary) where it loads, else the same library compiled to WASM (tiny-secp256k1).
//
// Why two: every validator verifies every transaction, and on the 2-core gateway box the WASM
// build (≈ 4k verify/s) was half of a validator's CPU under load; the native one is ≈ 5–6× faster.
// The WASM build stays as the fallback because it runs unchanged on ARM dongles, where the package
// ships no prebuilt binary. Both are libsecp256k1's secp256k1_ecdsa_verify, so they agree on every
// input (a differential test and the Wycheproof vectors run through both). Only the native addon
// is loaded from the package (`secp256k1/bindings.js`): never its pure-JS `elliptic` fallback.
//
// CARCHAIN_SECP256K1=wasm forces the WASM build (read once, when this module loads).
import { createRequire } from 'node:module';
import * as ecc from 'tiny-secp256k1';

/** 'bad-key': the public key does not parse as a point on the curve. */
export type VerifyOutcome = 'valid' | 'invalid' | 'bad-key';

export interface Secp256k1Verifier {
  readonly name: 'native' | 'wasm';
  /**
   * Verifies a 64-byte compact signature over a 32-byte digest with a 33- or 65-byte SEC1 key.
   * Callers check lengths, prefixes, the range of r and s and low-S first (protocol/signature.ts).
   */
  verify(digest: Uint8Array, publicKey: Uint8Array, signature: Uint8Array): VerifyOutcome;
  /** True when a 33- or 65-byte SEC1 encoding (prefix checked by the caller) is a point on the curve. */
  isPoint(publicKey: Uint8Array): boolean;
}

export const wasmVerifier: Secp256k1Verifier = {
  name: 'wasm',
  verify(digest, publicKey, signature) {
    try {
      // strict = true: libsecp256k1 refuses a non-normalised (high) s as well.
      return ecc.verify(digest, publicKey, signature, true) ? 'valid' : 'invalid';
    } catch (err) {
      // tiny-secp256k1 throws for a key whose x has no point on the curve.
      if (err instanceof TypeError && err.message === 'Expected Point') return 'bad-key';
      throw err;
    }
  },
  isPoint: (publicKey) => ecc.isPoint(publicKey),
};

interface NativeSecp256k1 {
  ecdsaVerify(signature: Uint8Array, digest: Uint8Array, publicKey: Uint8Array): boolean;
  publicKeyVerify(publicKey: Uint8Array): boolean;
}

/** The native addon's verifier, or null where its binary does not load (no prebuild for this platform). */
export function loadNativeVerifier(): Secp256k1Verifier | null {
  let native: NativeSecp256k1;
  try {
    native = createRequire(import.meta.url)('secp256k1/bindings.js') as NativeSecp256k1;
  } catch {
    return null;
  }
  return {
    name: 'native',
    verify(digest, publicKey, signature) {
      try {
        // secp256k1_ecdsa_verify is strict: a high s fails like any other bad signature.
        return native.ecdsaVerify(signature, digest, publicKey) ? 'valid' : 'invalid';
      } catch (err) {
        if (err instanceof Error && err.message === 'Public Key could not be parsed') return 'bad-key';
        throw err;
      }
    },
    // secp256k1_ec_pubkey_parse: also what every decoded tx's signer goes through.
    isPoint: (publicKey) => native.publicKeyVerify(publicKey),
  };
}

function chooseVerifier(): Secp256k1Verifier {
  if (process.env.CARCHAIN_SECP256K1 === 'wasm') return wasmVerifier;
  return loadNativeVerifier() ?? wasmVerifier;
}

/** The verifier protocol/signature.ts uses: native when it loads, else WASM. */
export const secp256k1Verifier: Secp256k1Verifier = chooseVerifier();
