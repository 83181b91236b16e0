// A decrypted trip-gps record as the wallet shows it: track, speeds, statistics and events (pure; also used in the browser).
import type { VerifiedRecord, RecordVerification } from './verified-records.js';

export interface TripPoint {
  lat: number;
  lng: number;
  /** ms since the epoch, when the record has it. */
  t?: number;
}

export interface TripEvent {
  type: string;
  t?: number;
  value?: number;
  lat?: number;
  lng?: number;
  durationMs?: number;
}

export interface TripView {
  /** `<vehicle>-<START_TIME>-<SESSION_ID>`: names the day (so the pool address) and the trip. */
  id: string;
  recordId: string;
  vehicleIndex: number;
  vid: string;
  sessionId: number;
  /** ms since the epoch (from the key's UTC START_TIME / END_TIME). */
  start: number;
  end: number;
  points: TripPoint[];
  /** km/h per point (same length as points, or shorter when the record is). */
  speeds: number[];
  distanceM: number;
  durationS: number;
  maxSpeedKmh: number;
  avgSpeedKmh: number | null;
  events: TripEvent[];
  verification?: RecordVerification;
}

/** UTC YYYYMMDDhhmmss → ms since the epoch. */
export function timeKeyToMs(key: number | bigint | string): number {
  const s = String(key);
  if (!/^\d{14}$/.test(s)) return Number.NaN;
  return Date.UTC(Number(s.slice(0, 4)), Number(s.slice(4, 6)) - 1, Number(s.slice(6, 8)), Number(s.slice(8, 10)), Number(s.slice(10, 12)), Number(s.slice(12, 14)));
}

const EARTH_RADIUS_M = 6_371_008.8;
const rad = (deg: number) => (deg * Math.PI) / 180;

/** Great-circle distance in metres (haversine). */
export function haversineM(a: TripPoint, b: TripPoint): number {
  const dLat = rad(b.lat - a.lat);
  const dLng = rad(b.lng - a.lng);
  const h = Math.sin(dLat / 2) ** 2 + Math.cos(rad(a.lat)) * Math.cos(rad(b.lat)) * Math.sin(dLng / 2) ** 2;
  return 2 * EARTH_RADIUS_M * Math.asin(Math.min(1, Math.sqrt(h)));
}

export function trackLengthM(points: readonly TripPoint[]): number {
  let sum = 0;
  for (let i = 1; i < points.length; i++) sum += haversineM(points[i - 1]!, points[i]!);
  return sum;
}

const finite = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

/** Builds the view from a verified, decrypted trip-gps record; statistics the record lacks are computed from the track. */
export function tripFromRecord(record: Pick<VerifiedRecord, 'recordId' | 'key' | 'value'> & { verification?: RecordVerification }, vehicleIndex: number): TripView {
  const v = record.value;
  const points = (Array.isArray(v.GPS) ? v.GPS : [])
    .filter((p): p is TripPoint => typeof p === 'object' && p !== null && finite((p as TripPoint).lat) && finite((p as TripPoint).lng))
    .map((p) => ({ lat: p.lat, lng: p.lng, ...(finite(p.t) ? { t: p.t } : {}) }));
  const speeds = (Array.isArray(v.SPEED) ? v.SPEED : []).map((s) => (finite(s) ? s : 0));
  const startKey = record.key.START_TIME!;
  const start = timeKeyToMs(startKey as number);
  const end = timeKeyToMs(record.key.END_TIME as number);
  const events = (Array.isArray(v.EVENTS) ? v.EVENTS : []).filter((e): e is TripEvent => typeof e === 'object' && e !== null && typeof (e as TripEvent).type === 'string');
  return {
    id: `${vehicleIndex}-${String(startKey)}-${String(record.key.SESSION_ID)}`,
    recordId: record.recordId,
    vehicleIndex,
    vid: typeof v.VID === 'string' ? v.VID : '',
    sessionId: Number(record.key.SESSION_ID),
    start,
    end,
    points,
    speeds,
    distanceM: finite(v.DISTANCE_M) ? v.DISTANCE_M : trackLengthM(points),
    durationS: finite(v.DURATION_S) ? v.DURATION_S : Math.max(0, (end - start) / 1000),
    maxSpeedKmh: finite(v.MAX_SPEED) ? v.MAX_SPEED : speeds.reduce((m, s) => Math.max(m, s), 0),
    avgSpeedKmh: finite(v.AVG_SPEED) ? v.AVG_SPEED : null,
    events,
    ...(record.verification ? { verification: record.verification } : {}),
  };
}
