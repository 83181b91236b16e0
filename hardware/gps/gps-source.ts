// The GPS source seam, and NmeaGpsSource: position fixes from an NMEA receiver on a ByteLink (RMC + GGA merged per second).
//
// Cancellation rules: start() subscribes to the link and is idempotent; stop() unsubscribes, drops
// a half-assembled epoch and resolves at once — no listener is called after stop() resolves. The
// source never owns the link: closing it is the caller's job. When the link closes by itself the
// pending epoch is flushed (a complete fix is still delivered) and the source goes quiet.
import { LinkError, type ByteLink } from '../serial/byte-link.js';
import { GpsError, NmeaLineSplitter, parseNmeaSentence, type GgaSentence, type NmeaSentence, type RmcSentence, type VtgSentence } from './nmea.js';

export interface GpsFix {
  /** UTC, ms since the Unix epoch. */
  time: number;
  /** Signed decimal degrees (south / west negative). */
  lat: number;
  lng: number;
  speedKmh: number | null;
  /** Course over ground, degrees true. */
  course: number | null;
  /** Metres above mean sea level. */
  altitude: number | null;
  satellites: number | null;
  hdop: number | null;
}

export interface GpsSource {
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Subscribes to fixes; returns the unsubscribe function. */
  onFix(listener: (fix: GpsFix) => void): () => void;
  lastFix(): GpsFix | null;
}

export interface GpsSourceStats {
  /** Sentences parsed (RMC, GGA, VTG), valid or not. */
  sentences: number;
  fixes: number;
  badChecksums: number;
  /** Lines that are not sentences or have broken fields. */
  malformed: number;
  /** Well-formed sentences of other types (GSA, GSV, …): skipped, counted for diagnostics. */
  unsupported: number;
  /** Epochs the receiver marked invalid (RMC status V, GGA fix quality 0, mode N). */
  invalidFixes: number;
  /** Epochs without a position or without a date to place them in time. */
  incompleteFixes: number;
  overlongLines: number;
  droppedBytes: number;
  /** Exceptions thrown by onFix listeners (caught, so one bad listener cannot stop the stream). */
  listenerErrors: number;
}

interface Epoch {
  timeOfDayMs: number;
  rmc?: RmcSentence;
  gga?: GgaSentence;
  vtg?: VtgSentence;
  done: boolean;
}

const DAY_MS = 86_400_000;
/** How many recent epochs decide which sentence types the receiver sends. */
const HISTORY = 3;

export class NmeaGpsSource implements GpsSource {
  private readonly splitter = new NmeaLineSplitter();
  private readonly listeners = new Set<(fix: GpsFix) => void>();
  private readonly counters = { sentences: 0, fixes: 0, badChecksums: 0, malformed: 0, unsupported: 0, invalidFixes: 0, incompleteFixes: 0, listenerErrors: 0 };
  private unsubscribe: (() => void)[] = [];
  private epoch: Epoch | null = null;
  private last: GpsFix | null = null;
  /** Which of RMC / GGA the last few epochs carried: a fix is emitted as soon as those have arrived. */
  private history: { rmc: boolean; gga: boolean }[] = [];
  /** UTC midnight and time of day of the last valid RMC: dates GGA-only epochs. */
  private lastDate: { midnightMs: number; timeOfDayMs: number } | null = null;

  constructor(private readonly link: ByteLink) {}

  start(): Promise<void> {
    if (this.unsubscribe.length > 0) return Promise.resolve();
    if (!this.link.isOpen) return Promise.reject(new LinkError('LINK_CLOSED', 'GPS link is closed'));
    this.unsubscribe = [
      this.link.onData((chunk) => this.receive(chunk)),
      this.link.onClose(() => {
        this.finish();
        this.detach();
      }),
    ];
    return Promise.resolve();
  }

  stop(): Promise<void> {
    this.detach();
    this.epoch = null;
    this.splitter.reset();
    return Promise.resolve();
  }

