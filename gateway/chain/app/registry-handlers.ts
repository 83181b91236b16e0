// Handlers of the registry transactions: formats, device setup/reset, vehicle transfer, lock key sets, grants, write grants, anchors.
//
// Each handler checks its preconditions against the tx's overlay and then writes; a thrown
// rejection discards the overlay, so the order of checks only decides which code is reported.
import { MAX_TX_LIFETIME_MS } from '../../../protocol/chain/transactions.js';
import {
  isVehicleTransferAcceptanceValid,
  type BatchAnchorBody,
  type DeviceResetBody,
  type GrantBody,
  type LockKeySetBody,
  type VehicleTransferBody,
  type WriteGrantBody,
} from '../../../protocol/chain/tx-bodies.js';
import { decodeAddress, p2pkhAddress } from '../../../protocol/address.js';
import { verifyDeviceReset, verifyDeviceSetup, type SignedDeviceSetup } from '../../../protocol/device-statements.js';
import { ProtocolError } from '../../../protocol/errors.js';
import type { FormatDefinition } from '../../../protocol/formats.js';
import { hash160 } from '../../../protocol/hash.js';
import { LockError } from '../../../protocol/lock/errors.js';
import { decodeKeySet, type KeySet } from '../../../protocol/lock/key-set.js';
import { equalBytes } from '../../../protocol/wire.js';
import { reject } from './errors.js';
import {
  INDEX_VALUE,
  keys,
  loadDevice,
  loadFormat,
  loadGrant,
  loadLockKeySet,
  loadVehicle,
  loadWriteGrant,
  saveAnchor,
  saveDevice,
  saveFormat,
  saveGrant,
  saveLockKeySet,
  saveVehicle,
  saveWriteGrant,
  type VehicleRecord,
} from './state-layout.js';
import type { TxScope } from './tx-scope.js';

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex');
}

function signatureOk(check: () => void): boolean {
  try {
    check();
    return true;
  } catch (err) {
    if (err instanceof ProtocolError) return false;
    throw err;
  }
}

/** A signed statement older or newer than one tx lifetime could be a replay of an old consent. */
function checkStatementTime(s: TxScope, time: number): void {
  if (Math.abs(time - s.ctx.time) > MAX_TX_LIFETIME_MS) reject('STATEMENT_STALE', `statement time ${time} is more than 1 h from block time ${s.ctx.time}`);
}

function requireVehicle(s: TxScope, vidHash: Uint8Array): VehicleRecord {
  const raw = s.state.get(keys.vehicle(vidHash));
  if (raw === undefined) reject('UNKNOWN_VEHICLE', `no vehicle ${hex(vidHash)}`);
  return loadVehicle(raw);
}

function requireOwner(s: TxScope, vehicle: VehicleRecord, vidHash: Uint8Array): void {
  if (!equalBytes(vehicle.ownerPublicKey, s.tx.signer)) reject('NOT_OWNER', `signer is not the owner of vehicle ${hex(vidHash)}`);
}

function requireFormats(s: TxScope, formats: readonly string[]): void {
  for (const name of formats) {
    if (s.state.get(keys.format(name)) === undefined) reject('UNKNOWN_FORMAT', `format ${JSON.stringify(name)} is not registered`);
  }
}

function checkGrantExpiry(s: TxScope, expiresAt: number): void {
  if (expiresAt !== 0 && expiresAt <= s.ctx.time) reject('GRANT_EXPIRED', `grant expiresAt ${expiresAt} is not after block time ${s.ctx.time}`);
}

export function applyFormatRegister(s: TxScope, def: FormatDefinition): void {
  const raw = s.state.get(keys.format(def.name));
  if (raw !== undefined) {
    const current = loadFormat(raw);
    if (current.maintainer === null) reject('FORMAT_EXISTS', `format ${def.name} is built in and cannot change`);
    if (!equalBytes(current.maintainer, s.tx.signer)) reject('NOT_MAINTAINER', `signer is not the maintainer of format ${def.name}`);
    if (def.version <= current.definition.version) {
      reject('VERSION_NOT_INCREASING', `format ${def.name}: version ${def.version} does not raise ${current.definition.version}`);
    }
    const before = current.definition.key;
    const sameKey = before.length === def.key.length && before.every((f, i) => f.name === def.key[i]!.name && f.type === def.key[i]!.type);
    if (!sameKey) reject('FORMAT_KEY_CHANGED', `format ${def.name}: the key schema can never change`);
  }
  s.state.set(keys.format(def.name), saveFormat({ definition: def, maintainer: s.tx.signer, height: s.ctx.height }));
}

