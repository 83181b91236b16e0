// renderTripSvg / renderTripHtml on fixed trips: speed-coloured polylines, markers, legend, scale, no network references, PNG through sharp.
import t from 'tap';
import sharp from 'sharp';
import { SPEED_BANDS, renderTripHtml, renderTripSvg, speedBand } from '../../../tools/wallet/trip-map.js';
import { haversineM, tripFromRecord, type TripView } from '../../../tools/wallet/trip-view.js';

const start = Date.UTC(2026, 10, 22, 7, 14, 28);
// Ten points heading east-north-east from Shanghai; speeds chosen so the segment bands are
// green green | yellow-green | amber amber | orange | red red | green: 6 runs → 6 polylines.
const points = Array.from({ length: 10 }, (_, i) => ({ lat: 31.25 + i * 0.002, lng: 121.45 + i * 0.004, t: start + i * 60_000 }));
const speeds = [10, 20, 25, 45, 70, 80, 100, 130, 125, 5];
const trip: TripView = {
  id: '0-20261122071428-3', recordId: 'ab'.repeat(32), vehicleIndex: 0, vid: 'LBVNU79049SB81546', sessionId: 3,
  start, end: start + 9 * 60_000, points, speeds, distanceM: 4321, durationS: 540, maxSpeedKmh: 130, avgSpeedKmh: 61,
  events: [
    { type: 'harsh-braking', t: start + 8 * 60_000, value: -5.1, lat: points[8]!.lat, lng: points[8]!.lng },
    { type: 'speeding', t: start + 7 * 60_000, value: 131 }, // no position: placed at the point nearest in time
    { type: '<script>', t: start },
  ],
};

const count = (s: string, re: RegExp) => (s.match(re) ?? []).length;
const segmentBands = speeds.slice(1).map((s, i) => speedBand((speeds[i]! + s) / 2).colour);
const runs = segmentBands.filter((c, i) => i === 0 || c !== segmentBands[i - 1]);

t.test('the track is one polyline per run of equal speed band, each stroked in its band colour', (t) => {
  const svg = renderTripSvg(trip);
  t.equal(count(svg, /<polyline /g), runs.length, `${runs.length} polylines for ${segmentBands.length} segments`);
  const strokes = [...svg.matchAll(/<polyline [^>]*stroke="(#[0-9a-f]{6})"/g)].map((m) => m[1]);
  t.same(strokes, runs, 'colours in track order');
  t.ok(strokes.every((c) => SPEED_BANDS.some((b) => b.colour === c)));
  // Consecutive polylines share their joining point, so the track has no gaps.
  const lines = [...svg.matchAll(/<polyline [^>]*points="([^"]+)"/g)].map((m) => m[1]!.split(' '));
  for (let i = 1; i < lines.length; i++) t.equal(lines[i]![0], lines[i - 1]![lines[i - 1]!.length - 1], `polyline ${i} starts where ${i - 1} ends`);
  t.equal(lines.reduce((n, l) => n + l.length - 1, 0), points.length - 1, 'every segment drawn once');
  t.notOk(/NaN|Infinity/.test(svg), 'no NaN coordinates');
  t.end();
});

t.test('markers, legend, scale and caption', (t) => {
  const svg = renderTripSvg(trip, { width: 640, height: 480 });
  t.equal(count(svg, /<circle class="start"/g), 1, 'one start marker');
  t.equal(count(svg, /<rect class="end"/g), 1, 'one end marker');
  // Every event is placed: by its own position, else at the track point nearest its time.
  t.equal(count(svg, /<path class="event"/g), 3, 'three event markers');
  t.match(svg, /data-type="harsh-braking"/);
  t.match(svg, /<title>speeding \(131 km\/h\)/);
  t.match(svg, /class="legend"/);
  for (const b of SPEED_BANDS) t.ok(svg.includes(`fill="${b.colour}"`), `legend swatch ${b.label}`);
  t.match(svg, /class="scale"[\s\S]*?<text[^>]*>\d+ (m|km)<\/text>/, 'scale bar with a round distance');
  t.match(svg, /4\.32 km · 9 min 00 s · max 130 km\/h/, 'caption');
  t.match(svg, /width="640" height="480" viewBox="0 0 640 480"/);
  // The start marker sits on the first track point.
  const start = /<circle class="start" cx="([\d.]+)" cy="([\d.]+)"/.exec(svg)!;
  const firstPoint = /<polyline [^>]*points="([\d.]+),([\d.]+)/.exec(svg)!;
  t.same([start[1], start[2]], [firstPoint[1], firstPoint[2]]);
  t.end();
});