  onFix(listener: (fix: GpsFix) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  lastFix(): GpsFix | null {
    return this.last;
  }

  stats(): GpsSourceStats {
    return { ...this.counters, ...this.splitter.stats() };
  }

  private detach(): void {
    for (const off of this.unsubscribe) off();
    this.unsubscribe = [];
  }

  private receive(chunk: Uint8Array): void {
    for (const line of this.splitter.push(chunk)) {
      let sentence: NmeaSentence;
      try {
        sentence = parseNmeaSentence(line);
      } catch (err) {
        this.countRejected(err);
        continue;
      }
      this.counters.sentences++;
      this.add(sentence);
    }
  }

  private countRejected(err: unknown): void {
    const code = err instanceof GpsError ? err.code : 'GPS_MALFORMED';
    if (code === 'GPS_BAD_CHECKSUM') this.counters.badChecksums++;
    else if (code === 'GPS_UNSUPPORTED') this.counters.unsupported++;
    else this.counters.malformed++;
  }

  private add(sentence: NmeaSentence): void {
    if (sentence.type === 'VTG') {
      // VTG has no time: it belongs to the epoch being assembled, if any.
      if (this.epoch && !this.epoch.done) this.epoch.vtg ??= sentence;
      return;
    }
    if (sentence.type === 'RMC' && sentence.valid && sentence.time !== null && sentence.timeOfDayMs !== null) {
      this.lastDate = { midnightMs: sentence.time - sentence.timeOfDayMs, timeOfDayMs: sentence.timeOfDayMs };
    }
    if (sentence.timeOfDayMs === null) {
      this.counters.incompleteFixes++;
      return;
    }
    if (this.epoch === null || this.epoch.timeOfDayMs !== sentence.timeOfDayMs) {
      this.finish();
      this.epoch = { timeOfDayMs: sentence.timeOfDayMs, done: false };
    }
    const epoch = this.epoch;
    if (epoch.done) return; // a late duplicate of an epoch already delivered
    // Receivers that talk on several talkers (GP and GN) repeat a type: the first one wins.
    if (sentence.type === 'RMC') epoch.rmc ??= sentence;
    else epoch.gga ??= sentence;
    if (this.hasExpectedTypes(epoch)) this.finish();
  }

  /** Emit early once every type the receiver has recently been sending is in; until we know, wait for the next epoch. */
  private hasExpectedTypes(epoch: Epoch): boolean {
    if (this.history.length === 0) return false;
    const expectRmc = this.history.some((h) => h.rmc);
    const expectGga = this.history.some((h) => h.gga);
    return (!expectRmc || epoch.rmc !== undefined) && (!expectGga || epoch.gga !== undefined);
  }

  private finish(): void {
    const epoch = this.epoch;
    if (epoch === null || epoch.done) return;
    epoch.done = true;
    this.history.push({ rmc: epoch.rmc !== undefined, gga: epoch.gga !== undefined });
    if (this.history.length > HISTORY) this.history.shift();
    const fix = this.fixOf(epoch);
    if (fix === null) return;
    this.last = fix;
    this.counters.fixes++;
    for (const listener of [...this.listeners]) {
      try {
        listener(fix);
      } catch {
        this.counters.listenerErrors++;
      }
    }
  }

  private fixOf({ rmc, gga, vtg, timeOfDayMs }: Epoch): GpsFix | null {
    if ((rmc && !rmc.valid) || (gga && !gga.valid)) {
      this.counters.invalidFixes++;
      return null;
    }
    const lat = gga?.lat ?? rmc?.lat ?? null;
    const lng = gga?.lng ?? rmc?.lng ?? null;
    const time = rmc?.time ?? this.dateFromLastRmc(timeOfDayMs);
    if (lat === null || lng === null || time === null) {
      this.counters.incompleteFixes++;
      return null;
    }
    const vtgUsable = vtg?.valid === true;
    return {
      time,
      lat,
      lng,
      speedKmh: rmc?.speedKmh ?? (vtgUsable ? vtg.speedKmh : null),
      course: rmc?.course ?? (vtgUsable ? vtg.course : null),
      altitude: gga?.altitude ?? null,
      satellites: gga?.satellites ?? null,
      hdop: gga?.hdop ?? null,
    };
  }

  /** A GGA-only epoch takes the date of the last valid RMC, rolling over at midnight. */
  private dateFromLastRmc(timeOfDayMs: number): number | null {
    if (this.lastDate === null) return null;
    const rolledOver = timeOfDayMs < this.lastDate.timeOfDayMs - DAY_MS / 2;
    return this.lastDate.midnightMs + (rolledOver ? DAY_MS : 0) + timeOfDayMs;
  }
}
