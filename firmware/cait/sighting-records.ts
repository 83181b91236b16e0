// Kept sightings leave the terminal as `plate-sighting` records: sealed to the owner's RSA key, queued in a durable outbox, sent by the ShopUplink.
//
// Only a sighting the privacy filter kept (its plate matched a usable WriteGrant of this shop)
// reaches this module, so a read that matched no grant can never be sent from here. A kept
// sighting becomes a record only when its grant lists the `plate-sighting` format (the owner
// consented to being told, and to the shop reporting it) and the owner's ticket (VIN + RSA key) was
// imported; otherwise it stays in grants.db only and is counted under a stable reason. Records are
// filed like maintenance jobs: under the shop's own address, key {TIME, TERMINAL = shop address},
// committed to the outbox before submit() returns, removed only after the broker's PUBACK.
import { builtinFormatDictionary, timeKey } from '../../protocol/builtin-formats.js';
import { recordId, sealRecord, type SealedRecord } from '../../protocol/record.js';
import type { LogFn } from '../outbox/outbox.js';
import type { ShopUplink } from './maintenance-jobs.js';
import type { ShopIdentity } from './shop-identity.js';
import type { Sighting } from './sighting-tracker.js';
import type { CachedGrant, WriteGrantStore } from './write-grant-store.js';

export const SIGHTING_FORMAT = 'plate-sighting';

/** Why a kept sighting was not sent: stable codes for logs and counters. */
export type SightingLocalReason = 'FORMAT_NOT_GRANTED' | 'NO_TICKET' | 'NO_UPLINK';

export type SightingOutcome =
  | { sent: true; recordId: string; address: string; time: number }
  | { sent: false; reason: SightingLocalReason };

export interface SightingRecordStats {
  /** Records committed to the outbox by this run. */
  queued: number;
  /** Kept sightings not sent, by reason. */
  local: Record<SightingLocalReason, number>;
  /** Records in the outbox not yet acknowledged (this run's and earlier ones'). */
  waiting: number;
}

/** Why this sighting may not leave, or null when it may. Checked in this order so the reason names the first missing consent. */
export function sightingRefusal(grant: CachedGrant): Exclude<SightingLocalReason, 'NO_UPLINK'> | null {
  if (!grant.formats.includes(SIGHTING_FORMAT)) return 'FORMAT_NOT_GRANTED';
  if (grant.ticket === undefined) return 'NO_TICKET';
  return null;
}

/** Seals the record of one kept sighting; `timeMs` is the (claimed, unique) second it is keyed under. */
export function sealSightingRecord(grant: CachedGrant, shop: ShopIdentity, sighting: Sighting, timeMs: number): SealedRecord {
  if (grant.ticket === undefined) throw new Error(`write grant ${grant.id} has no ticket`); // callers check sightingRefusal first
  const value = { VID: grant.ticket.vid, plate: sighting.plate, confidence: sighting.bestConfidence, shop: shop.address };
  const def = builtinFormatDictionary().get(SIGHTING_FORMAT);
  return sealRecord(def, shop.address, { TIME: timeKey(timeMs), TERMINAL: shop.address }, value, grant.ticket.ownerRsaPublicKey);
}

/** The `cait run` side: decides per kept sighting, queues the record, and owns the uplink's lifetime. */
export class SightingRecorder {
  private readonly counters = { queued: 0, local: { FORMAT_NOT_GRANTED: 0, NO_TICKET: 0, NO_UPLINK: 0 } };

  /** `uplink` null: no broker configured, every kept sighting stays local (NO_UPLINK). */
  constructor(
    private readonly store: WriteGrantStore,
    private readonly shop: ShopIdentity,
    private readonly uplink: ShopUplink | null,
    private readonly log: LogFn = () => undefined,
  ) {}

  /** Starts sending (records left in the outbox by an earlier run go first). */
  async start(): Promise<void> {
    await this.uplink?.start();
  }

  /** Queues the sighting's record when its grant allows it; never throws for a refusal. */
  submit(grant: CachedGrant, sighting: Sighting): SightingOutcome {
    const refusal = this.uplink === null ? 'NO_UPLINK' : sightingRefusal(grant);
    if (refusal !== null) {
      this.counters.local[refusal]++;
      this.log('info', 'sighting kept locally', { grantId: grant.id, reason: refusal });
      return { sent: false, reason: refusal };
    }
    const time = this.store.claimSightingSecond(sighting.firstSeen);
    const record = sealSightingRecord(grant, this.shop, sighting, time);
    // Committed (fsynced) here: a kill -9 from now on loses nothing, the next start sends it.
    this.uplink!.enqueue([record]);
    this.counters.queued++;
    const id = Buffer.from(recordId(record.address, record.encodedKey)).toString('hex');
    this.log('info', 'sighting queued', { grantId: grant.id, recordId: id, time: timeKey(time) });
    return { sent: true, recordId: id, address: record.address, time };
  }

  stats(): SightingRecordStats {
    return { queued: this.counters.queued, local: { ...this.counters.local }, waiting: this.uplink?.outbox.stats().records ?? 0 };
  }

  /** Waits up to `drainMs` for acknowledgements, stops the uplink and closes the outbox; unsent records stay in it. */
  async stop(drainMs: number): Promise<{ waiting: number }> {
    if (this.uplink === null) return { waiting: 0 };
    try {
      const { waiting } = await this.uplink.stop(drainMs);
      return { waiting };
    } finally {
      this.uplink.close();
    }
  }
}
