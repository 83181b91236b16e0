// Device side of pairing: setup (claim), setDup (pool + authorisations) and reset (only by the current owner).
import { p2pkhAddress } from '../../protocol/address.js';
import {
  encodeDeviceSetupStatement, vehicleIdHash, verifyDeviceReset,
  type DeviceSetupStatement,
} from '../../protocol/device-statements.js';
import { CarchainError, ProtocolError } from '../../protocol/errors.js';
import { decodePoolAuthorisation, poolAuthorisationAddress, verifyPoolAuthorisation, type PoolAuthorisation } from '../../protocol/pool-authorisation.js';
import { decodePoolMaterial, derivePoolAddresses, type PoolMaterial } from '../../protocol/pools.js';
import { decodeRsaPublicKey, rsaKeyFingerprint } from '../../protocol/rsa.js';
import { DOMAIN, verify } from '../../protocol/signature.js';
import { equalBytes } from '../../protocol/wire.js';
import type { DeviceKeystore } from '../keystore/device-keystore.js';
import type { OwnerBinding } from '../records/record-factory.js';
import { newPairingSecret, type PairingState, type PairingStateStore, type PoolRecord } from './pairing-state.js';

export type PairingErrorCode =
  | 'PAIRING_ALREADY_CLAIMED'
  | 'PAIRING_NOT_CLAIMED'
  | 'PAIRING_BAD_SECRET'
  | 'PAIRING_BAD_REQUEST'
  | 'PAIRING_BAD_SIGNATURE'
  | 'PAIRING_RESET_UNAUTHORISED'
  | 'PAIRING_STALE'
  | 'PAIRING_POOL_MISMATCH';

export class PairingError extends CarchainError<PairingErrorCode> {}

/** Signed statements older or newer than this (device clock) are refused: limits replay. */
const MAX_CLOCK_SKEW_MS = 10 * 60_000;
const MAX_REMEMBERED_NONCES = 256;
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const unhex = (h: unknown, what: string): Uint8Array => {
  if (typeof h !== 'string' || !/^([0-9a-f]{2})*$/i.test(h)) throw new PairingError('PAIRING_BAD_REQUEST', `${what} must be hex`);
  return Uint8Array.from(Buffer.from(h, 'hex'));
};

export interface SetupRequest {
  secret: string;
  vid: string;
  ownerPublicKey: string;
  rsaPublicKeySpki: string;
  agent: string;
  time: number;
  nonce: string;
  /** Owner's signature over the DeviceSetup statement (domain device-setup). */
  ownerSignature: string;
}

export interface SetDupRequest {
  material: string;
  authorisations: Record<string, string>;
  /** Owner's identity signature over the material bytes, so only the owner can set the pool. */
  ownerSignature: string;
}

export interface ResetRequest {
  ownerPublicKey: string;
  time: number;
  nonce: string;
  signature: string;
}

export class PairingService {
  private state: PairingState;
  private readonly changeListeners = new Set<() => void>();
  /** Bumped on every change of owner or pool, so callers can cache what they derive from it. */
  version = 0;
  private indexCache: { version: number; byAddress: Map<string, { index: number; authorisation: PoolAuthorisation }> } | null = null;

  constructor(
    private readonly keystore: DeviceKeystore,
    private readonly store: PairingStateStore,
    private readonly now: () => number = Date.now,
  ) {
    this.state = store.load();
  }

  /** What the local page / QR code shows; the secret only while unclaimed. */
  info(): { deviceAddress: string; identityPublicKey: string; claimed: boolean; ownerAddress: string | null; pairingCode: string | null } {
    return {
      deviceAddress: this.keystore.deviceAddress,
      identityPublicKey: hex(this.keystore.identityPublicKey),
      claimed: this.state.owner !== null,
      ownerAddress: this.state.owner?.ownerAddress ?? null,
      pairingCode: this.state.owner ? null : `carchain-pair:v1:${this.keystore.deviceAddress}:${this.state.pairingSecret}`,
    };
  }

  /** k_0 … k_{n-1} public keys, for the wallet to authorise. */
  poolKeys(count: number): string[] {
    if (!Number.isInteger(count) || count < 1 || count > 1024) throw new PairingError('PAIRING_BAD_REQUEST', 'count must be 1..1024');
    return Array.from({ length: count }, (_, i) => hex(this.keystore.poolPublicKey(i)));
  }