t.test('no network references: no URL at all inline, only the SVG namespace when standalone', (t) => {
  const inline = renderTripSvg(trip);
  t.notOk(/https?:|href=|url\(/i.test(inline), 'inline SVG has no URL');
  const standalone = renderTripSvg(trip, { standalone: true });
  t.same(standalone.match(/https?:\/\/[^"]+/g), ['http://www.w3.org/2000/svg'], 'standalone: only the xmlns');
  const html = renderTripHtml(trip);
  t.notOk(/https?:\/\//i.test(html), 'the HTML page has no http(s) URL');
  t.notOk(/<script|<link|<img|<iframe|src=|href=/i.test(html), 'no script, link, image or frame');
  t.match(html, /^<!doctype html>/);
  t.match(html, /<svg [^>]*class="trip-map"/);
  t.match(html, /&lt;script&gt;/, 'event names are escaped');
  t.match(html, /Max speed<\/th><td>130 km\/h/);
  t.match(html, /Distance<\/th><td>4\.32 km/);
  t.end();
});

t.test('a stationary or empty trip still renders (no division by zero)', (t) => {
  for (const pts of [[], [points[0]!], [points[0]!, points[0]!]]) {
    const svg = renderTripSvg({ ...trip, points: pts, speeds: pts.map(() => 0), events: [] });
    t.notOk(/NaN|Infinity/.test(svg), `${pts.length} point(s): no NaN`);
    t.equal(count(svg, /<circle class="start"/g), pts.length > 0 ? 1 : 0);
  }
  t.end();
});

t.test('the standalone SVG renders to a PNG with sharp', async (t) => {
  const png = await sharp(Buffer.from(renderTripSvg(trip, { standalone: true, width: 400, height: 300 }))).png().toBuffer();
  t.same([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], 'PNG signature');
  const meta = await sharp(png).metadata();
  t.same([meta.width, meta.height], [400, 300]);
  // The track is drawn: some pixels carry the red band colour #c62828.
  const { data, info } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
  let red = 0;
  for (let i = 0; i < data.length; i += info.channels) if (Math.abs(data[i]! - 0xc6) < 8 && Math.abs(data[i + 1]! - 0x28) < 8 && Math.abs(data[i + 2]! - 0x28) < 8) red++;
  t.ok(red > 20, `${red} red track pixels`);
});

t.test('tripFromRecord: statistics from the record, or computed from the track when absent', (t) => {
  const key = { SESSION_ID: 3, START_TIME: 20261122071428, END_TIME: 20261122072328 };
  const full = tripFromRecord({ recordId: 'cd'.repeat(32), key, value: { VID: 'V', len: 2, GPS: points, SPEED: speeds, DISTANCE_M: 999, DURATION_S: 77, MAX_SPEED: 88, AVG_SPEED: 44, EVENTS: [{ type: 'speeding', t: 1 }] } }, 2);
  t.match(full, { id: '2-20261122071428-3', vid: 'V', sessionId: 3, start, end: start + 9 * 60_000, distanceM: 999, durationS: 77, maxSpeedKmh: 88, avgSpeedKmh: 44 });
  t.equal(full.events.length, 1);
  const bare = tripFromRecord({ recordId: 'cd'.repeat(32), key, value: { VID: 'V', len: 10, GPS: points, SPEED: speeds } }, 0);
  const expected = points.slice(1).reduce((s, p, i) => s + haversineM(points[i]!, p), 0);
  t.ok(Math.abs(bare.distanceM - expected) < 1e-6 && expected > 1000, `distance from the track: ${Math.round(expected)} m`);
  t.equal(bare.durationS, 540);
  t.equal(bare.maxSpeedKmh, 130);
  t.equal(bare.avgSpeedKmh, null);
  t.end();
});
