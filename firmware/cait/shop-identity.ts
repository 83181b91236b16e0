// The shop's signing identity on a CAIT terminal: the device keystore's identity key, which names the shop in WriteGrants.
//
// The keystore file is the dongle's (`{version: 1, seed}`, 0600, created on first start), so fleet
// provisioning works unchanged. The shop needs the private key itself (not only signatures): the
// plate-key ECDH with each grantor and the self-authorisation of its own address both use it.
import { readFileSync } from 'node:fs';
import { authorisePoolKey, type PoolAuthorisation } from '../../protocol/pool-authorisation.js';
import { deviceIdentity, deviceRoot } from '../../protocol/device-keys.js';
import { FileKeystore, KeystoreError } from '../keystore/device-keystore.js';

/** Self-authorisations are made for this long and renewed when less than half of it is left. */
const SELF_AUTHORISATION_MS = 24 * 3_600_000;
/** Tolerates a gateway whose clock is behind the terminal's. */
const CLOCK_SLACK_MS = 3_600_000;

export interface ShopIdentity {
  /** P2PKH of the shop key: the MQTT device id and the address its records are filed under. */
  address: string;
  publicKey: Uint8Array;
  privateKey: Uint8Array;
}

export function loadShopIdentity(keystorePath: string): ShopIdentity {
  FileKeystore.loadOrCreate(keystorePath); // creates (0600) on first start and checks permissions and layout
  const parsed = JSON.parse(readFileSync(keystorePath, 'utf8')) as { seed?: string };
  if (typeof parsed.seed !== 'string') throw new KeystoreError('KEYSTORE_CORRUPT', `${keystorePath}: no seed`);
  const identity = deviceIdentity(deviceRoot(Uint8Array.from(Buffer.from(parsed.seed, 'hex'))));
  return { address: identity.address, publicKey: identity.publicKey, privateKey: identity.privateKey };
}

/**
 * The pool authorisation a shop signs for its own address (pool key = device key = the shop key):
 * the uplink message format needs one, and the gateway verifies it like any other. What makes a
 * shop's record meaningful to an owner is not this but the owner's WriteGrant naming the shop key,
 * which the owner's wallet checks before it trusts a maintenance record (docs/cait.md).
 */
export class SelfAuthorisation {
  private current: PoolAuthorisation | null = null;

  constructor(private readonly identity: ShopIdentity) {}

  at(now: number): PoolAuthorisation {
    let c = this.current;
    if (c === null || now < c.notBefore || c.notAfter - now < SELF_AUTHORISATION_MS / 2) {
      c = this.current = authorisePoolKey(this.identity.privateKey, {
        devicePublicKey: this.identity.publicKey, notBefore: now - CLOCK_SLACK_MS, notAfter: now + SELF_AUTHORISATION_MS,
      });
    }
    return c;
  }
}
