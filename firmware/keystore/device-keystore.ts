// The device's key store: a 0600 file holding its BIP32 seed, behind an interface a secure element could implement.
import { randomBytes as nodeRandomBytes } from 'node:crypto';
import { statSync } from 'node:fs';
import { deviceIdentity, devicePoolKey, deviceRoot, newDeviceSeed } from '../../protocol/device-keys.js';
import { CarchainError } from '../../protocol/errors.js';
import { sign, type SignatureDomain } from '../../protocol/signature.js';
import type { HDKey } from '../../protocol/hd-keys.js';
import { readFileIfExists, writeFileAtomic } from '../storage/atomic-file.js';

export class KeystoreError extends CarchainError<'KEYSTORE_CORRUPT' | 'KEYSTORE_INSECURE'> {}

export interface DeviceKeystore {
  /** P2PKH address of the identity key: the device's id on the chain and in MQTT topics. */
  readonly deviceAddress: string;
  readonly identityPublicKey: Uint8Array;
  signWithIdentity(domain: SignatureDomain, message: Uint8Array): Uint8Array;
  /** k_i's public key, handed to the wallet so it can authorise pool address i. */
  poolPublicKey(index: number): Uint8Array;
  /**
   * k_i's private key, for signing uplink messages. A secure-element implementation would instead
   * sign inside the element; uplink signing is the only caller.
   */
  poolPrivateKey(index: number): Uint8Array;
}

interface KeystoreFile {
  version: 1;
  seed: string;
}

export class FileKeystore implements DeviceKeystore {
  readonly deviceAddress: string;
  readonly identityPublicKey: Uint8Array;
  private readonly identityPrivateKey: Uint8Array;
  private readonly poolKeys = new Map<number, { publicKey: Uint8Array; privateKey: Uint8Array }>();

  private constructor(private readonly root: HDKey) {
    const identity = deviceIdentity(root);
    this.deviceAddress = identity.address;
    this.identityPublicKey = identity.publicKey;
    this.identityPrivateKey = identity.privateKey;
  }

  /** Loads the keystore, creating it (0600) with a fresh seed on first boot. */
  static loadOrCreate(path: string, randomBytes: (n: number) => Uint8Array = nodeRandomBytes): FileKeystore {
    const existing = readFileIfExists(path);
    if (existing === null) {
      const seed = newDeviceSeed(randomBytes);
      writeFileAtomic(path, `${JSON.stringify({ version: 1, seed: Buffer.from(seed).toString('hex') } satisfies KeystoreFile)}\n`, 0o600);
      return new FileKeystore(deviceRoot(seed));
    }
    if ((statSync(path).mode & 0o077) !== 0) {
      throw new KeystoreError('KEYSTORE_INSECURE', `${path} is readable by group/others; chmod 600 it`);
    }
    let parsed: KeystoreFile;
    try {
      parsed = JSON.parse(existing.toString('utf8')) as KeystoreFile;
    } catch (cause) {
      throw new KeystoreError('KEYSTORE_CORRUPT', `${path} is not a keystore file`, { cause });
    }
    if (parsed.version !== 1 || !/^[0-9a-f]{64}$/.test(parsed.seed)) throw new KeystoreError('KEYSTORE_CORRUPT', `${path}: unknown keystore layout`);
    return new FileKeystore(deviceRoot(Uint8Array.from(Buffer.from(parsed.seed, 'hex'))));
  }

  signWithIdentity(domain: SignatureDomain, message: Uint8Array): Uint8Array {
    return sign(domain, message, this.identityPrivateKey);
  }

  poolPublicKey(index: number): Uint8Array {
    return this.poolKey(index).publicKey;
  }

  poolPrivateKey(index: number): Uint8Array {
    return this.poolKey(index).privateKey;
  }

  private poolKey(index: number) {
    let key = this.poolKeys.get(index);
    if (!key) {
      key = devicePoolKey(this.root, index);
      this.poolKeys.set(index, key);
    }
    return key;
  }
}
