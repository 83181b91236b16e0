// A trip drawn as inline SVG (speed-coloured track, start/end and event markers, scale bar, legend) and as a self-contained HTML page.
//
// Pure string building with no I/O and no network references, so the same function serves the CLI
// (HTML file, PNG through sharp) and the browser trip viewer. The projection is equirectangular around
// the track's mean latitude: exact enough for the few kilometres of a trip, and needs no tile server.
import type { TripEvent, TripPoint, TripView } from './trip-view.js';

export interface SpeedBand {
  /** Upper bound in km/h (exclusive); the last band is unbounded. */
  below: number;
  colour: string;
  label: string;
}

export const SPEED_BANDS: readonly SpeedBand[] = [
  { below: 30, colour: '#2e7d32', label: '< 30 km/h' },
  { below: 60, colour: '#7cb342', label: '30–60 km/h' },
  { below: 90, colour: '#f9a825', label: '60–90 km/h' },
  { below: 120, colour: '#ef6c00', label: '90–120 km/h' },
  { below: Number.POSITIVE_INFINITY, colour: '#c62828', label: '≥ 120 km/h' },
];

export const START_COLOUR = '#1565c0';
export const END_COLOUR = '#212121';
export const EVENT_COLOUR = '#8e24aa';

export interface TripSvgOptions {
  width?: number;
  height?: number;
  /** Add the SVG namespace so the string is a standalone .svg document (for sharp/librsvg); inline HTML does not need it. */
  standalone?: boolean;
  /** A caption drawn at the top (default: distance, duration, max speed). */
  title?: string;
}

const METRES_PER_DEGREE = 111_320;
const PAD = 24;
const HEADER = 28;

export function esc(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

export function speedBand(kmh: number): SpeedBand {
  return SPEED_BANDS.find((b) => kmh < b.below) ?? SPEED_BANDS[SPEED_BANDS.length - 1]!;
}

export function formatDistance(m: number): string {
  return m >= 1000 ? `${(m / 1000).toFixed(m >= 10_000 ? 1 : 2)} km` : `${Math.round(m)} m`;
}

export function formatDuration(s: number): string {
  const total = Math.max(0, Math.round(s));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const sec = total % 60;
  return h > 0 ? `${h} h ${String(m).padStart(2, '0')} min` : `${m} min ${String(sec).padStart(2, '0')} s`;
}

export function tripCaption(trip: TripView): string {
  return `${formatDistance(trip.distanceM)} · ${formatDuration(trip.durationS)} · max ${Math.round(trip.maxSpeedKmh)} km/h`;
}

/** The largest 1/2/5 × 10^k metres not above `maxM`. */
function niceDistance(maxM: number): number {
  if (!(maxM > 0)) return 1;
  const exp = 10 ** Math.floor(Math.log10(maxM));
  for (const f of [5, 2, 1]) if (f * exp <= maxM) return f * exp;
  return exp;
}

interface Projection {
  xy(p: { lat: number; lng: number }): [number, number];
  metresPerPixel: number;
}

function project(points: readonly TripPoint[], width: number, height: number, footer: number): Projection {
  const lat0 = points.length ? points.reduce((s, p) => s + p.lat, 0) / points.length : 0;
  const kx = Math.cos((lat0 * Math.PI) / 180) * METRES_PER_DEGREE;
  const xs = points.map((p) => p.lng * kx);
  const ys = points.map((p) => p.lat * METRES_PER_DEGREE);
  const [minX, maxX, minY, maxY] = xs.length ? [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)] : [0, 0, 0, 0];
  const boxW = width - 2 * PAD;
  const boxH = height - 2 * PAD - HEADER - footer;
  const spanX = maxX - minX;
  const spanY = maxY - minY;
  // A stationary "trip" (one point, or all points equal) gets a 100 m wide view instead of a division by zero.
  const scale = Math.min(boxW / Math.max(spanX, 100), boxH / Math.max(spanY, 100));
  const offX = PAD + (boxW - spanX * scale) / 2;
  const offY = PAD + HEADER + (boxH - spanY * scale) / 2;
  return {
    xy: (p) => [offX + (p.lng * kx - minX) * scale, offY + (maxY - p.lat * METRES_PER_DEGREE) * scale],
    metresPerPixel: 1 / scale,
  };
}

const n = (v: number) => (Math.round(v * 10) / 10).toString();

