// A device's own keys: one BIP32 tree from a random seed made on first boot (kept in a 0600 keystore by firmware/).
import type { HDKey } from '@scure/bip32';
import { p2pkhAddress } from './address.js';
import { PATH, keyPairAt, masterKeyFromSeed, type KeyPair } from './hd-keys.js';
import { randomBytes as nodeRandomBytes } from 'node:crypto';

export const DEVICE_SEED_BYTES = 32;

export function newDeviceSeed(randomBytes: (n: number) => Uint8Array = nodeRandomBytes): Uint8Array {
  return Uint8Array.from(randomBytes(DEVICE_SEED_BYTES));
}

export function deviceRoot(seed: Uint8Array): HDKey {
  if (!(seed instanceof Uint8Array) || seed.length !== DEVICE_SEED_BYTES) throw new TypeError(`device seed must be ${DEVICE_SEED_BYTES} bytes`);
  return masterKeyFromSeed(seed);
}

/** The device identity key: signs DeviceSetup/DeviceReset and identifies the device on the chain. */
export function deviceIdentity(root: HDKey): KeyPair & { address: string } {
  const pair = keyPairAt(root, PATH.deviceIdentity);
  return { ...pair, address: p2pkhAddress(pair.publicKey) };
}

/**
 * k_i: the key that signs uplink messages for pool address i. One per pool address, so a leaked
 * authorisation links nothing beyond its own address.
 */
export function devicePoolKey(root: HDKey, index: number): KeyPair {
  return keyPairAt(root, PATH.devicePoolKey(index));
}
