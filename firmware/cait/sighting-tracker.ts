// One sighting per plate per visit: reads of the same plate closer together than a gap window are one visit. Pure; time is a parameter.
//
// A visit opens at the first read of a plate and is reported once it has `minReads` reads (one
// stray misread frame does not make a sighting). Every later read within `gapMs` of the previous
// one extends the same visit; a read after a longer gap opens a new visit. expire(now) closes
// visits whose gap has passed and returns them with their final counts. The tracker holds at most
// `maxOpen` visits: past that the least recently seen is closed early (bounded memory under a
// stream of garbage reads).

export interface PlateObservation {
  plate: string;
  confidence: number;
  /** Frame source, kept for the record. */
  source: string;
}

export interface Sighting {
  plate: string;
  /** ms timestamps of the first and latest read of the visit. */
  firstSeen: number;
  lastSeen: number;
  reads: number;
  bestConfidence: number;
  source: string;
}

export interface SightingTrackerOptions {
  /** A read more than this after the previous read of the plate starts a new visit (default 120 000 ms). */
  gapMs?: number;
  /** Reads needed before a visit is reported (default 1). */
  minReads?: number;
  /** Open visits kept at most (default 1000). */
  maxOpen?: number;
}

/** Where reported sightings go: the privacy filter (WriteGrant match) and the record writer implement this later. */
export interface SightingSink {
  accept(sighting: Sighting): Promise<void>;
}

interface Visit extends Sighting {
  reported: boolean;
}

export class SightingTracker {
  private readonly open = new Map<string, Visit>();
  private readonly gapMs: number;
  private readonly minReads: number;
  private readonly maxOpen: number;

  constructor(options: SightingTrackerOptions = {}) {
    this.gapMs = options.gapMs ?? 120_000;
    this.minReads = options.minReads ?? 1;
    this.maxOpen = options.maxOpen ?? 1000;
    if (!(this.gapMs > 0)) throw new RangeError(`gapMs ${this.gapMs} must be positive`);
    if (!Number.isInteger(this.minReads) || this.minReads < 1) throw new RangeError(`minReads ${this.minReads} must be a positive integer`);
    if (!Number.isInteger(this.maxOpen) || this.maxOpen < 1) throw new RangeError(`maxOpen ${this.maxOpen} must be a positive integer`);
  }

  /**
   * Records one read at `now`. Returns the sighting when this read makes a visit reportable (exactly
   * once per visit), otherwise null. Reads must come in time order per plate; an older read is
   * counted but does not move the visit back in time.
   */
  observe(read: PlateObservation, now: number): Sighting | null {
    let visit = this.open.get(read.plate);
    if (visit !== undefined && now - visit.lastSeen > this.gapMs) {
      this.open.delete(read.plate);
      visit = undefined;
    }
    if (visit === undefined) {
      this.evictIfFull();
      visit = { plate: read.plate, firstSeen: now, lastSeen: now, reads: 0, bestConfidence: 0, source: read.source, reported: false };
    } else {
      // Re-insert so the Map's order stays least-recently-seen first (cheap eviction).
      this.open.delete(read.plate);
    }
    this.open.set(read.plate, visit);
    visit.reads++;
    visit.lastSeen = Math.max(visit.lastSeen, now);
    if (read.confidence > visit.bestConfidence) visit.bestConfidence = read.confidence;
    if (!visit.reported && visit.reads >= this.minReads) {
      visit.reported = true;
      return snapshot(visit);
    }
    return null;
  }

  /** Closes visits whose gap has passed by `now`; returns the reported ones (final counts), oldest first. */
  expire(now: number): Sighting[] {
    const closed: Sighting[] = [];
    for (const [plate, visit] of this.open) {
      if (now - visit.lastSeen <= this.gapMs) continue;
      this.open.delete(plate);
      if (visit.reported) closed.push(snapshot(visit));
    }
    return closed;
  }

  /** Visits currently open (reported or not). */
  get openVisits(): number {
    return this.open.size;
  }

  private evictIfFull(): void {
    while (this.open.size >= this.maxOpen) {
      const oldest = this.open.keys().next();
      if (oldest.done) return;
      this.open.delete(oldest.value);
    }
  }
}

function snapshot(v: Visit): Sighting {
  return { plate: v.plate, firstSeen: v.firstSeen, lastSeen: v.lastSeen, reads: v.reads, bestConfidence: v.bestConfidence, source: v.source };
}