/** Consecutive segments of the same speed band joined into one polyline each. */
function trackPolylines(trip: TripView, proj: Projection): string[] {
  const out: string[] = [];
  let band: SpeedBand | null = null;
  let run: string[] = [];
  const flush = () => {
    if (band && run.length >= 2) out.push(`<polyline class="track" points="${run.join(' ')}" stroke="${band.colour}" data-band="${esc(band.label)}"/>`);
  };
  for (let i = 1; i < trip.points.length; i++) {
    const kmh = ((trip.speeds[i - 1] ?? 0) + (trip.speeds[i] ?? trip.speeds[i - 1] ?? 0)) / 2;
    const b = speedBand(kmh);
    const [x0, y0] = proj.xy(trip.points[i - 1]!);
    const [x1, y1] = proj.xy(trip.points[i]!);
    if (b !== band) {
      flush();
      band = b;
      run = [`${n(x0)},${n(y0)}`];
    }
    run.push(`${n(x1)},${n(y1)}`);
  }
  flush();
  return out;
}

function eventLabel(e: TripEvent): string {
  const when = e.t !== undefined ? ` at ${new Date(e.t).toISOString().slice(11, 19)} UTC` : '';
  const value = e.value === undefined ? '' : e.type === 'speeding' ? ` (${Math.round(e.value)} km/h)` : ` (${e.value.toFixed(1)} m/s²)`;
  return `${e.type}${value}${when}`;
}

/** Where an event happened: its own position, else the track point nearest in time. */
function eventPosition(trip: TripView, e: TripEvent): TripPoint | null {
  if (e.lat !== undefined && e.lng !== undefined) return { lat: e.lat, lng: e.lng };
  if (e.t === undefined || trip.points.length === 0) return null;
  let best: TripPoint | null = null;
  for (const p of trip.points) if (p.t !== undefined && (best === null || Math.abs(p.t - e.t) < Math.abs(best.t! - e.t))) best = p;
  return best;
}

const LEGEND: readonly [string, string][] = [
  ...SPEED_BANDS.map((b): [string, string] => [`<rect width="14" height="6" y="-7" fill="${b.colour}"/>`, b.label]),
  [`<circle cx="7" cy="-4" r="5" fill="${START_COLOUR}"/>`, 'start'],
  [`<rect x="2" y="-9" width="10" height="10" fill="${END_COLOUR}"/>`, 'end'],
  [`<path d="M7,-10 L13,1 L1,1 Z" fill="${EVENT_COLOUR}"/>`, 'event'],
];

/** Legend items by label width (about 7 px per character at 12 px), in as many rows as the width needs. */
function legendLayout(width: number): { rows: number[][]; widths: number[] } {
  const widths = LEGEND.map(([, label]) => 18 + label.length * 7 + 14);
  const rows: number[][] = [[]];
  let rowWidth = 0;
  const maxRow = width - 2 * PAD - 140; // leave the scale bar its room
  LEGEND.forEach((_, i) => {
    if (rowWidth + widths[i]! > maxRow && rows[rows.length - 1]!.length > 0) {
      rows.push([]);
      rowWidth = 0;
    }
    rows[rows.length - 1]!.push(i);
    rowWidth += widths[i]!;
  });
  return { rows, widths };
}