  setup(req: SetupRequest): { deviceSignature: string; statement: string } {
    if (this.state.owner) throw new PairingError('PAIRING_ALREADY_CLAIMED', `device is paired to ${this.state.owner.ownerAddress}; reset it first`);
    if (req.secret !== this.state.pairingSecret) throw new PairingError('PAIRING_BAD_SECRET', 'wrong pairing code');
    this.checkFresh(req.time);
    const rsaDer = unhex(req.rsaPublicKeySpki, 'rsaPublicKeySpki');
    const statement: DeviceSetupStatement = {
      vidHash: guard(() => vehicleIdHash(req.vid)),
      devicePublicKey: this.keystore.identityPublicKey,
      ownerPublicKey: unhex(req.ownerPublicKey, 'ownerPublicKey'),
      rsaFingerprint: rsaKeyFingerprint(guard(() => decodeRsaPublicKey(rsaDer))),
      agent: String(req.agent ?? ''),
      time: req.time,
      nonce: unhex(req.nonce, 'nonce'),
    };
    if (statement.nonce.length !== 16) throw new PairingError('PAIRING_BAD_REQUEST', 'nonce must be 16 bytes');
    const bytes = guard(() => encodeDeviceSetupStatement(statement));
    signatureGuard(() => verify(DOMAIN.deviceSetup, bytes, unhex(req.ownerSignature, 'ownerSignature'), statement.ownerPublicKey));
    const deviceSignature = this.keystore.signWithIdentity(DOMAIN.deviceSetup, bytes);
    this.state.owner = {
      vid: req.vid,
      ownerAddress: p2pkhAddress(statement.ownerPublicKey),
      ownerPublicKey: req.ownerPublicKey.toLowerCase(),
      rsaPublicKeySpki: hex(rsaDer),
      agent: statement.agent,
      setup: { statement: hex(bytes), ownerSignature: req.ownerSignature, deviceSignature: hex(deviceSignature) },
    };
    this.state.pairingSecret = newPairingSecret();
    this.changed();
    return { deviceSignature: hex(deviceSignature), statement: hex(bytes) };
  }

  setDup(req: SetDupRequest): { poolSize: number; authorised: number } {
    const owner = this.requireOwner();
    const materialBytes = unhex(req.material, 'material');
    signatureGuard(() => verify(DOMAIN.poolMaterial, materialBytes, unhex(req.ownerSignature, 'ownerSignature'), unhex(owner.ownerPublicKey, 'owner key')));
    const material: PoolMaterial = guard(() => decodePoolMaterial(materialBytes));
    const addresses = derivePoolAddresses(material);
    const now = this.now();
    let authorised = 0;
    for (const [indexText, authHex] of Object.entries(req.authorisations ?? {})) {
      const index = Number(indexText);
      if (!Number.isInteger(index) || index < 0 || index >= material.size) throw new PairingError('PAIRING_POOL_MISMATCH', `authorisation for index ${indexText} outside the pool`);
      const auth = guard(() => decodePoolAuthorisation(unhex(authHex, 'authorisation')));
      try {
        verifyPoolAuthorisation(auth, { now, poolAddress: addresses[index], devicePublicKey: this.keystore.poolPublicKey(index) });
      } catch (err) {
        if (err instanceof ProtocolError) throw new PairingError('PAIRING_POOL_MISMATCH', `authorisation ${index}: ${err.message}`, { cause: err });
        throw err;
      }
      authorised++;
    }
    if (authorised === 0) throw new PairingError('PAIRING_BAD_REQUEST', 'no pool authorisations');
    if (this.state.pool) this.state.retiredPools.push(this.state.pool);
    this.state.pool = { material: req.material.toLowerCase(), authorisations: req.authorisations };
    this.changed();
    return { poolSize: material.size, authorised };
  }