export function applyDeviceSetup(s: TxScope, setup: SignedDeviceSetup): void {
  const st = setup.statement;
  if (!equalBytes(st.ownerPublicKey, s.tx.signer)) reject('NOT_OWNER', 'the tx signer is not the owner named in the statement');
  checkStatementTime(s, st.time);
  if (!signatureOk(() => verifyDeviceSetup(setup))) reject('BAD_SIGNATURE', 'device setup: owner or device signature does not verify');
  if (s.state.get(keys.device(st.devicePublicKey)) !== undefined) reject('ALREADY_CLAIMED', 'the device is already linked to a vehicle');
  const raw = s.state.get(keys.vehicle(st.vidHash));
  const existing = raw === undefined ? null : loadVehicle(raw);
  if (existing !== null) {
    if (!equalBytes(existing.ownerPublicKey, s.tx.signer)) reject('NOT_OWNER', 'the vehicle already has another owner');
    if (existing.device !== null) reject('ALREADY_CLAIMED', 'the vehicle already has a device; reset it first');
  } else {
    s.state.set(keys.ownerVehicle(hash160(s.tx.signer), st.vidHash), INDEX_VALUE);
  }
  const vehicle: VehicleRecord = {
    ownerPublicKey: s.tx.signer,
    ownerSince: existing?.ownerSince ?? s.ctx.height,
    device: { devicePublicKey: st.devicePublicKey, rsaFingerprint: st.rsaFingerprint, since: s.ctx.height },
  };
  s.state.set(keys.vehicle(st.vidHash), saveVehicle(vehicle));
  s.state.set(keys.device(st.devicePublicKey), saveDevice(st.vidHash));
}

export function applyDeviceReset(s: TxScope, b: DeviceResetBody): void {
  const st = b.statement;
  if (!equalBytes(st.ownerPublicKey, s.tx.signer)) reject('NOT_OWNER', 'the tx signer is not the owner named in the statement');
  checkStatementTime(s, st.time);
  if (!signatureOk(() => verifyDeviceReset(st, b.signature))) reject('BAD_SIGNATURE', 'device reset: owner signature does not verify');
  const rawDevice = s.state.get(keys.device(st.devicePublicKey));
  if (rawDevice === undefined) reject('UNKNOWN_DEVICE', 'the device is not linked to a vehicle');
  const vidHash = loadDevice(rawDevice);
  const vehicle = requireVehicle(s, vidHash);
  requireOwner(s, vehicle, vidHash);
  s.state.set(keys.vehicle(vidHash), saveVehicle({ ...vehicle, device: null }));
  s.state.delete(keys.device(st.devicePublicKey));
}

export function applyVehicleTransfer(s: TxScope, b: VehicleTransferBody): void {
  const vehicle = requireVehicle(s, b.vidHash);
  requireOwner(s, vehicle, b.vidHash);
  if (equalBytes(b.newOwnerPubKey, vehicle.ownerPublicKey)) reject('SAME_OWNER', 'transfer to the current owner');
  const accepted = isVehicleTransferAcceptanceValid(
    { chainId: s.ctx.chainId, vidHash: b.vidHash, currentOwnerPubKey: vehicle.ownerPublicKey, newOwnerPubKey: b.newOwnerPubKey, nonce: s.tx.nonce },
    b.acceptanceSignature,
  );
  if (!accepted) reject('BAD_SIGNATURE', "the new owner's acceptance signature does not verify");
  if (vehicle.device !== null) s.state.delete(keys.device(vehicle.device.devicePublicKey));
  s.state.delete(keys.ownerVehicle(hash160(vehicle.ownerPublicKey), b.vidHash));
  s.state.set(keys.ownerVehicle(hash160(b.newOwnerPubKey), b.vidHash), INDEX_VALUE);
  s.state.set(keys.vehicle(b.vidHash), saveVehicle({ ownerPublicKey: b.newOwnerPubKey, ownerSince: s.ctx.height, device: null }));
}

export function applyLockKeySet(s: TxScope, b: LockKeySetBody): void {
  const vehicle = requireVehicle(s, b.vidHash);
  requireOwner(s, vehicle, b.vidHash);
  const raw = s.state.get(keys.lockKeySet(b.vidHash));
  if (raw !== undefined) {
    const current = loadLockKeySet(raw);
    if (b.epoch <= current.epoch) reject('EPOCH_NOT_INCREASING', `epoch ${b.epoch} does not raise ${current.epoch}`);
  }
  // The lock accepts only a set signed by the vehicle's owner for its vehicle and this epoch: one
  // that could never be accepted must not be anchored either.
  let ks: KeySet;
  try {
    ks = decodeKeySet(b.keySet).keySet;
  } catch (err) {
    if (err instanceof LockError) reject('KEY_SET_INVALID', `keySet: ${err.message}`);
    throw err;
  }
  if (!equalBytes(ks.vidHash, b.vidHash) || ks.epoch !== b.epoch) reject('KEY_SET_INVALID', 'the key set names another vehicle or epoch than the transaction');
  if (!equalBytes(ks.ownerPublicKey, vehicle.ownerPublicKey)) reject('NOT_OWNER', 'the key set is signed by a key that does not own the vehicle');
  s.state.set(keys.lockKeySet(b.vidHash), saveLockKeySet({ epoch: b.epoch, keySet: b.keySet, height: s.ctx.height }));
}

