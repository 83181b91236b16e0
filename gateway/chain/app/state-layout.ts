// The application state's key layout (one ASCII table byte + fixed-width fields) and the Save/Load encodings of its records.
//
// Tables (docs/chain-transactions.md §State layout). Every key is tableByte ‖ fixed-width fields, so
// a prefix scan of one table never sees another table's keys and ordered fields scan in order
// (big-endian integers). Every value starts with a record version byte (1).
import type { FormatDefinition } from '../../../protocol/formats.js';
import { decodeFormatDefinition, encodeFormatDefinition } from '../../../protocol/formats.js';
import { ByteReader, ByteWriter, concatBytes, utf8 } from '../../../protocol/wire.js';
import { AppError } from './errors.js';

export const TABLE = {
  meta: 0x4d, // 'M' + name                       → meta value
  format: 0x46, // 'F' + name (UTF-8)             → FormatRecord
  vehicle: 0x56, // 'V' + vidHash[32]             → VehicleRecord
  ownerVehicle: 0x4f, // 'O' + owner hash160 + vidHash → (empty)
  device: 0x44, // 'D' + devicePub[33]           → vidHash record
  lockKeySet: 0x4b, // 'K' + vidHash[32]          → LockKeySetRecord
  grant: 0x47, // 'G' + grantId[32]              → GrantRecord
  grantByGrantor: 0x52, // 'R' + hash160 + grantId → (empty)
  grantByGrantee: 0x45, // 'E' + hash160 + grantId → (empty)
  writeGrant: 0x57, // 'W' + id[32]              → WriteGrantRecord
  writeGrantByShop: 0x53, // 'S' + shopPub[33] + id → (empty)
  writeGrantByVehicle: 0x59, // 'Y' + vidHash + id → (empty)
  anchor: 0x42, // 'B' + signer hash160 + batchId u64 → AnchorRecord
  account: 0x41, // 'A' + hash160               → AccountRecord
  validator: 0x50, // 'P' + hash160              → ValidatorRecord
  anchorer: 0x4e, // 'N' + hash160               → (version byte)
  txId: 0x54, // 'T' + txId[32]                  → expiresAt u64
  txExpiry: 0x51, // 'Q' + expiresAt u64 + txId   → (empty)
  slashed: 0x5a, // 'Z' + hash160 + height u64    → slashed-at height u64
} as const;

const RECORD_VERSION = 1;
const EMPTY = new Uint8Array(0);

function u64Bytes(value: number): Uint8Array {
  return new ByteWriter().u64(value).finish();
}

function key(table: number, ...parts: Uint8Array[]): Uint8Array {
  return concatBytes(Uint8Array.of(table), ...parts);
}

