// NMEA 0183 parsing for GPS receivers: RMC / GGA / VTG sentences (checksum verified) and a bounded line splitter.
import { CarchainError, type CarchainErrorOptions } from '../../protocol/errors.js';

export type GpsErrorCode =
  | 'GPS_BAD_CHECKSUM' // the *hh checksum is missing or does not match
  | 'GPS_UNSUPPORTED' // a well-formed sentence of a type or talker we do not parse (callers skip it)
  | 'GPS_MALFORMED'; // not a sentence, or a field that cannot be what the sentence type says

/** A rejected NMEA line. Never temporary: the next sentence is a new input, not a retry. */
export class GpsError extends CarchainError<GpsErrorCode> {
  constructor(code: GpsErrorCode, message: string, options: Omit<CarchainErrorOptions, 'temporary'> = {}) {
    super(code, message, { ...options, temporary: false });
  }
}

/** GPS, GLONASS, combined GNSS, Galileo, BeiDou (two spellings), QZSS. */
export const NMEA_TALKERS: readonly string[] = ['GP', 'GL', 'GN', 'GA', 'GB', 'BD', 'GQ'];

interface SentenceBase {
  talker: string;
  /** UTC time of day in ms since midnight, null when the field is empty. */
  timeOfDayMs: number | null;
}

export interface RmcSentence extends SentenceBase {
  type: 'RMC';
  /** Status A and (NMEA 2.3+) a mode indicator other than N: the receiver vouches for the fix. */
  valid: boolean;
  /** Time of day combined with the date: ms since the Unix epoch, null when either is missing. */
  time: number | null;
  lat: number | null;
  lng: number | null;
  speedKmh: number | null;
  /** Course over ground, degrees true. */
  course: number | null;
  /** Magnetic variation in degrees, east positive. */
  magneticVariation: number | null;
  /** NMEA 2.3+ mode indicator (A autonomous, D differential, E estimated, N not valid, …). */
  mode: string | null;
}

export interface GgaSentence extends SentenceBase {
  type: 'GGA';
  /** Fix quality is present and not 0. */
  valid: boolean;
  lat: number | null;
  lng: number | null;
  /** 0 invalid, 1 GPS, 2 DGPS, 4 RTK fixed, 5 RTK float, 6 estimated, … */
  fixQuality: number | null;
  satellites: number | null;
  hdop: number | null;
  /** Antenna altitude above mean sea level, metres. */
  altitude: number | null;
  /** Geoid separation (WGS84 ellipsoid minus mean sea level), metres. */
  geoidSeparation: number | null;
}

export interface VtgSentence {
  type: 'VTG';
  talker: string;
  /** VTG carries no time; it belongs to the epoch of the sentences around it. */
  timeOfDayMs: null;
  /** Mode indicator other than N (absent in NMEA < 2.3: then true). */
  valid: boolean;
  course: number | null;
  courseMagnetic: number | null;
  speedKmh: number | null;
  mode: string | null;
}

export type NmeaSentence = RmcSentence | GgaSentence | VtgSentence;

const KNOTS_TO_KMH = 1.852;

/** Computes the NMEA checksum of the text between `$` and `*`. */
export function nmeaChecksum(body: string): number {
  let sum = 0;
  for (let i = 0; i < body.length; i++) sum ^= body.charCodeAt(i) & 0xff;
  return sum;
}

/** Wraps a sentence body (without `$`) into a full line with its checksum: for simulators and tests. */
export function formatNmeaSentence(body: string): string {
  return `$${body}*${nmeaChecksum(body).toString(16).toUpperCase().padStart(2, '0')}`;
}

/**
 * Parses one NMEA line (surrounding whitespace / CRLF ignored). Throws GpsError: GPS_BAD_CHECKSUM,
 * GPS_UNSUPPORTED for other sentence types or talkers, GPS_MALFORMED for broken fields.
 * Empty fields are null.
 */
