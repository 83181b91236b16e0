// Read-only queries over the application state for the gateway, wallet and lock (pure functions over a StateReader).
import { addressFromHash160 } from '../../../protocol/chain/tx-bodies.js';
import type { FormatDefinition } from '../../../protocol/formats.js';
import { decodeAddress, p2pkhAddress } from '../../../protocol/address.js';
import { equalBytes } from '../../../protocol/wire.js';
import {
  keys,
  loadAnchor,
  loadDevice,
  loadFormat,
  loadGrant,
  loadLockKeySet,
  loadMetaBytes,
  loadVehicle,
  loadWriteGrant,
  type AnchorRecord,
  type DeviceLink,
} from './state-layout.js';
import { readAccount, readValidators } from './staking-handlers.js';
import type { StateReader } from './state.js';

export interface VehicleInfo {
  vidHash: Uint8Array;
  ownerPublicKey: Uint8Array;
  ownerAddress: string;
  ownerSince: number;
  device: DeviceLink | null;
}

export function getVehicle(state: StateReader, vidHash: Uint8Array): VehicleInfo | undefined {
  const raw = state.get(keys.vehicle(vidHash));
  if (raw === undefined) return undefined;
  const v = loadVehicle(raw);
  return { vidHash: Uint8Array.from(vidHash), ownerPublicKey: v.ownerPublicKey, ownerAddress: p2pkhAddress(v.ownerPublicKey), ownerSince: v.ownerSince, device: v.device };
}

/** The vidHashes an owner address currently owns, ascending. */
export function vehiclesByOwner(state: StateReader, ownerAddress: string, limit = 1000): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (const [key] of state.scan(keys.ownerVehiclePrefix(decodeAddress(ownerAddress)), limit)) out.push(key.slice(21));
  return out;
}

/** The vehicle a device is linked to, or undefined. */
export function getDevice(state: StateReader, devicePublicKey: Uint8Array): { vidHash: Uint8Array; vehicle: VehicleInfo } | undefined {
  const raw = state.get(keys.device(devicePublicKey));
  if (raw === undefined) return undefined;
  const vidHash = loadDevice(raw);
  const vehicle = getVehicle(state, vidHash);
  return vehicle === undefined ? undefined : { vidHash, vehicle };
}

export interface FormatInfo {
  definition: FormatDefinition;
  /** null = built in (immutable). */
  maintainerAddress: string | null;
  height: number;
}

export function getFormat(state: StateReader, name: string): FormatInfo | undefined {
  const raw = state.get(keys.format(name));
  if (raw === undefined) return undefined;
  const f = loadFormat(raw);
  return { definition: f.definition, maintainerAddress: f.maintainer === null ? null : p2pkhAddress(f.maintainer), height: f.height };
}

/** Every registered format, by name (byte order). */
export function listFormats(state: StateReader, limit = 1000): FormatInfo[] {
  const out: FormatInfo[] = [];
  for (const [key] of state.scan(keys.formatPrefix(), limit)) {
    const info = getFormat(state, Buffer.from(key.subarray(1)).toString('utf8'));
    if (info !== undefined) out.push(info);
  }
  return out;
}

export interface LockKeySetInfo {
  epoch: number;
  keySet: Uint8Array;
  height: number;
  /**
   * True when the key set was published before the vehicle's last change of owner: it still
   * names the previous owner's delegates, so it must not be used until the new owner publishes a
   * set with a higher epoch.
   */
  staleAfterTransfer: boolean;
}

export function getLockKeySet(state: StateReader, vidHash: Uint8Array): LockKeySetInfo | undefined {
  const raw = state.get(keys.lockKeySet(vidHash));
  if (raw === undefined) return undefined;
  const k = loadLockKeySet(raw);
  const vehicle = getVehicle(state, vidHash);
  return { ...k, staleAfterTransfer: vehicle !== undefined && k.height < vehicle.ownerSince };
}

export interface GrantInfo {
  grantId: Uint8Array;
  grantor: string;
  grantee: string;
  granteeRsaFingerprint: Uint8Array;
  fromDay: number;
  toDay: number;
  formats: string[];
  resell: boolean;
  expiresAt: number;
  height: number;
  /** Height of the revocation; 0 = in force (subject to expiresAt). */
  revokedAt: number;
}

export function getGrant(state: StateReader, grantId: Uint8Array): GrantInfo | undefined {
  const raw = state.get(keys.grant(grantId));
  if (raw === undefined) return undefined;
  const g = loadGrant(raw);
  return {
    grantId: Uint8Array.from(grantId),
    grantor: addressFromHash160(g.grantorHash160),
    grantee: addressFromHash160(g.granteeHash160),
    granteeRsaFingerprint: g.granteeRsaFingerprint,
    fromDay: g.fromDay,
    toDay: g.toDay,
    formats: g.formats,
    resell: g.resell,
    expiresAt: g.expiresAt,
    height: g.height,
    revokedAt: g.revokedAt,
  };
}