export function renderTripSvg(trip: TripView, opts: TripSvgOptions = {}): string {
  const width = opts.width ?? 800;
  const height = opts.height ?? 600;
  const legendRows = legendLayout(width).rows.length;
  const proj = project(trip.points, width, height, 24 + 20 * legendRows);
  const parts: string[] = [];
  parts.push(`<svg${opts.standalone ? ' xmlns="http://www.w3.org/2000/svg"' : ''} class="trip-map" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`);
  parts.push(`<rect class="background" x="0" y="0" width="${width}" height="${height}" fill="#fafafa"/>`);
  parts.push(`<text class="caption" x="${PAD}" y="${PAD + 12}" font-size="15" font-weight="bold" fill="#212121">${esc(opts.title ?? tripCaption(trip))}</text>`);
  parts.push('<g class="tracks" fill="none" stroke-width="4" stroke-linecap="round" stroke-linejoin="round">');
  parts.push(...trackPolylines(trip, proj));
  parts.push('</g>');

  parts.push('<g class="events">');
  for (const e of trip.events) {
    const at = eventPosition(trip, e);
    if (!at) continue;
    const [x, y] = proj.xy(at);
    parts.push(`<path class="event" data-type="${esc(e.type)}" d="M${n(x)},${n(y - 9)} L${n(x + 8)},${n(y + 6)} L${n(x - 8)},${n(y + 6)} Z" fill="${EVENT_COLOUR}" stroke="#fff" stroke-width="1.5"><title>${esc(eventLabel(e))}</title></path>`);
  }
  parts.push('</g>');

  const first = trip.points[0];
  const last = trip.points[trip.points.length - 1];
  if (first) {
    const [x, y] = proj.xy(first);
    parts.push(`<circle class="start" cx="${n(x)}" cy="${n(y)}" r="7" fill="${START_COLOUR}" stroke="#fff" stroke-width="2"><title>start ${esc(new Date(trip.start).toISOString())}</title></circle>`);
  }
  if (last && trip.points.length > 1) {
    const [x, y] = proj.xy(last);
    parts.push(`<rect class="end" x="${n(x - 6)}" y="${n(y - 6)}" width="12" height="12" fill="${END_COLOUR}" stroke="#fff" stroke-width="2"><title>end ${esc(new Date(trip.end).toISOString())}</title></rect>`);
  }

  // Scale bar, bottom left: a round distance at most a quarter of the width.
  const barM = niceDistance((width / 4) * proj.metresPerPixel);
  const barPx = barM / proj.metresPerPixel;
  const baseY = height - PAD;
  parts.push(`<g class="scale"><path d="M${PAD},${baseY - 6} V${baseY} H${n(PAD + barPx)} V${baseY - 6}" fill="none" stroke="#212121" stroke-width="2"/>`);
  parts.push(`<text x="${PAD}" y="${baseY - 10}" fill="#212121">${barM >= 1000 ? `${barM / 1000} km` : `${barM} m`}</text></g>`);

  // Legend, bottom right: one swatch per speed band, then the markers.
  const { rows, widths } = legendLayout(width);
  parts.push('<g class="legend">');
  rows.forEach((row, r) => {
    let x = width - PAD - row.reduce((sum, i) => sum + widths[i]!, 0);
    const y = baseY - 20 * (rows.length - 1 - r);
    for (const i of row) {
      const [swatch, label] = LEGEND[i]!;
      parts.push(`<g transform="translate(${x},${y})">${swatch}<text x="18" fill="#212121">${esc(label)}</text></g>`);
      x += widths[i]!;
    }
  });
  parts.push('</g>');
  parts.push('</svg>');
  return parts.join('\n');
}

/** A complete HTML page: statistics, the map, the events and what was verified. Opens offline. */
export function renderTripHtml(trip: TripView, opts: TripSvgOptions = {}): string {
  const iso = (ms: number) => (Number.isFinite(ms) ? new Date(ms).toISOString().replace('T', ' ').slice(0, 19) + ' UTC' : '—');
  const rows: [string, string][] = [
    ['Trip', trip.id],
    ['Vehicle', trip.vid],
    ['Start', iso(trip.start)],
    ['End', iso(trip.end)],
    ['Distance', formatDistance(trip.distanceM)],
    ['Duration', formatDuration(trip.durationS)],
    ['Max speed', `${Math.round(trip.maxSpeedKmh)} km/h`],
    ['Average speed', trip.avgSpeedKmh === null ? '—' : `${Math.round(trip.avgSpeedKmh)} km/h`],
    ['GPS points', String(trip.points.length)],
    ['Record id', trip.recordId],
  ];
  const v = trip.verification;
  if (v) {
    const inclusion = v.inclusion === 'anchored' ? `in batch ${v.batchId}, anchored at chain height ${v.anchorHeight}` : v.inclusion === 'sealed' ? `in batch ${v.batchId} (not anchored yet)` : v.inclusion;
    rows.push(['Verified', `origin signature ✓; Merkle inclusion: ${inclusion}`]);
  }
  const events = trip.events.length === 0
    ? '<p>No harsh driving events.</p>'
    : `<table class="events"><tr><th>Event</th><th>Time (UTC)</th><th>Value</th></tr>${trip.events.map((e) => `<tr><td>${esc(e.type)}</td><td>${e.t === undefined ? '—' : esc(iso(e.t))}</td><td>${e.value === undefined ? '—' : esc(String(Math.round(e.value * 10) / 10))}</td></tr>`).join('')}</table>`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Trip ${esc(trip.id)}</title>
<style>
body { font-family: sans-serif; margin: 1.5rem; color: #212121; }
table { border-collapse: collapse; margin: 0.5rem 0 1rem; }
td, th { padding: 0.2rem 0.8rem 0.2rem 0; text-align: left; vertical-align: top; }
th { font-weight: 600; }
.trip-map { border: 1px solid #ddd; max-width: 100%; height: auto; }
</style>
</head>
<body>
<h1>Trip ${esc(trip.id)}</h1>
<table class="stats">${rows.map(([k, val]) => `<tr><th>${esc(k)}</th><td>${esc(val)}</td></tr>`).join('')}</table>
${renderTripSvg(trip, { ...opts, standalone: false })}
<h2>Events</h2>
${events}
</body>
</html>
`;
}