export const keys = {
  meta: (name: string) => key(TABLE.meta, utf8(name)),
  format: (name: string) => key(TABLE.format, utf8(name)),
  formatPrefix: () => key(TABLE.format),
  vehicle: (vidHash: Uint8Array) => key(TABLE.vehicle, vidHash),
  ownerVehicle: (ownerHash160: Uint8Array, vidHash: Uint8Array) => key(TABLE.ownerVehicle, ownerHash160, vidHash),
  ownerVehiclePrefix: (ownerHash160: Uint8Array) => key(TABLE.ownerVehicle, ownerHash160),
  device: (devicePub: Uint8Array) => key(TABLE.device, devicePub),
  lockKeySet: (vidHash: Uint8Array) => key(TABLE.lockKeySet, vidHash),
  grant: (grantId: Uint8Array) => key(TABLE.grant, grantId),
  grantByGrantor: (hash: Uint8Array, grantId: Uint8Array) => key(TABLE.grantByGrantor, hash, grantId),
  grantByGrantorPrefix: (hash: Uint8Array) => key(TABLE.grantByGrantor, hash),
  grantByGrantee: (hash: Uint8Array, grantId: Uint8Array) => key(TABLE.grantByGrantee, hash, grantId),
  grantByGranteePrefix: (hash: Uint8Array) => key(TABLE.grantByGrantee, hash),
  writeGrant: (id: Uint8Array) => key(TABLE.writeGrant, id),
  writeGrantByShop: (shopPub: Uint8Array, id: Uint8Array) => key(TABLE.writeGrantByShop, shopPub, id),
  writeGrantByShopPrefix: (shopPub: Uint8Array) => key(TABLE.writeGrantByShop, shopPub),
  writeGrantByVehicle: (vidHash: Uint8Array, id: Uint8Array) => key(TABLE.writeGrantByVehicle, vidHash, id),
  writeGrantByVehiclePrefix: (vidHash: Uint8Array) => key(TABLE.writeGrantByVehicle, vidHash),
  anchor: (signerHash160: Uint8Array, batchId: number) => key(TABLE.anchor, signerHash160, u64Bytes(batchId)),
  account: (hash: Uint8Array) => key(TABLE.account, hash),
  validator: (hash: Uint8Array) => key(TABLE.validator, hash),
  validatorPrefix: () => key(TABLE.validator),
  anchorer: (hash: Uint8Array) => key(TABLE.anchorer, hash),
  txId: (txId: Uint8Array) => key(TABLE.txId, txId),
  txExpiry: (expiresAt: number, txId: Uint8Array) => key(TABLE.txExpiry, u64Bytes(expiresAt), txId),
  txExpiryPrefix: () => key(TABLE.txExpiry),
  slashed: (hash: Uint8Array, height: number) => key(TABLE.slashed, hash, u64Bytes(height)),
};

/** Index entries carry no data; a zero-length value still means "present" (null means delete). */
export const INDEX_VALUE = EMPTY;

function reader(bytes: Uint8Array, what: string): ByteReader {
  const r = new ByteReader(bytes, what);
  const version = r.u8();
  if (version !== RECORD_VERSION) throw new AppError('STATE_CORRUPT', `${what}: record version ${version}`);
  return r;
}

