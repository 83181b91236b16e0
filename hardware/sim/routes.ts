// Routes for the GPS simulator: the seed's Shanghai trip and distance/bearing along a polyline.

export interface LatLng {
  readonly lat: number;
  readonly lng: number;
}

/** The `trip-gps` example of the project's seed (SESSION_ID 1, 2016-05-11 07:14:28 → 09:46:23). */
export const SHANGHAI_TRIP_ROUTE: readonly LatLng[] = [
  { lat: 31.250885, lng: 121.44662 },
  { lat: 31.251259, lng: 121.4456 },
  { lat: 31.25419, lng: 121.485504 },
  { lat: 31.268875, lng: 121.59015 },
  { lat: 31.29777, lng: 121.61309 },
  { lat: 31.298483, lng: 121.6138 },
  { lat: 31.297743, lng: 121.614525 },
  { lat: 31.194258, lng: 121.74957 },
  { lat: 31.195974, lng: 121.75078 },
  { lat: 31.115866, lng: 121.77829 },
];

/**
 * A closed 4.8 km loop of 300 m city blocks around People's Square, Shanghai: the demo car's streets.
 * A trip of a few kilometres turns several corners on it (the seed route's legs are kilometres long,
 * so a short trip on it is one straight line), and it ends where it starts, so it can be looped.
 */
export const CITY_LOOP_ROUTE: readonly LatLng[] = (() => {
  const origin = { lat: 31.2284, lng: 121.4687 };
  const blockLat = 0.0027; // ≈ 300 m north–south
  const blockLng = 0.00315; // ≈ 300 m east–west at 31° N
  const corners: [number, number][] = [[0, 0], [2, 0], [2, 1], [4, 1], [4, 3], [3, 3], [3, 4], [1, 4], [1, 2], [0, 2], [0, 0]];
  return corners.map(([east, north]) => ({ lat: origin.lat + north * blockLat, lng: origin.lng + east * blockLng }));
})();

/** The same example's SPEED series (km/h), one value per route point. */
export const SHANGHAI_TRIP_SPEEDS_KMH: readonly number[] = [0, 23, 52, 45, 51, 33, 49, 49, 48, 37];

/** The seed trip's START_TIME, 2016-05-11 07:14:28 (taken as UTC). */
export const SHANGHAI_TRIP_START = new Date(Date.UTC(2016, 4, 11, 7, 14, 28));

const EARTH_RADIUS_M = 6_371_008.8;
const rad = (deg: number): number => (deg * Math.PI) / 180;

/** Great-circle distance in metres (haversine). */
export function distanceM(a: LatLng, b: LatLng): number {
  const dLat = rad(b.lat - a.lat);
  const dLng = rad(b.lng - a.lng);
  const h = Math.sin(dLat / 2) ** 2 + Math.cos(rad(a.lat)) * Math.cos(rad(b.lat)) * Math.sin(dLng / 2) ** 2;
  return 2 * EARTH_RADIUS_M * Math.asin(Math.min(1, Math.sqrt(h)));
}

/** Initial bearing from a to b, degrees clockwise from true north in [0, 360). */
export function bearingDeg(a: LatLng, b: LatLng): number {
  const y = Math.sin(rad(b.lng - a.lng)) * Math.cos(rad(b.lat));
  const x = Math.cos(rad(a.lat)) * Math.sin(rad(b.lat)) - Math.sin(rad(a.lat)) * Math.cos(rad(b.lat)) * Math.cos(rad(b.lng - a.lng));
  return ((Math.atan2(y, x) * 180) / Math.PI + 360) % 360;
}

export interface RoutePosition {
  readonly position: LatLng;
  readonly courseDeg: number;
  /** Index of the segment (from point i to i+1). */
  readonly segment: number;
}

/** A polyline with cumulative distances; positions are interpolated linearly within a segment. */
export class RoutePath {
  readonly points: readonly LatLng[];
  /** Distance from the start to each point. */
  readonly cumulativeM: readonly number[];

  constructor(points: readonly LatLng[]) {
    if (points.length < 2) throw new RangeError('a route needs at least two points');
    this.points = points;
    const cumulative = [0];
    for (let i = 1; i < points.length; i++) cumulative.push(cumulative[i - 1]! + distanceM(points[i - 1]!, points[i]!));
    this.cumulativeM = cumulative;
  }

  get lengthM(): number {
    return this.cumulativeM[this.cumulativeM.length - 1]!;
  }

  segmentLengthM(segment: number): number {
    return this.cumulativeM[segment + 1]! - this.cumulativeM[segment]!;
  }

  /** Where you are after `distance` metres (clamped to the route). */
  at(distance: number): RoutePosition {
    const d = Math.min(Math.max(0, distance), this.lengthM);
    let segment = 0;
    while (segment < this.points.length - 2 && this.cumulativeM[segment + 1]! <= d) segment++;
    const a = this.points[segment]!;
    const b = this.points[segment + 1]!;
    const length = this.segmentLengthM(segment);
    const f = length > 0 ? (d - this.cumulativeM[segment]!) / length : 0;
    return { position: { lat: a.lat + (b.lat - a.lat) * f, lng: a.lng + (b.lng - a.lng) * f }, courseDeg: bearingDeg(a, b), segment };
  }
}
