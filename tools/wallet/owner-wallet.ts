// The owner wallet as a library: unlock, pair/reset dongles, and read the owner's days of records and trips, verified and decrypted.
//
// The CLI (`carchain wallet …`) and the browser trip viewer are thin front ends over this object.
// Which addresses to read is derived, never stored: for each paired vehicle's pool and each UTC day
// the wallet runs deductFrom (the dongle's randomFrom), so a restored mnemonic plus the vehicle
// index and pool size finds every old record.
import type { KeyObject } from 'node:crypto';
import { randomBytes } from 'node:crypto';
import { ChainClient } from '../../gateway/chain/client/chain-client.js';
import { builtinFormatDictionary } from '../../protocol/builtin-formats.js';
import { encodeDeviceResetBody, encodeDeviceSetupBody } from '../../protocol/chain/tx-bodies.js';
import { buildTx } from '../../protocol/chain/transactions.js';
import { signDeviceReset, type SignedDeviceSetup } from '../../protocol/device-statements.js';
import { CarchainError } from '../../protocol/errors.js';
import type { FormatDictionary } from '../../protocol/formats.js';
import type { HDKey } from '../../protocol/hd-keys.js';
import type { KeyValue } from '../../protocol/key-encoding.js';
import { ownerIdentity, ownerRsaKeyPair, poolMaterialFor } from '../../protocol/owner-keys.js';
import { deductFrom, derivePoolAddresses, utcDay } from '../../protocol/pools.js';
import { projectColumns, type RecordValue } from '../../protocol/record-value.js';
import { pairDongle, resetDongle } from './pairing-client.js';
import { tripFromRecord, type TripView } from './trip-view.js';
import { fetchAddressEntries, getJson, verifyEntries, type RejectedRecord, type VerifiedRecord } from './verified-records.js';
import { saveWalletMeta, unlockWallet, type PairedDevice, type WalletMeta } from './wallet-keystore.js';

export type OwnerWalletErrorCode = 'USAGE' | 'DEVICE_UNKNOWN' | 'TRIP_NOT_FOUND' | 'NO_DEVICES' | 'RANGE_TOO_LONG';
export class OwnerWalletError extends CarchainError<OwnerWalletErrorCode> {}

export const DEFAULT_GATEWAY_URL = 'http://127.0.0.1:8080';
export const DEFAULT_POOL_SIZE = 16;
/** A range longer than this is almost certainly a typo (one request per pool address per day). */
export const MAX_RANGE_DAYS = 3660;
const DAY_MS = 86_400_000;

export interface DayRange {
  /** Inclusive UTC days, YYYYMMDD. */
  from: string;
  to: string;
}

export interface RecordsResult {
  records: VerifiedRecord[];
  rejected: RejectedRecord[];
  /** Pool addresses read (one getKVRange walk each). */
  addresses: string[];
}

export interface TripListing {
  trips: TripView[];
  rejected: RejectedRecord[];
  addresses: string[];
}

/** A UTC day as YYYYMMDD from YYYY-MM-DD, YYYYMMDD, or an ISO time. */
export function parseDay(text: string): string {
  const compact = /^\d{4}-\d{2}-\d{2}$/.test(text) ? text.replaceAll('-', '') : text;
  if (/^\d{8}$/.test(compact)) {
    try {
      return utcDay(compact);
    } catch (cause) {
      throw new OwnerWalletError('USAGE', `${JSON.stringify(text)} is not a calendar day`, { cause });
    }
  }
  const ms = Date.parse(text);
  if (!Number.isFinite(ms)) throw new OwnerWalletError('USAGE', `${JSON.stringify(text)} is not a date (YYYY-MM-DD)`);
  return utcDay(ms);
}

function dayStart(day: string): number {
  return Date.UTC(Number(day.slice(0, 4)), Number(day.slice(4, 6)) - 1, Number(day.slice(6, 8)));
}

export function daysIn(range: DayRange): string[] {
  const start = dayStart(range.from);
  const end = dayStart(range.to);
  if (end < start) throw new OwnerWalletError('USAGE', `--from ${range.from} is after --to ${range.to}`);
  const count = (end - start) / DAY_MS + 1;
  if (count > MAX_RANGE_DAYS) throw new OwnerWalletError('RANGE_TOO_LONG', `${count} days asked; at most ${MAX_RANGE_DAYS}`);
  return Array.from({ length: count }, (_, i) => utcDay(start + i * DAY_MS));
}

/** The day a record belongs to, from its key's time field (UTC YYYYMMDDhhmmss), or null if its key has none. */
export function recordDay(key: Record<string, KeyValue>): string | null {
  for (const field of ['START_TIME', 'TIME']) {
    const v = key[field];
    if ((typeof v === 'number' || typeof v === 'bigint') && String(v).length === 14) return String(v).slice(0, 8);
  }
  return null;
}

export interface PairInput {
  url: string;
  code: string;
  vid: string;
  vehicleIndex?: number;
  poolSize?: number;
  /** Submit the co-signed DeviceSetup here (a chain RPC URL). */
  chainRpcUrl?: string;
  now?: number;
}