  /** Only a fresh, unused signature by the current owner resets; the outbox keeps its records. */
  reset(req: ResetRequest): { resetAt: number } {
    const owner = this.state.owner;
    if (!owner) throw new PairingError('PAIRING_NOT_CLAIMED', 'device is not paired');
    const ownerPublicKey = unhex(req.ownerPublicKey, 'ownerPublicKey');
    if (!equalBytes(ownerPublicKey, unhex(owner.ownerPublicKey, 'owner key'))) {
      throw new PairingError('PAIRING_RESET_UNAUTHORISED', `only the current owner ${owner.ownerAddress} can reset this device`);
    }
    this.checkFresh(req.time);
    const nonceHex = String(req.nonce).toLowerCase();
    if (this.state.usedResetNonces.includes(nonceHex)) throw new PairingError('PAIRING_STALE', 'this reset was already used');
    const nonce = unhex(nonceHex, 'nonce');
    if (nonce.length !== 16) throw new PairingError('PAIRING_BAD_REQUEST', 'nonce must be 16 bytes');
    try {
      verifyDeviceReset({ devicePublicKey: this.keystore.identityPublicKey, ownerPublicKey, time: req.time, nonce }, unhex(req.signature, 'signature'));
    } catch (err) {
      if (err instanceof ProtocolError) throw new PairingError('PAIRING_RESET_UNAUTHORISED', `reset signature rejected: ${err.message}`, { cause: err });
      throw err;
    }
    if (this.state.pool) this.state.retiredPools.push(this.state.pool);
    this.state.owner = null;
    this.state.pool = null;
    this.state.pairingSecret = newPairingSecret();
    this.state.usedResetNonces = [...this.state.usedResetNonces, nonceHex].slice(-MAX_REMEMBERED_NONCES);
    this.changed();
    return { resetAt: this.now() };
  }

  /** What the record factory needs, or null until both setup and setDup happened. */
  binding(): OwnerBinding | null {
    const { owner, pool } = this.state;
    if (!owner || !pool) return null;
    const material = decodePoolMaterial(unhex(pool.material, 'material'));
    return {
      vid: owner.vid,
      ownerRsaPublicKey: decodeRsaPublicKey(unhex(owner.rsaPublicKeySpki, 'rsa')),
      poolAddresses: derivePoolAddresses(material),
      userSeed: material.userSeed,
    };
  }

  /** The uplink's key provider: authorisation and k_i for an address of the current or a retired pool. */
  signingKeyFor(address: string): { authorisation: PoolAuthorisation; privateKey: Uint8Array } | null {
    const entry = this.authorisationIndex().get(address);
    return entry ? { authorisation: entry.authorisation, privateKey: this.keystore.poolPrivateKey(entry.index) } : null;
  }

  /**
   * address → (pool index, decoded authorisation) over the current and retired pools, rebuilt only when
   * pairing changes: the uplink asks once per message, and decoding means validating two curve points.
   */
  private authorisationIndex(): Map<string, { index: number; authorisation: PoolAuthorisation }> {
    if (this.indexCache?.version === this.version) return this.indexCache.byAddress;
    const byAddress = new Map<string, { index: number; authorisation: PoolAuthorisation }>();
    for (const pool of [this.state.pool, ...this.state.retiredPools]) {
      if (!pool) continue;
      for (const [index, authHex] of Object.entries(pool.authorisations)) {
        const authorisation = decodePoolAuthorisation(unhex(authHex, 'authorisation'));
        const address = poolAuthorisationAddress(authorisation);
        // The current pool comes first and wins over a retired one for the same address.
        if (!byAddress.has(address)) byAddress.set(address, { index: Number(index), authorisation });
      }
    }
    this.indexCache = { version: this.version, byAddress };
    return byAddress;
  }

  /** Allocates the next trip SESSION_ID durably (a restart never reuses one). */
  nextSessionId(): number {
    const id = this.state.nextSessionId;
    this.state.nextSessionId = id + 1;
    this.persist();
    return id;
  }

  private requireOwner() {
    if (!this.state.owner) throw new PairingError('PAIRING_NOT_CLAIMED', 'pair the device (setup) first');
    return this.state.owner;
  }

  private checkFresh(time: number): void {
    if (!Number.isSafeInteger(time) || Math.abs(this.now() - time) > MAX_CLOCK_SKEW_MS) {
      throw new PairingError('PAIRING_STALE', 'statement time is more than 10 minutes from the device clock');
    }
  }

  /** Called after setup, setDup and reset (not for session ids). Returns the unsubscribe function. */
  onChange(listener: () => void): () => void {
    this.changeListeners.add(listener);
    return () => this.changeListeners.delete(listener);
  }

  private persist(): void {
    this.store.save(this.state);
  }

  private changed(): void {
    this.version++;
    this.persist();
    for (const listener of this.changeListeners) listener();
  }
}

function guard<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof ProtocolError) throw new PairingError('PAIRING_BAD_REQUEST', err.message, { cause: err });
    throw err;
  }
}

function signatureGuard(fn: () => void): void {
  try {
    fn();
  } catch (err) {
    if (err instanceof ProtocolError) throw new PairingError('PAIRING_BAD_SIGNATURE', `owner signature rejected: ${err.message}`, { cause: err });
    throw err;
  }
}

export type { PoolRecord };
