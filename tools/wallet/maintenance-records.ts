// Owner side: the records shops wrote for this wallet's cars under their WriteGrants (maintenance jobs, plate sightings), verified and decrypted.
//
// A shop files its records under its own address (P2PKH of the shop key named in the grant), so the
// wallet reads them from the chain's grants rather than from the date-seeded pool: for each paired
// car, the write grants this owner issued that list the format → each shop's address →
// getKVRange(format). One walk serves `maintenance` and `plate-sighting` (a CAIT terminal's sightings).
// A sighting names its plate, so it is tied to the grant whose plateKey is that plate's keyed hash
// (the owner can compute it, nobody else can): a sighting of a plate no grant of that shop names
// is rejected (PLATE_NOT_GRANTED), and one of two grants to the same shop gets the right grant id.
// A record is kept only if its origin proof, id and batch path verify (verified-records.ts), it opens
// with the owner's RSA key (others' records at the same shop do not), its VID is the car's, and it
// was stored while the grant was in force (not after revocation or expiry).
import type { KeyObject } from 'node:crypto';
import type { ChainClient } from '../../gateway/chain/client/chain-client.js';
import { p2pkhAddress } from '../../protocol/address.js';
import { vehicleIdHash } from '../../protocol/device-statements.js';
import { CarchainError } from '../../protocol/errors.js';
import type { FormatDictionary } from '../../protocol/formats.js';
import { plateKeySecret, plateKeyWith } from '../../protocol/plate-key.js';
import { equalBytes } from '../../protocol/wire.js';
import { fetchAddressEntries, verifyAndOpen, type RejectedRecord, type VerifiedRecord } from './verified-records.js';

const unhex = (s: string) => Uint8Array.from(Buffer.from(s, 'hex'));

/** A WriteGrant as the chain's `write-grants` query returns it (the fields read here). */
export interface WriteGrantJson {
  id: string;
  grantor: string;
  shopPublicKey: string;
  plateKey: string;
  formats: string[];
  expiresAt: number;
  revokedAt: number;
}

export interface ShopRecord extends VerifiedRecord {
  vid: string;
  writeGrantId: string;
  shopAddress: string;
}

export type MaintenanceRecord = ShopRecord;
export type SightingRecord = ShopRecord;

/** The formats a shop writes under a WriteGrant that the wallet reads this way. */
export type ShopRecordFormat = 'maintenance' | 'plate-sighting';

export interface MaintenanceQuery {
  gatewayUrl: string;
  chain: Pick<ChainClient, 'query' | 'block'>;
  ownerAddress: string;
  vids: readonly string[];
  formats: FormatDictionary;
  rsaPrivateKey: KeyObject;
}

export interface ShopRecords {
  records: ShopRecord[];
  rejected: RejectedRecord[];
  /** Every shop address that was read (grants listing the format). */
  shops: string[];
}

export function maintenanceRecords(q: MaintenanceQuery): Promise<ShopRecords> {
  return shopRecords(q, 'maintenance');
}

/** The sightings CAIT terminals reported for this wallet's cars (grants that list `plate-sighting`). */
export function sightingRecords(q: MaintenanceQuery & { ownerPrivateKey: Uint8Array }): Promise<ShopRecords> {
  const secrets = new Map<string, Uint8Array>();
  return shopRecords(q, 'plate-sighting', (r, g) => {
    const plate = r.value.plate;
    if (typeof plate !== 'string') return false;
    let secret = secrets.get(g.shopPublicKey);
    if (secret === undefined) secrets.set(g.shopPublicKey, (secret = plateKeySecret(q.ownerPrivateKey, unhex(g.shopPublicKey))));
    try {
      return equalBytes(plateKeyWith(secret, plate), unhex(g.plateKey));
    } catch {
      return false; // not a plate at all
    }
  });
}

/** `covers(record, grant)`: whether the grant is about this record (default: every grant for the car and shop is). */
export async function shopRecords(q: MaintenanceQuery, format: ShopRecordFormat, covers: (r: VerifiedRecord, g: WriteGrantJson) => boolean = () => true): Promise<ShopRecords> {
  const records: ShopRecord[] = [];
  const rejected: RejectedRecord[] = [];
  const shops = new Set<string>();
  for (const vid of [...new Set(q.vids)]) {
    const grants = (await q.chain.query<WriteGrantJson[]>('write-grants', { vehicle: Buffer.from(vehicleIdHash(vid)).toString('hex') }))
      .filter((g) => g.grantor === q.ownerAddress && g.formats.includes(format));
    // Several grants (plates, renewals) may name one shop: its address is read once, and a record
    // counts if any of them was in force when the gateway stored it.
    const byShop = new Map<string, { grant: WriteGrantJson; endsAt: number }[]>();
    for (const g of grants) {
      // revokedAt is a height: the grant ended at that block's time.
      const revokedTime = g.revokedAt === 0 ? Infinity : (await q.chain.block(g.revokedAt)).header.time;
      const endsAt = Math.min(revokedTime, g.expiresAt === 0 ? Infinity : g.expiresAt);
      const shopAddress = p2pkhAddress(Uint8Array.from(Buffer.from(g.shopPublicKey, 'hex')));
      byShop.set(shopAddress, [...(byShop.get(shopAddress) ?? []), { grant: g, endsAt }]);
    }
    for (const [shopAddress, shopGrants] of byShop) {
      shops.add(shopAddress);
      for (const entry of await fetchAddressEntries(q.gatewayUrl, shopAddress, format)) {
        let r: VerifiedRecord;
        try {
          r = verifyAndOpen(entry, q.formats, q.rsaPrivateKey);
        } catch (err) {
          // Another customer's record at the same shop is sealed to another key: not ours, not an error.
          if (err instanceof CarchainError && err.code === 'ENVELOPE_OPEN_FAILED') continue;
          rejected.push({ recordId: entry.recordId, address: entry.address, reason: `${err instanceof CarchainError ? `${err.code}: ` : ''}${(err as Error).message}` });
          continue;
        }
        if (r.value.VID !== vid) continue; // sealed to us, but for another of our cars (read under that car's grant)
        const covering = shopGrants.filter((x) => covers(r, x.grant));
        if (covering.length === 0) {
          rejected.push({ recordId: r.recordId, address: r.address, reason: `PLATE_NOT_GRANTED: no write grant of ${shopAddress} for this car names that plate` });
          continue;
        }
        const inForce = covering.find((x) => r.storedAt < x.endsAt);
        if (inForce === undefined) {
          rejected.push({ recordId: r.recordId, address: r.address, reason: `WRITE_GRANT_ENDED: stored after every write grant of ${shopAddress} for this car ended` });
          continue;
        }
        records.push({ ...r, vid, writeGrantId: inForce.grant.id, shopAddress });
      }
    }
  }
  records.sort((a, b) => a.storedAt - b.storedAt || a.recordId.localeCompare(b.recordId));
  return { records, rejected, shops: [...shops] };
}