export class OwnerWallet {
  private rsa: { publicKey: KeyObject; privateKey: KeyObject } | null = null;
  readonly formats: FormatDictionary = builtinFormatDictionary();

  private constructor(
    readonly path: string,
    readonly root: HDKey,
    public meta: WalletMeta,
  ) {}

  static async open(path: string, passphrase: string): Promise<OwnerWallet> {
    const unlocked = await unlockWallet(path, passphrase);
    return new OwnerWallet(path, unlocked.root, unlocked.meta);
  }

  get ownerAddress(): string {
    return this.meta.ownerAddress;
  }

  /** The RSA-3072 data key (derived on first use: about a second of prime search). */
  rsaKeyPair(): { publicKey: KeyObject; privateKey: KeyObject } {
    this.rsa ??= ownerRsaKeyPair(this.root);
    return this.rsa;
  }

  devices(): PairedDevice[] {
    return this.meta.devices;
  }

  /** Distinct pools of the paired vehicles: one per (vehicle index, pool size). */
  pools(): { vehicleIndex: number; poolSize: number; vids: string[]; addresses: string[]; userSeed: Uint8Array }[] {
    const seen = new Map<string, { vehicleIndex: number; poolSize: number; vids: string[] }>();
    for (const d of this.meta.devices) {
      const k = `${d.vehicleIndex}/${d.poolSize}`;
      const pool = seen.get(k) ?? { vehicleIndex: d.vehicleIndex, poolSize: d.poolSize, vids: [] };
      if (!pool.vids.includes(d.vid)) pool.vids.push(d.vid);
      seen.set(k, pool);
    }
    return [...seen.values()].map((p) => {
      const material = poolMaterialFor(this.root, p.vehicleIndex, p.poolSize);
      return { ...p, addresses: derivePoolAddresses(material), userSeed: material.userSeed };
    });
  }

  /** The vehicle index for a VIN: the one it already has in this wallet, else the next free one. */
  vehicleIndexFor(vid: string): number {
    const known = this.meta.devices.find((d) => d.vid === vid);
    if (known) return known.vehicleIndex;
    return this.meta.devices.reduce((next, d) => Math.max(next, d.vehicleIndex + 1), 0);
  }

  async pair(input: PairInput): Promise<{ device: PairedDevice; authorised: number; setupTxId: string | null }> {
    const vehicleIndex = input.vehicleIndex ?? this.vehicleIndexFor(input.vid);
    const poolSize = input.poolSize ?? DEFAULT_POOL_SIZE;
    const now = input.now ?? Date.now();
    const agent = input.chainRpcUrl ?? 'carchain-wallet';
    const result = await pairDongle({ url: input.url, pairingCode: input.code, root: this.root, vid: input.vid, vehicleIndex, poolSize, agent, now });
    const deviceId = input.code.split(':')[2]!;
    const device: PairedDevice = {
      deviceId, devicePublicKey: Buffer.from(result.setup.statement.devicePublicKey).toString('hex'),
      vid: input.vid, vehicleIndex, poolSize: result.poolSize, pairedAt: now,
    };
    // The dongle is paired from here on: record it before talking to the chain, which may fail.
    this.meta = { ...this.meta, devices: [...this.meta.devices.filter((d) => d.deviceId !== deviceId), device] };
    saveWalletMeta(this.path, this.meta);
    let setupTxId: string | null = null;
    if (input.chainRpcUrl !== undefined) {
      setupTxId = await this.submitSetup(input.chainRpcUrl, result.setup, now);
      device.setupTxId = setupTxId;
      saveWalletMeta(this.path, this.meta);
    }
    return { device, authorised: result.authorised, setupTxId };
  }

  /** DeviceSetup on the chain: signed by the owner key named in the statement, which also signs the tx. */
  private async submitSetup(rpcUrl: string, setup: SignedDeviceSetup, now: number): Promise<string> {
    const chain = new ChainClient([rpcUrl]);
    const { chainId } = await chain.status();
    const tx = buildTx({ type: 'DeviceSetup', chainId, signerPriv: ownerIdentity(this.root).privateKey, expiresAt: now + 30 * 60_000, body: encodeDeviceSetupBody(setup) });
    const res = await chain.submit(tx.bytes, { waitForCommit: true });
    return res.txId;
  }

