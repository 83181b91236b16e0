// The privacy filter: a plate read survives only if its keyed hash matches an active WriteGrant of this shop; every other read is dropped here.
//
// Matching happens before tracking, so an unauthorised plate never reaches the tracker, the
// database, the log or the uplink: the only trace a dropped read leaves is a counter. Matched reads
// go through the tracker (one sighting per visit) and are kept in the grant store's `sightings`;
// the caller decides whether a kept sighting also leaves as a record (sighting-records.ts).
import type { LogFn } from '../outbox/outbox.js';
import { SightingTracker, type PlateObservation, type Sighting, type SightingTrackerOptions } from './sighting-tracker.js';
import type { CachedGrant, WriteGrantStore } from './write-grant-store.js';

export interface AuthorisedSighting extends Sighting {
  grantId: string;
  /** The grant that matched: whether the sighting may leave as a record depends on it (sighting-records.ts). */
  grant: CachedGrant;
}

export class PrivacyFilter {
  private readonly tracker: SightingTracker;
  private readonly counters = { reads: 0, dropped: 0, matched: 0, sightings: 0 };

  constructor(
    private readonly store: WriteGrantStore,
    tracking: SightingTrackerOptions = {},
    private readonly log: LogFn = () => undefined,
  ) {
    this.tracker = new SightingTracker(tracking);
  }

  /** One plate read at `now`: the kept sighting when this read makes an authorised visit reportable, else null. */
  observe(read: PlateObservation, now: number): AuthorisedSighting | null {
    this.counters.reads++;
    const grant = this.store.match(read.plate, now);
    if (grant === null) {
      this.counters.dropped++;
      return null; // deliberately nothing else: no plate, no hash, no log line
    }
    this.counters.matched++;
    const sighting = this.tracker.observe(read, now);
    if (sighting === null) return null;
    this.store.recordSighting(grant, sighting);
    this.counters.sightings++;
    this.log('info', 'sighting', { plate: sighting.plate, grantId: grant.id, confidence: sighting.bestConfidence, source: sighting.source });
    return { ...sighting, grantId: grant.id, grant };
  }

  stats(): { reads: number; dropped: number; matched: number; sightings: number } {
    return { ...this.counters };
  }
}