export function parseNmeaSentence(line: string): NmeaSentence {
  const text = line.trim();
  if (!text.startsWith('$')) throw new GpsError('GPS_MALFORMED', `not an NMEA sentence: ${preview(text)}`);
  const star = text.lastIndexOf('*');
  if (star < 0) throw new GpsError('GPS_BAD_CHECKSUM', `no checksum: ${preview(text)}`);
  const body = text.slice(1, star);
  const given = text.slice(star + 1);
  if (!/^[0-9A-Fa-f]{2}$/.test(given)) throw new GpsError('GPS_BAD_CHECKSUM', `checksum is not two hex digits: ${preview(text)}`);
  if (Number.parseInt(given, 16) !== nmeaChecksum(body)) {
    throw new GpsError('GPS_BAD_CHECKSUM', `checksum ${given} does not match ${nmeaChecksum(body).toString(16).toUpperCase().padStart(2, '0')}: ${preview(text)}`);
  }
  const fields = body.split(',');
  const address = fields[0] ?? '';
  // Talker + type (GPRMC), or a proprietary address (PUBX, PGRME): well formed, maybe not ours.
  if (!/^[A-Z][A-Z0-9]{1,9}$/.test(address)) throw new GpsError('GPS_MALFORMED', `bad address field: ${preview(text)}`);
  const talker = address.slice(0, 2);
  const type = address.slice(2);
  const supportedType = type === 'RMC' || type === 'GGA' || type === 'VTG';
  if (!supportedType || !NMEA_TALKERS.includes(talker)) throw new GpsError('GPS_UNSUPPORTED', `unsupported sentence ${address}`);
  const f = new Fields(fields.slice(1), text);
  if (type === 'RMC') return parseRmc(talker, f);
  if (type === 'GGA') return parseGga(talker, f);
  return parseVtg(talker, f);
}

function parseRmc(talker: string, f: Fields): RmcSentence {
  f.requireAtLeast(9);
  const timeOfDayMs = f.timeOfDay(0);
  const status = f.oneOf(1, ['A', 'V']);
  const mode = f.str(11);
  const dayMs = f.date(8);
  const speedKnots = f.num(6);
  const variation = f.num(9);
  const variationSign = f.oneOf(10, ['E', 'W']);
  return {
    type: 'RMC',
    talker,
    timeOfDayMs,
    valid: status === 'A' && mode !== 'N',
    time: dayMs !== null && timeOfDayMs !== null ? dayMs + timeOfDayMs : null,
    lat: f.coordinate(2, 3, 'lat'),
    lng: f.coordinate(4, 5, 'lng'),
    speedKmh: speedKnots === null ? null : speedKnots * KNOTS_TO_KMH,
    course: f.num(7),
    magneticVariation: variation === null ? null : variationSign === 'W' ? -variation : variation,
    mode,
  };
}

function parseGga(talker: string, f: Fields): GgaSentence {
  f.requireAtLeast(9);
  const fixQuality = f.int(5);
  return {
    type: 'GGA',
    talker,
    timeOfDayMs: f.timeOfDay(0),
    valid: fixQuality !== null && fixQuality !== 0,
    lat: f.coordinate(1, 2, 'lat'),
    lng: f.coordinate(3, 4, 'lng'),
    fixQuality,
    satellites: f.int(6),
    hdop: f.num(7),
    altitude: f.num(8),
    geoidSeparation: f.num(10),
  };
}

function parseVtg(talker: string, f: Fields): VtgSentence {
  f.requireAtLeast(8);
  const knots = f.num(4);
  const kmh = f.num(6);
  const mode = f.str(8);
  return {
    type: 'VTG',
    talker,
    timeOfDayMs: null,
    valid: mode !== 'N',
    course: f.num(0),
    courseMagnetic: f.num(2),
    speedKmh: kmh ?? (knots === null ? null : knots * KNOTS_TO_KMH),
    mode,
  };
}

/** Typed access to a sentence's fields; empty → null, unparseable → GPS_MALFORMED. */
class Fields {
  constructor(private readonly fields: readonly string[], private readonly line: string) {}

  requireAtLeast(n: number): void {
    if (this.fields.length < n) throw this.bad(`has ${this.fields.length} fields, needs at least ${n}`);
  }

  str(i: number): string | null {
    const v = this.fields[i];
    return v === undefined || v === '' ? null : v;
  }

  num(i: number): number | null {
    const v = this.str(i);
    if (v === null) return null;
    if (!/^[-+]?(\d+\.?\d*|\.\d+)$/.test(v)) throw this.bad(`field ${i + 1} is not a number: ${v}`);
    return Number(v);
  }

  int(i: number): number | null {
    const v = this.str(i);
    if (v === null) return null;
    if (!/^\d+$/.test(v)) throw this.bad(`field ${i + 1} is not an integer: ${v}`);
    return Number(v);
  }

  oneOf(i: number, allowed: readonly string[]): string | null {
    const v = this.str(i);
    if (v !== null && !allowed.includes(v)) throw this.bad(`field ${i + 1} is ${v}, expected one of ${allowed.join('/')}`);
    return v;
  }

  /** hhmmss[.sss] → ms since midnight. */
  timeOfDay(i: number): number | null {
    const v = this.str(i);
    if (v === null) return null;
    const m = /^(\d{2})(\d{2})(\d{2}(?:\.\d+)?)$/.exec(v);
    if (!m) throw this.bad(`bad time ${v}`);
    const h = Number(m[1]);
    const min = Number(m[2]);
    const s = Number(m[3]);
    // 60 s is allowed: a leap second.
    if (h > 23 || min > 59 || s >= 61) throw this.bad(`bad time ${v}`);
    return Math.round(((h * 60 + min) * 60 + s) * 1000);
  }

