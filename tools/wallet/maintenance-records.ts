// Owner side: the maintenance records shops wrote for this wallet's cars under their WriteGrants, verified and decrypted.
//
// A shop files its records under its own address (P2PKH of the shop key named in the grant), so the
// wallet reads them from the chain's grants rather than from the date-seeded pool: for each paired
// car, the write grants this owner issued → each shop's address → getKVRange(format maintenance).
// A record is kept only if its origin proof, id and batch path verify (verified-records.ts), it opens
// with the owner's RSA key (others' records at the same shop do not), its VID is the car's, and it
// was stored while the grant was in force (not after revocation or expiry).
import type { KeyObject } from 'node:crypto';
import type { ChainClient } from '../../gateway/chain/client/chain-client.js';
import { p2pkhAddress } from '../../protocol/address.js';
import { vehicleIdHash } from '../../protocol/device-statements.js';
import { CarchainError } from '../../protocol/errors.js';
import type { FormatDictionary } from '../../protocol/formats.js';
import { fetchAddressEntries, verifyAndOpen, type RejectedRecord, type VerifiedRecord } from './verified-records.js';

interface WriteGrantJson {
  id: string;
  grantor: string;
  shopPublicKey: string;
  formats: string[];
  expiresAt: number;
  revokedAt: number;
}

export interface MaintenanceRecord extends VerifiedRecord {
  vid: string;
  writeGrantId: string;
  shopAddress: string;
}

export interface MaintenanceQuery {
  gatewayUrl: string;
  chain: Pick<ChainClient, 'query' | 'block'>;
  ownerAddress: string;
  vids: readonly string[];
  formats: FormatDictionary;
  rsaPrivateKey: KeyObject;
}

export async function maintenanceRecords(q: MaintenanceQuery): Promise<{ records: MaintenanceRecord[]; rejected: RejectedRecord[]; shops: string[] }> {
  const records: MaintenanceRecord[] = [];
  const rejected: RejectedRecord[] = [];
  const shops = new Set<string>();
  for (const vid of [...new Set(q.vids)]) {
    const grants = (await q.chain.query<WriteGrantJson[]>('write-grants', { vehicle: Buffer.from(vehicleIdHash(vid)).toString('hex') }))
      .filter((g) => g.grantor === q.ownerAddress && g.formats.includes('maintenance'));
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
      for (const entry of await fetchAddressEntries(q.gatewayUrl, shopAddress, 'maintenance')) {
        let r: VerifiedRecord;
        try {
          r = verifyAndOpen(entry, q.formats, q.rsaPrivateKey);
        } catch (err) {
          // Another customer's job at the same shop is sealed to another key: not ours, not an error.
          if (err instanceof CarchainError && err.code === 'ENVELOPE_OPEN_FAILED') continue;
          rejected.push({ recordId: entry.recordId, address: entry.address, reason: `${err instanceof CarchainError ? `${err.code}: ` : ''}${(err as Error).message}` });
          continue;
        }
        if (r.value.VID !== vid) continue; // sealed to us, but for another of our cars (read under that car's grant)
        const inForce = shopGrants.find((x) => r.storedAt < x.endsAt);
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