/** Load a record; any decoding problem in stored state is corruption, not a tx's fault. */
function load<T>(what: string, bytes: Uint8Array, read: (r: ByteReader) => T): T {
  try {
    const r = reader(bytes, what);
    const value = read(r);
    r.end();
    return value;
  } catch (err) {
    if (err instanceof AppError) throw err;
    throw new AppError('STATE_CORRUPT', `${what}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
}

function writer(): ByteWriter {
  return new ByteWriter().u8(RECORD_VERSION);
}

function writeOptional(w: ByteWriter, value: Uint8Array | null, length: number): void {
  if (value === null) w.u8(0);
  else w.u8(1).fixed(value, length);
}

function readOptional(r: ByteReader, length: number): Uint8Array | null {
  const flag = r.u8();
  if (flag === 0) return null;
  if (flag !== 1) throw new AppError('STATE_CORRUPT', `optional flag ${flag}`);
  return r.take(length).slice();
}

function writeNames(w: ByteWriter, names: readonly string[]): void {
  w.varint(names.length);
  for (const n of names) w.string(n);
}

function readNames(r: ByteReader): string[] {
  const out: string[] = [];
  for (let i = r.count(64, 'names'); i > 0; i--) out.push(r.string(64, 'name'));
  return out;
}

// --- formats -----------------------------------------------------------------------------------

export interface FormatRecord {
  definition: FormatDefinition;
  /** Public key of the maintainer; null for built-in formats (immutable). */
  maintainer: Uint8Array | null;
  /** Height of the registration of this version (0 = genesis). */
  height: number;
}

export function saveFormat(r: FormatRecord): Uint8Array {
  const w = writer();
  writeOptional(w, r.maintainer, 33);
  return w.u64(r.height).bytes(encodeFormatDefinition(r.definition)).finish();
}

export function loadFormat(bytes: Uint8Array): FormatRecord {
  return load('format record', bytes, (r) => {
    const maintainer = readOptional(r, 33);
    const height = r.u64Number('height');
    const definition = decodeFormatDefinition(r.bytes(1 << 16, 'definition'));
    return { definition, maintainer, height };
  });
}

// --- vehicles and devices ----------------------------------------------------------------------

export interface DeviceLink {
  devicePublicKey: Uint8Array;
  rsaFingerprint: Uint8Array;
  /** Height of the DeviceSetup. */
  since: number;
}

export interface VehicleRecord {
  ownerPublicKey: Uint8Array;
  /** Height at which the current owner became owner (first DeviceSetup or last transfer). */
  ownerSince: number;
  device: DeviceLink | null;
}

export function saveVehicle(v: VehicleRecord): Uint8Array {
  const w = writer().fixed(v.ownerPublicKey, 33).u64(v.ownerSince);
  if (v.device === null) return w.u8(0).finish();
  return w.u8(1).fixed(v.device.devicePublicKey, 33).fixed(v.device.rsaFingerprint, 32).u64(v.device.since).finish();
}

export function loadVehicle(bytes: Uint8Array): VehicleRecord {
  return load('vehicle record', bytes, (r) => {
    const ownerPublicKey = r.take(33).slice();
    const ownerSince = r.u64Number('ownerSince');
    const flag = r.u8();
    if (flag === 0) return { ownerPublicKey, ownerSince, device: null };
    if (flag !== 1) throw new AppError('STATE_CORRUPT', `vehicle record: device flag ${flag}`);
    const devicePublicKey = r.take(33).slice();
    const rsaFingerprint = r.take(32).slice();
    const since = r.u64Number('since');
    return { ownerPublicKey, ownerSince, device: { devicePublicKey, rsaFingerprint, since } };
  });
}

export function saveDevice(vidHash: Uint8Array): Uint8Array {
  return writer().fixed(vidHash, 32).finish();
}

export function loadDevice(bytes: Uint8Array): Uint8Array {
  return load('device record', bytes, (r) => r.take(32).slice());
}

// --- lock key sets -----------------------------------------------------------------------------

export interface LockKeySetRecord {
  epoch: number;
  keySet: Uint8Array;
  height: number;
}

export function saveLockKeySet(k: LockKeySetRecord): Uint8Array {
  return writer().u64(k.epoch).u64(k.height).bytes(k.keySet).finish();
}

export function loadLockKeySet(bytes: Uint8Array): LockKeySetRecord {
  return load('lock key set record', bytes, (r) => {
    const epoch = r.u64Number('epoch');
    const height = r.u64Number('height');
    const keySet = r.bytes(1 << 16, 'keySet').slice();
    return { epoch, keySet, height };
  });
}

// --- grants ------------------------------------------------------------------------------------

export interface GrantRecord {
  grantorHash160: Uint8Array;
  granteeHash160: Uint8Array;
  granteeRsaFingerprint: Uint8Array;
  fromDay: number;
  toDay: number;
  formats: string[];
  resell: boolean;
  expiresAt: number;
  height: number;
  /** Height of the revoking tx; 0 = not revoked. */
  revokedAt: number;
}

export function saveGrant(g: GrantRecord): Uint8Array {
  const w = writer().fixed(g.grantorHash160, 20).fixed(g.granteeHash160, 20).fixed(g.granteeRsaFingerprint, 32).u32(g.fromDay).u32(g.toDay);
  writeNames(w, g.formats);
  return w.u8(g.resell ? 1 : 0).u64(g.expiresAt).u64(g.height).u64(g.revokedAt).finish();
}

export function loadGrant(bytes: Uint8Array): GrantRecord {
  return load('grant record', bytes, (r) => ({
    grantorHash160: r.take(20).slice(),
    granteeHash160: r.take(20).slice(),
    granteeRsaFingerprint: r.take(32).slice(),
    fromDay: r.u32(),
    toDay: r.u32(),
    formats: readNames(r),
    resell: r.u8() === 1,
    expiresAt: r.u64Number('expiresAt'),
    height: r.u64Number('height'),
    revokedAt: r.u64Number('revokedAt'),
  }));
}

export interface WriteGrantRecord {
  grantorPublicKey: Uint8Array;
  vidHash: Uint8Array;
  shopPublicKey: Uint8Array;
  plateKey: Uint8Array;
  formats: string[];
  expiresAt: number;
  height: number;
  revokedAt: number;
}

export function saveWriteGrant(g: WriteGrantRecord): Uint8Array {
  const w = writer().fixed(g.grantorPublicKey, 33).fixed(g.vidHash, 32).fixed(g.shopPublicKey, 33).fixed(g.plateKey, 32);
  writeNames(w, g.formats);
  return w.u64(g.expiresAt).u64(g.height).u64(g.revokedAt).finish();
}

export function loadWriteGrant(bytes: Uint8Array): WriteGrantRecord {
  return load('write grant record', bytes, (r) => ({
    grantorPublicKey: r.take(33).slice(),
    vidHash: r.take(32).slice(),
    shopPublicKey: r.take(33).slice(),
    plateKey: r.take(32).slice(),
    formats: readNames(r),
    expiresAt: r.u64Number('expiresAt'),
    height: r.u64Number('height'),
    revokedAt: r.u64Number('revokedAt'),
  }));
}

// --- anchors -----------------------------------------------------------------------------------

export interface AnchorRecord {
  height: number;
  txId: Uint8Array;
  root: Uint8Array;
  leafCount: number;
}

export function saveAnchor(a: AnchorRecord): Uint8Array {
  return writer().u64(a.height).fixed(a.txId, 32).fixed(a.root, 32).u32(a.leafCount).finish();
}

export function loadAnchor(bytes: Uint8Array): AnchorRecord {
  return load('anchor record', bytes, (r) => ({ height: r.u64Number('height'), txId: r.take(32).slice(), root: r.take(32).slice(), leafCount: r.u32() }));
}

// --- accounts, validators, anchorers -----------------------------------------------------------

export interface AccountRecord {
  balance: number;
  bonded: number;
  /** Unstaked but still slashable; it joins the balance at height `unbondingUntil`. */
  unbonding: number;
  /** 0 when nothing is unbonding. */
  unbondingUntil: number;
}

/**
 * balance u64 ‖ bonded u64 [‖ unbonding u64 ‖ unbondingUntil u64]. The tail is written only while
 * something is unbonding, so accounts that never unstaked keep the bytes (and app hashes) they had
 * before unbonding existed.
 */
export function saveAccount(a: AccountRecord): Uint8Array {
  const w = writer().u64(a.balance).u64(a.bonded);
  if (a.unbonding > 0) w.u64(a.unbonding).u64(a.unbondingUntil);
  return w.finish();
}

export function loadAccount(bytes: Uint8Array): AccountRecord {
  return load('account record', bytes, (r) => {
    const balance = r.u64Number('balance');
    const bonded = r.u64Number('bonded');
    if (r.remaining === 0) return { balance, bonded, unbonding: 0, unbondingUntil: 0 };
    return { balance, bonded, unbonding: r.u64Number('unbonding'), unbondingUntil: r.u64Number('unbondingUntil') };
  });
}

export interface ValidatorRecord {
  publicKey: Uint8Array;
  power: number;
}

export function saveValidator(v: ValidatorRecord): Uint8Array {
  return writer().fixed(v.publicKey, 33).u64(v.power).finish();
}

export function loadValidator(bytes: Uint8Array): ValidatorRecord {
  return load('validator record', bytes, (r) => ({ publicKey: r.take(33).slice(), power: r.u64Number('power') }));
}

export function saveMarker(): Uint8Array {
  return writer().finish();
}

export function saveHeight(height: number): Uint8Array {
  return writer().u64(height).finish();
}

export function loadHeight(bytes: Uint8Array, what: string): number {
  return load(what, bytes, (r) => r.u64Number('height'));
}

// --- meta --------------------------------------------------------------------------------------

export function saveMetaBytes(value: Uint8Array): Uint8Array {
  return writer().bytes(value).finish();
}

export function loadMetaBytes(bytes: Uint8Array): Uint8Array {
  return load('meta record', bytes, (r) => r.bytes(1 << 16, 'meta').slice());
}
