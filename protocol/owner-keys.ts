// The owner's keys, all derived from the wallet seed so that restoring the mnemonic restores everything.
import type { KeyObject } from 'node:crypto';
import type { HDKey } from '@scure/bip32';
import { p2pkhAddress } from './address.js';
import { PATH, deriveAt, keyPairAt, type KeyPair } from './hd-keys.js';
import { userSeedFromAccount, type PoolMaterial } from './pools.js';
import { deriveRsaKeyPair } from './rsa.js';

export interface OwnerIdentity extends KeyPair {
  /** P2PKH address of the identity key: the owner's address on the chain. */
  address: string;
}

export function ownerIdentity(root: HDKey): OwnerIdentity {
  const pair = keyPairAt(root, PATH.ownerIdentity);
  return { ...pair, address: p2pkhAddress(pair.publicKey) };
}

/** The owner's RSA-3072 data key, derived deterministically (protocol/rsa.ts) from a BIP32 secret. */
export function ownerRsaKeyPair(root: HDKey): { publicKey: KeyObject; privateKey: KeyObject } {
  return deriveRsaKeyPair(keyPairAt(root, PATH.ownerRsaSeed).privateKey);
}

/** The pool account of the vehicle paired as number `vehicle` (0, 1, …) in this wallet. */
export function poolAccount(root: HDKey, vehicle: number): HDKey {
  return deriveAt(root, PATH.poolAccount(vehicle));
}

/** The setDup material for a vehicle: its pool account's xpub, the shared userSeed and the pool size. */
export function poolMaterialFor(root: HDKey, vehicle: number, size: number): PoolMaterial {
  const account = poolAccount(root, vehicle);
  return { accountXpub: account.publicExtendedKey, userSeed: userSeedFromAccount(account.privateKey!), size };
}

/** A_i's private key, used by the wallet to sign pool authorisations. */
export function poolKeyPair(root: HDKey, vehicle: number, index: number): KeyPair {
  const child = poolAccount(root, vehicle).deriveChild(index);
  return { privateKey: child.privateKey!, publicKey: child.publicKey! };
}