  /** ddmmyy → ms since epoch of that UTC midnight. Two-digit years: 80–99 are 19xx, 00–79 are 20xx. */
  date(i: number): number | null {
    const v = this.str(i);
    if (v === null) return null;
    const m = /^(\d{2})(\d{2})(\d{2})$/.exec(v);
    if (!m) throw this.bad(`bad date ${v}`);
    const day = Number(m[1]);
    const month = Number(m[2]);
    const yy = Number(m[3]);
    const year = yy >= 80 ? 1900 + yy : 2000 + yy;
    const ms = Date.UTC(year, month - 1, day);
    const check = new Date(ms);
    if (month < 1 || month > 12 || check.getUTCDate() !== day || check.getUTCMonth() !== month - 1) throw this.bad(`bad date ${v}`);
    return ms;
  }

  /** (d)ddmm.mmmm + hemisphere → signed decimal degrees (south and west negative). */
  coordinate(valueAt: number, hemisphereAt: number, axis: 'lat' | 'lng'): number | null {
    const v = this.str(valueAt);
    const hemisphere = this.oneOf(hemisphereAt, axis === 'lat' ? ['N', 'S'] : ['E', 'W']);
    if (v === null && hemisphere === null) return null;
    if (v === null || hemisphere === null) throw this.bad(`${axis} needs both value and hemisphere`);
    const degreeDigits = axis === 'lat' ? 2 : 3;
    const m = new RegExp(`^(\\d{${degreeDigits}})(\\d{2}(?:\\.\\d+)?)$`).exec(v);
    if (!m) throw this.bad(`bad ${axis} ${v}`);
    const degrees = Number(m[1]);
    const minutes = Number(m[2]);
    const value = degrees + minutes / 60;
    if (minutes >= 60 || value > (axis === 'lat' ? 90 : 180)) throw this.bad(`${axis} out of range: ${v}`);
    return hemisphere === 'S' || hemisphere === 'W' ? -value : value;
  }

  private bad(message: string): GpsError {
    return new GpsError('GPS_MALFORMED', `${message}: ${preview(this.line)}`);
  }
}

const preview = (s: string): string => JSON.stringify(s.length > 100 ? `${s.slice(0, 100)}…` : s);

/** Longest line kept; NMEA allows 82 characters, receivers with proprietary extensions go a little over. */
export const NMEA_MAX_LINE = 120;

export interface LineSplitterStats {
  /** Lines longer than the bound, dropped whole. */
  overlongLines: number;
  /** Bytes thrown away: partial sentences cut off by a new `$`, and the content of over-long lines. */
  droppedBytes: number;
}

/**
 * Turns a byte stream from a receiver into lines. CR, LF and CRLF all end a line; a `$` always
 * starts a new sentence (a `$` cannot occur inside one), so line noise before it is dropped and
 * the splitter resynchronises by itself. Lines are bounded at NMEA_MAX_LINE characters: a longer
 * one is dropped whole and counted, so memory stays bounded whatever arrives.
 */
export class NmeaLineSplitter {
  private current = '';
  private discarding = false;
  private readonly counters: LineSplitterStats = { overlongLines: 0, droppedBytes: 0 };

  constructor(private readonly maxLine = NMEA_MAX_LINE) {}

  /** Feeds a chunk; returns the lines it completes (without line endings, never empty). */
  push(chunk: Uint8Array): string[] {
    const lines: string[] = [];
    for (const byte of chunk) {
      if (byte === 0x0d || byte === 0x0a) {
        if (!this.discarding && this.current.length > 0) lines.push(this.current);
        this.current = '';
        this.discarding = false;
      } else if (byte === 0x24 /* $ */) {
        this.counters.droppedBytes += this.current.length;
        this.current = '$';
        this.discarding = false;
      } else if (this.discarding) {
        this.counters.droppedBytes++;
      } else if (this.current.length >= this.maxLine) {
        this.counters.overlongLines++;
        this.counters.droppedBytes += this.current.length + 1;
        this.current = '';
        this.discarding = true;
      } else {
        this.current += String.fromCharCode(byte);
      }
    }
    return lines;
  }

  /** Drops a pending partial line (e.g. when the link closes). */
  reset(): void {
    this.counters.droppedBytes += this.current.length;
    this.current = '';
    this.discarding = false;
  }

  stats(): LineSplitterStats {
    return { ...this.counters };
  }
}