  /** Resets the dongle at `url` (it forgets this owner; its outbox still drains) and, with a chain, unlinks it there too. */
  async reset(url: string, options: { chainRpcUrl?: string; now?: number } = {}): Promise<{ deviceId: string | null; resetAt: number; resetTxId: string | null }> {
    const now = options.now ?? Date.now();
    const info = await getJson<{ deviceAddress: string; identityPublicKey: string }>(`${url}/pairing`);
    const { resetAt } = await resetDongle(url, this.root, now);
    const device = this.meta.devices.find((d) => d.deviceId === info.deviceAddress) ?? null;
    if (device) {
      device.resetAt = resetAt;
      saveWalletMeta(this.path, this.meta);
    }
    let resetTxId: string | null = null;
    if (options.chainRpcUrl !== undefined && device?.setupTxId !== undefined) {
      const identity = ownerIdentity(this.root);
      const statement = { devicePublicKey: Uint8Array.from(Buffer.from(info.identityPublicKey, 'hex')), ownerPublicKey: identity.publicKey, time: now, nonce: Uint8Array.from(randomBytes(16)) };
      const chain = new ChainClient([options.chainRpcUrl]);
      const { chainId } = await chain.status();
      const body = encodeDeviceResetBody({ statement, signature: signDeviceReset(statement, identity.privateKey) });
      const tx = buildTx({ type: 'DeviceReset', chainId, signerPriv: identity.privateKey, expiresAt: now + 30 * 60_000, body });
      resetTxId = (await chain.submit(tx.bytes, { waitForCommit: true })).txId;
    }
    return { deviceId: device?.deviceId ?? info.deviceAddress, resetAt, resetTxId };
  }

  /**
   * Every record of `format` (or of any format) filed on the days in `range`, verified and decrypted.
   * Each distinct pool address is walked once; records whose day (key time, else storage day) falls
   * outside the range, or does not map to the address they were found under, are left out.
   */
  async records(gatewayUrl: string, range: DayRange, options: { format?: string; onProgress?: (done: number, total: number) => void } = {}): Promise<RecordsResult> {
    if (options.format !== undefined) this.formats.get(options.format); // FORMAT_UNKNOWN before any request
    const pools = this.pools();
    if (pools.length === 0) throw new OwnerWalletError('NO_DEVICES', 'this wallet has no paired device yet (carchain wallet pair …)');
    const days = daysIn(range);
    const wanted = new Map<string, { pool: (typeof pools)[number]; days: Set<string> }>();
    for (const pool of pools) {
      for (const day of days) {
        const address = deductFrom(pool.addresses, day, pool.userSeed);
        const slot = wanted.get(address) ?? { pool, days: new Set<string>() };
        slot.days.add(day);
        wanted.set(address, slot);
      }
    }
    const records: VerifiedRecord[] = [];
    const rejected: RejectedRecord[] = [];
    let done = 0;
    for (const [address, slot] of wanted) {
      const entries = await fetchAddressEntries(gatewayUrl, address, options.format);
      const result = verifyEntries(entries, this.formats, this.rsaKeyPair().privateKey);
      rejected.push(...result.rejected);
      for (const r of result.records) {
        // A format without a time in its key (VIN_CODE, carvio) counts on the day the gateway stored it,
        // as the gateway's grant rule does.
        if (slot.days.has(recordDay(r.key) ?? utcDay(r.storedAt))) records.push(r);
      }
      options.onProgress?.(++done, wanted.size);
    }
    return { records, rejected, addresses: [...wanted.keys()] };
  }

  /** Records with only the named columns of their value (getKV's `columns=` projection, done after decryption). */
  project(record: VerifiedRecord, columns: readonly string[]): RecordValue {
    return projectColumns(this.formats.get(record.format), record.value, columns);
  }

  async listTrips(gatewayUrl: string, range: DayRange, onProgress?: (done: number, total: number) => void): Promise<TripListing> {
    const { records, rejected, addresses } = await this.records(gatewayUrl, range, { format: 'trip-gps', ...(onProgress ? { onProgress } : {}) });
    const vehicleOf = new Map<string, number>();
    for (const pool of this.pools()) for (const a of pool.addresses) vehicleOf.set(a, pool.vehicleIndex);
    const trips = records.map((r) => tripFromRecord(r, vehicleOf.get(r.address) ?? 0)).sort((a, b) => a.start - b.start || a.id.localeCompare(b.id));
    return { trips, rejected, addresses };
  }

  /**
   * One trip by its id: `<vehicle>-<START_TIME>-<SESSION_ID>` as `trips` prints it (the start day
   * names the pool address, so this is one request), or a record id (searched in `range`).
   */
  async trip(gatewayUrl: string, id: string, range?: DayRange): Promise<TripView> {
    const short = /^(\d+)-(\d{14})-(\d+)$/.exec(id);
    let search: DayRange;
    if (short) {
      const day = short[2]!.slice(0, 8);
      search = { from: day, to: day };
    } else if (/^[0-9a-f]{64}$/.test(id)) {
      const today = utcDay(Date.now());
      search = range ?? { from: utcDay(Date.now() - 30 * DAY_MS), to: today };
    } else {
      throw new OwnerWalletError('USAGE', `${JSON.stringify(id)} is neither a trip id (vehicle-START_TIME-SESSION, as \`wallet trips\` prints) nor a 64-hex record id`);
    }
    const { trips, rejected } = await this.listTrips(gatewayUrl, search);
    const found = trips.find((t) => t.id === id || t.recordId === id);
    if (found) return found;
    const bad = rejected.find((r) => r.recordId === id);
    if (bad) throw new CarchainError('RECORD_REJECTED', `record ${id} failed verification: ${bad.reason}`);
    throw new OwnerWalletError('TRIP_NOT_FOUND', `no trip ${id} between ${search.from} and ${search.to}`);
  }
}