export function applyGrant(s: TxScope, b: GrantBody): void {
  if (b.revokes !== null) {
    const raw = s.state.get(keys.grant(b.revokes));
    if (raw === undefined) reject('UNKNOWN_GRANT', `no grant ${hex(b.revokes)}`);
    const old = loadGrant(raw);
    if (!equalBytes(old.grantorHash160, s.signerHash)) reject('NOT_GRANTOR', 'only the grantor may revoke a grant');
    if (old.revokedAt !== 0) reject('ALREADY_REVOKED', `grant ${hex(b.revokes)} was revoked at height ${old.revokedAt}`);
    s.state.set(keys.grant(b.revokes), saveGrant({ ...old, revokedAt: s.ctx.height }));
  }
  if (b.kind === 'revoke') return;
  requireFormats(s, b.formats);
  checkGrantExpiry(s, b.expiresAt);
  const granteeHash = decodeAddress(b.grantee);
  const id = s.tx.txId;
  s.state.set(
    keys.grant(id),
    saveGrant({
      grantorHash160: s.signerHash,
      granteeHash160: granteeHash,
      granteeRsaFingerprint: b.granteeRsaFingerprint,
      fromDay: b.fromDay,
      toDay: b.toDay,
      formats: b.formats,
      resell: b.resell,
      expiresAt: b.expiresAt,
      height: s.ctx.height,
      revokedAt: 0,
    }),
  );
  s.state.set(keys.grantByGrantor(s.signerHash, id), INDEX_VALUE);
  s.state.set(keys.grantByGrantee(granteeHash, id), INDEX_VALUE);
}

export function applyWriteGrant(s: TxScope, b: WriteGrantBody): void {
  if (b.revokes !== null) {
    const raw = s.state.get(keys.writeGrant(b.revokes));
    if (raw === undefined) reject('UNKNOWN_GRANT', `no write grant ${hex(b.revokes)}`);
    const old = loadWriteGrant(raw);
    if (!equalBytes(old.grantorPublicKey, s.tx.signer)) reject('NOT_GRANTOR', 'only the grantor may revoke a write grant');
    if (old.revokedAt !== 0) reject('ALREADY_REVOKED', `write grant ${hex(b.revokes)} was revoked at height ${old.revokedAt}`);
    s.state.set(keys.writeGrant(b.revokes), saveWriteGrant({ ...old, revokedAt: s.ctx.height }));
  }
  if (b.kind === 'revoke') return;
  const vehicle = requireVehicle(s, b.vidHash);
  requireOwner(s, vehicle, b.vidHash);
  requireFormats(s, b.formats);
  checkGrantExpiry(s, b.expiresAt);
  const id = s.tx.txId;
  s.state.set(
    keys.writeGrant(id),
    saveWriteGrant({
      grantorPublicKey: s.tx.signer,
      vidHash: b.vidHash,
      shopPublicKey: b.shopPubKey,
      plateKey: b.plateKey,
      formats: b.formats,
      expiresAt: b.expiresAt,
      height: s.ctx.height,
      revokedAt: 0,
    }),
  );
  s.state.set(keys.writeGrantByShop(b.shopPubKey, id), INDEX_VALUE);
  s.state.set(keys.writeGrantByVehicle(b.vidHash, id), INDEX_VALUE);
}

export function applyBatchAnchor(s: TxScope, b: BatchAnchorBody): void {
  const isValidator = s.state.get(keys.validator(s.signerHash)) !== undefined;
  const isAnchorer = s.state.get(keys.anchorer(s.signerHash)) !== undefined;
  if (!isValidator && !isAnchorer) reject('NOT_ANCHORER', `${p2pkhAddress(s.tx.signer)} is neither a validator nor a genesis anchorer`);
  const key = keys.anchor(s.signerHash, b.batchId);
  if (s.state.get(key) !== undefined) reject('DUPLICATE_BATCH', `batch ${b.batchId} of ${p2pkhAddress(s.tx.signer)} is already anchored`);
  s.state.set(key, saveAnchor({ height: s.ctx.height, txId: s.tx.txId, root: b.root, leafCount: b.leafCount }));
}