/** Not revoked and not expired at `now` (ms). */
export function isGrantActive(grant: { revokedAt: number; expiresAt: number }, now: number): boolean {
  return grant.revokedAt === 0 && (grant.expiresAt === 0 || grant.expiresAt > now);
}

function grantsByIndex(state: StateReader, prefix: Uint8Array, limit: number): GrantInfo[] {
  const out: GrantInfo[] = [];
  for (const [key] of state.scan(prefix, limit)) {
    const g = getGrant(state, key.subarray(prefix.length));
    if (g !== undefined) out.push(g);
  }
  return out;
}

/** Grants (revoked ones included) by grantor address, ordered by grantId. */
export function grantsByGrantor(state: StateReader, address: string, limit = 1000): GrantInfo[] {
  return grantsByIndex(state, keys.grantByGrantorPrefix(decodeAddress(address)), limit);
}

export function grantsByGrantee(state: StateReader, address: string, limit = 1000): GrantInfo[] {
  return grantsByIndex(state, keys.grantByGranteePrefix(decodeAddress(address)), limit);
}

export interface WriteGrantInfo {
  id: Uint8Array;
  grantorPublicKey: Uint8Array;
  grantor: string;
  vidHash: Uint8Array;
  shopPublicKey: Uint8Array;
  plateKey: Uint8Array;
  formats: string[];
  expiresAt: number;
  height: number;
  revokedAt: number;
}

export function getWriteGrant(state: StateReader, id: Uint8Array): WriteGrantInfo | undefined {
  const raw = state.get(keys.writeGrant(id));
  if (raw === undefined) return undefined;
  const g = loadWriteGrant(raw);
  return { id: Uint8Array.from(id), ...g, grantor: p2pkhAddress(g.grantorPublicKey), shopPublicKey: g.shopPublicKey };
}

function writeGrantsByIndex(state: StateReader, prefix: Uint8Array, limit: number): WriteGrantInfo[] {
  const out: WriteGrantInfo[] = [];
  for (const [key] of state.scan(prefix, limit)) {
    const g = getWriteGrant(state, key.subarray(prefix.length));
    if (g !== undefined) out.push(g);
  }
  return out;
}

export function writeGrantsByShop(state: StateReader, shopPublicKey: Uint8Array, limit = 1000): WriteGrantInfo[] {
  return writeGrantsByIndex(state, keys.writeGrantByShopPrefix(shopPublicKey), limit);
}

export function writeGrantsByVehicle(state: StateReader, vidHash: Uint8Array, limit = 1000): WriteGrantInfo[] {
  return writeGrantsByIndex(state, keys.writeGrantByVehiclePrefix(vidHash), limit);
}

/**
 * A write grant authorises its shop only while it is unrevoked, unexpired and its grantor still
 * owns the vehicle (a transfer silently ends the previous owner's write grants).
 */
export function isWriteGrantActive(state: StateReader, grant: WriteGrantInfo, now: number): boolean {
  if (!isGrantActive(grant, now)) return false;
  const vehicle = getVehicle(state, grant.vidHash);
  return vehicle !== undefined && equalBytes(vehicle.ownerPublicKey, grant.grantorPublicKey);
}

export function getBatchAnchor(state: StateReader, signerAddress: string, batchId: number): AnchorRecord | undefined {
  const raw = state.get(keys.anchor(decodeAddress(signerAddress), batchId));
  return raw === undefined ? undefined : loadAnchor(raw);
}

/** As stored: stake whose `unbondingUntil` has passed is free, and joins `balance` at the account's next Stake or Unstake. */
export function getAccount(state: StateReader, address: string): { address: string; balance: number; bonded: number; unbonding: number; unbondingUntil: number } {
  return { address, ...readAccount(state, decodeAddress(address)) };
}

/** The stored validator set (the one for the next height), canonical order. */
export function getValidators(state: StateReader): { address: string; publicKey: Uint8Array; power: number }[] {
  return readValidators(state).map((v) => ({ address: p2pkhAddress(v.publicKey), publicKey: v.publicKey, power: v.power }));
}

export function isAnchorer(state: StateReader, address: string): boolean {
  const hash = decodeAddress(address);
  return state.get(keys.anchorer(hash)) !== undefined || state.get(keys.validator(hash)) !== undefined;
}

/** Whether a txId is in the replay table (committed and not yet pruned). */
export function isTxCommitted(state: StateReader, txId: Uint8Array): boolean {
  return state.get(keys.txId(txId)) !== undefined;
}

export function getChainMeta(state: StateReader): { chainId: string; genesisHash: Uint8Array } | undefined {
  const chainId = state.get(keys.meta('chainId'));
  const hash = state.get(keys.meta('genesisHash'));
  if (chainId === undefined || hash === undefined) return undefined;
  return { chainId: Buffer.from(loadMetaBytes(chainId)).toString('utf8'), genesisHash: loadMetaBytes(hash) };
}
