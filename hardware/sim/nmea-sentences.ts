// NMEA 0183 sentence writers (RMC, GGA, VTG) with checksums, as a GPS receiver would send them.
import type { LatLng } from './routes.js';

export interface GpsFix {
  readonly time: Date;
  /** False while the receiver has no fix (status V, quality 0). */
  readonly valid: boolean;
  readonly position: LatLng;
  readonly speedKmh: number;
  readonly courseDeg: number;
  readonly altitudeM: number;
  readonly satellites: number;
  readonly hdop: number;
  readonly geoidSeparationM: number;
}

export type Talker = 'GP' | 'GN';

/** XOR of every character between `$` and `*`, as two upper-case hex digits. */
export function nmeaChecksum(body: string): string {
  let sum = 0;
  for (let i = 0; i < body.length; i++) sum ^= body.charCodeAt(i) & 0xff;
  return sum.toString(16).toUpperCase().padStart(2, '0');
}

/** `$<body>*<checksum>\r\n` */
export function nmeaSentence(body: string): string {
  return `$${body}*${nmeaChecksum(body)}\r\n`;
}

const pad = (n: number, width: number): string => String(n).padStart(width, '0');
const KNOTS_PER_KMH = 1 / 1.852;

function utcTime(time: Date): string {
  return `${pad(time.getUTCHours(), 2)}${pad(time.getUTCMinutes(), 2)}${pad(time.getUTCSeconds(), 2)}.${pad(Math.floor(time.getUTCMilliseconds() / 10), 2)}`;
}

function utcDate(time: Date): string {
  return `${pad(time.getUTCDate(), 2)}${pad(time.getUTCMonth() + 1, 2)}${pad(time.getUTCFullYear() % 100, 2)}`;
}

/** Degrees → `ddmm.mmmmm` / `dddmm.mmmmm` with hemisphere letter. */
function coordinate(value: number, degreeDigits: number, positive: string, negative: string): [string, string] {
  const abs = Math.abs(value);
  let degrees = Math.floor(abs);
  let minutes = Number(((abs - degrees) * 60).toFixed(5));
  if (minutes >= 60) {
    degrees += 1;
    minutes -= 60;
  }
  return [`${pad(degrees, degreeDigits)}${minutes.toFixed(5).padStart(8, '0')}`, value < 0 ? negative : positive];
}

export function formatRmc(fix: GpsFix, talker: Talker = 'GP'): string {
  if (!fix.valid) return nmeaSentence(`${talker}RMC,${utcTime(fix.time)},V,,,,,,,${utcDate(fix.time)},,,N`);
  const [lat, ns] = coordinate(fix.position.lat, 2, 'N', 'S');
  const [lng, ew] = coordinate(fix.position.lng, 3, 'E', 'W');
  const knots = (fix.speedKmh * KNOTS_PER_KMH).toFixed(3);
  return nmeaSentence(`${talker}RMC,${utcTime(fix.time)},A,${lat},${ns},${lng},${ew},${knots},${fix.courseDeg.toFixed(2)},${utcDate(fix.time)},,,A`);
}

export function formatGga(fix: GpsFix, talker: Talker = 'GP'): string {
  if (!fix.valid) return nmeaSentence(`${talker}GGA,${utcTime(fix.time)},,,,,0,00,99.99,,,,,,`);
  const [lat, ns] = coordinate(fix.position.lat, 2, 'N', 'S');
  const [lng, ew] = coordinate(fix.position.lng, 3, 'E', 'W');
  return nmeaSentence(
    `${talker}GGA,${utcTime(fix.time)},${lat},${ns},${lng},${ew},1,${pad(fix.satellites, 2)},${fix.hdop.toFixed(2)},${fix.altitudeM.toFixed(1)},M,${fix.geoidSeparationM.toFixed(1)},M,,`,
  );
}

export function formatVtg(fix: GpsFix, talker: Talker = 'GP'): string {
  if (!fix.valid) return nmeaSentence(`${talker}VTG,,T,,M,,N,,K,N`);
  return nmeaSentence(`${talker}VTG,${fix.courseDeg.toFixed(2)},T,,M,${(fix.speedKmh * KNOTS_PER_KMH).toFixed(3)},N,${fix.speedKmh.toFixed(3)},K,A`);
}
