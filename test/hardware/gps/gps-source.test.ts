// NmeaGpsSource over an in-memory ByteLink: RMC + GGA merged per second, invalid fixes and garbage skipped and counted.
import t from 'tap';
import fc from 'fast-check';
import { LinkError, LinkListeners, type ByteLink } from '../../../hardware/serial/byte-link.js';
import { NmeaGpsSource, type GpsFix } from '../../../hardware/gps/gps-source.js';
import { formatNmeaSentence } from '../../../hardware/gps/nmea.js';

/** A ByteLink whose incoming bytes the test pushes by hand. */
class MemoryLink implements ByteLink {
  private readonly listeners = new LinkListeners();
  readonly written: Uint8Array[] = [];

  get isOpen(): boolean {
    return !this.listeners.isClosed;
  }

  write(data: Uint8Array): Promise<void> {
    if (!this.isOpen) return Promise.reject(new LinkError('LINK_CLOSED', 'closed'));
    this.written.push(data);
    return Promise.resolve();
  }

  onData(listener: (chunk: Uint8Array) => void): () => void {
    return this.listeners.onData(listener);
  }

  onClose(listener: (error?: Error) => void): () => void {
    return this.listeners.onClose(listener);
  }

  close(): Promise<void> {
    this.listeners.emitClose();
    return Promise.resolve();
  }

  feed(data: string | Uint8Array): void {
    this.listeners.emitData(typeof data === 'string' ? Uint8Array.from(Buffer.from(data, 'latin1')) : data);
  }
}

const pad = (n: number, width: number, decimals = 0) => n.toFixed(decimals).padStart(width + (decimals > 0 ? decimals + 1 : 0), '0');
const coord = (value: number, degreeDigits: number): string => {
  const abs = Math.abs(value);
  const degrees = Math.floor(abs);
  return `${pad(degrees, degreeDigits)}${pad((abs - degrees) * 60, 2, 4)}`;
};
const hhmmss = (ms: number) => {
  const d = new Date(ms);
  return `${pad(d.getUTCHours(), 2)}${pad(d.getUTCMinutes(), 2)}${pad(d.getUTCSeconds(), 2)}.${pad(d.getUTCMilliseconds() / 10, 2)}`;
};
const ddmmyy = (ms: number) => {
  const d = new Date(ms);
  return `${pad(d.getUTCDate(), 2)}${pad(d.getUTCMonth() + 1, 2)}${pad(d.getUTCFullYear() % 100, 2)}`;
};

interface Point { time: number; lat: number; lng: number; knots: number; course: number; altitude: number; sats: number; hdop: number }
const rmc = (p: Point, status = 'A', talker = 'GP') => formatNmeaSentence(
  `${talker}RMC,${hhmmss(p.time)},${status},${coord(p.lat, 2)},${p.lat < 0 ? 'S' : 'N'},${coord(p.lng, 3)},${p.lng < 0 ? 'W' : 'E'},${p.knots.toFixed(1)},${p.course.toFixed(1)},${ddmmyy(p.time)},,,A`);
const gga = (p: Point, quality = 1, talker = 'GP') => formatNmeaSentence(
  `${talker}GGA,${hhmmss(p.time)},${coord(p.lat, 2)},${p.lat < 0 ? 'S' : 'N'},${coord(p.lng, 3)},${p.lng < 0 ? 'W' : 'E'},${quality},${pad(p.sats, 2)},${p.hdop.toFixed(1)},${p.altitude.toFixed(1)},M,47.0,M,,`);
const vtg = (p: Point) => formatNmeaSentence(`GPVTG,${p.course.toFixed(1)},T,,M,${p.knots.toFixed(1)},N,${(p.knots * 1.852).toFixed(1)},K,A`);
const gsv = formatNmeaSentence('GPGSV,1,1,01,03,03,111,00');

const START = Date.UTC(2024, 4, 17, 9, 30, 0);
const route = (n: number, start = START): Point[] => Array.from({ length: n }, (_, i) => ({
  time: start + i * 1000, lat: -33.8688 + i * 0.0001, lng: 151.2093 - i * 0.0001, knots: 20 + i, course: 90 + i, altitude: 50 + i, sats: 9, hdop: 0.8,
}));
/** The fix a point should become (coordinates as the 4-decimal minutes in the sentence carry them). */
const expectedFix = (p: Point): GpsFix => ({
  time: p.time, lat: p.lat, lng: p.lng, speedKmh: Number(p.knots.toFixed(1)) * 1.852, course: p.course, altitude: p.altitude, satellites: p.sats, hdop: p.hdop,
});
const near = (a: GpsFix, b: GpsFix): boolean =>
  a.time === b.time && Math.abs(a.lat - b.lat) < 1e-6 && Math.abs(a.lng - b.lng) < 1e-6 && Math.abs((a.speedKmh ?? NaN) - (b.speedKmh ?? NaN)) < 1e-9
  && a.course === b.course && a.altitude === b.altitude && a.satellites === b.satellites && a.hdop === b.hdop;

async function started(): Promise<{ link: MemoryLink; source: NmeaGpsSource; fixes: GpsFix[] }> {
  const link = new MemoryLink();
  const source = new NmeaGpsSource(link);
  const fixes: GpsFix[] = [];
  source.onFix((f) => fixes.push(f));
  await source.start();
  return { link, source, fixes };
}

t.test('RMC and GGA of the same second become one fix', async (t) => {
  const { link, source, fixes } = await started();
  const points = route(4);
  // u-blox order: RMC, VTG, GGA, then satellites.
  for (const p of points) link.feed(`${rmc(p)}\r\n${vtg(p)}\r\n${gga(p)}\r\n${gsv}\r\n`);
  t.equal(fixes.length, 4, 'the first epoch waits for the next one, later ones go out as soon as RMC + GGA are in');
  fixes.forEach((f, i) => t.ok(near(f, expectedFix(points[i] as Point)), `fix ${i} merged`, { f, expected: expectedFix(points[i] as Point) }));
  t.same(source.lastFix(), fixes[3]);
  t.match(source.stats(), { sentences: 12, fixes: 4, unsupported: 4, badChecksums: 0, malformed: 0, invalidFixes: 0 });
  t.end();
});

t.test('GGA-first receivers and GP/GN duplicates', async (t) => {
  const { link, fixes } = await started();
  const points = route(3);
  for (const p of points) link.feed(`${gga(p, 1, 'GN')}\r\n${rmc(p, 'A', 'GN')}\r\n${rmc(p, 'A', 'GP')}\r\n`);
  await link.close();
  t.equal(fixes.length, 3, 'one fix per second; the last is flushed when the link closes');
  t.ok(fixes.every((f, i) => near(f, expectedFix(points[i] as Point))));
  t.end();
});

t.test('the Munich example sentences merge into one fix', async (t) => {
  const { link, fixes } = await started();
  link.feed('$GPRMC,123519,A,4807.038,N,01131.000,E,022.4,084.4,230394,003.1,W*6A\r\n$GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,*47\r\n');
  await link.close();
  t.equal(fixes.length, 1);
  t.match(fixes[0], { time: Date.UTC(1994, 2, 23, 12, 35, 19), altitude: 545.4, satellites: 8, hdop: 0.9, course: 84.4 });
  t.end();
});

t.test('invalid fixes and bad checksums are skipped and counted, never thrown', async (t) => {
  const { link, source, fixes } = await started();
  const [a, b, c, d] = route(4) as [Point, Point, Point, Point];
  link.feed(`${rmc(a)}\r\n${gga(a)}\r\n`);
  link.feed(`${rmc(b, 'V')}\r\n${gga(b)}\r\n`);
  link.feed(`${rmc(c)}\r\n${gga(c, 0)}\r\n`);
  link.feed(`${rmc(d).replace(/\*..$/, '*00')}\r\nnot nmea at all\r\n${gga(d).slice(0, 30)}\r\n`);
  await link.close();
  t.equal(fixes.length, 1, 'only the valid epoch');
  t.match(source.stats(), { fixes: 1, invalidFixes: 2, badChecksums: 2, malformed: 1 });
  t.end();
});

t.test('RMC-only receivers emit without waiting once the pattern is known', async (t) => {
  const { link, fixes } = await started();
  const points = route(3);
  link.feed(`${rmc(points[0] as Point)}\r\n`);
  t.equal(fixes.length, 0, 'first epoch: unknown whether a GGA follows');
  link.feed(`${rmc(points[1] as Point)}\r\n`);
  t.equal(fixes.length, 2, 'the first flushed by the second, the second emitted at once');
  t.match(fixes[1], { altitude: null, satellites: null, hdop: null });
  link.feed(`${rmc(points[2] as Point)}\r\n`);
  t.equal(fixes.length, 3);
  t.end();
});

t.test('GGA-only epochs take the date of the last valid RMC, across midnight', async (t) => {
  const { link, source, fixes } = await started();
  link.feed(`${gga(route(1)[0] as Point)}\r\n${gga(route(2)[1] as Point)}\r\n`);
  t.equal(fixes.length, 0);
  t.equal(source.stats().incompleteFixes, 2, 'no date known yet: both skipped');
  const beforeMidnight = route(3, Date.UTC(2024, 4, 17, 23, 59, 58));
  link.feed(`${rmc(beforeMidnight[0] as Point)}\r\n${gga(beforeMidnight[0] as Point)}\r\n`);
  link.feed(`${gga(beforeMidnight[1] as Point)}\r\n${gga(beforeMidnight[2] as Point)}\r\n`);
  await link.close();
  t.same(fixes.map((f) => new Date(f.time).toISOString()), ['2024-05-17T23:59:58.000Z', '2024-05-17T23:59:59.000Z', '2024-05-18T00:00:00.000Z']);
  t.end();
});

t.test('start / stop / close rules', async (t) => {
  const { link, source, fixes } = await started();
  await source.start(); // idempotent: still one subscription
  const points = route(4);
  link.feed(`${rmc(points[0] as Point)}\r\n${gga(points[0] as Point)}\r\n${rmc(points[1] as Point)}\r\n`);
  t.equal(fixes.length, 1);
  await source.stop();
  link.feed(`${gga(points[1] as Point)}\r\n${rmc(points[2] as Point)}\r\n${gga(points[2] as Point)}\r\n`);
  t.equal(fixes.length, 1, 'nothing after stop');
  await source.start();
  let thrown = 0;
  source.onFix(() => {
    thrown++;
    throw new Error('listener bug');
  });
  link.feed(`${rmc(points[3] as Point)}\r\n${gga(points[3] as Point)}\r\n`);
  t.equal(fixes.length, 2, 'restarted; the other listener still got the fix');
  t.equal(thrown, 1);
  t.equal(source.stats().listenerErrors, 1, 'a throwing listener is contained and counted');
  await link.close();
  await t.rejects(new NmeaGpsSource(link).start(), { code: 'LINK_CLOSED' });
  const off = source.onFix(() => undefined);
  off();
  t.end();
});

t.test('fuzz: garbage between sentences never hides or alters a fix', async (t) => {
  const points = route(20);
  const sentences = points.flatMap((p) => [rmc(p), vtg(p), gga(p), gsv]);
  const garbage = fc.uint8Array({ maxLength: 40 }).map((g) => g.filter((b) => b !== 0x24 && b !== 0x0d && b !== 0x0a));
  await fc.assert(fc.asyncProperty(fc.array(garbage, { minLength: sentences.length, maxLength: sentences.length }), fc.array(fc.integer({ min: 1, max: 64 }), { minLength: 1, maxLength: 50 }), async (noise, cuts) => {
    const stream = Buffer.concat(sentences.flatMap((s, i) => [Buffer.from(noise[i] ?? []), Buffer.from(`${s}\r\n`, 'latin1')]));
    const { link, source, fixes } = await started();
    for (let at = 0, i = 0; at < stream.length; i++) {
      const size = cuts[i % cuts.length] ?? 1;
      link.feed(stream.subarray(at, at + size));
      at += size;
    }
    await link.close();
    return fixes.length === points.length && fixes.every((f, i) => near(f, expectedFix(points[i] as Point))) && source.stats().badChecksums === 0;
  }), { numRuns: 200, seed: 4807 });
  t.pass('held');
  t.end();
});

t.test('fuzz: random bytes and corrupted sentences never make the source throw', async (t) => {
  const points = route(10);
  const clean = Buffer.from(points.flatMap((p) => [rmc(p), gga(p)]).map((s) => `${s}\r\n`).join(''), 'latin1');
  await fc.assert(fc.asyncProperty(fc.array(fc.tuple(fc.nat(clean.length), fc.uint8Array({ maxLength: 8 })), { maxLength: 30 }), fc.uint8Array({ maxLength: 2000 }), async (edits, randomTail) => {
    const bytes = Array.from(clean);
    for (const [at, insert] of edits) bytes.splice(at, 1, ...insert);
    const { link, source, fixes } = await started();
    link.feed(Uint8Array.from(bytes));
    link.feed(randomTail);
    await link.close();
    const s = source.stats();
    // Every fix is placed in time and space, and the counters account for what was skipped.
    return fixes.every((f) => Number.isFinite(f.time) && Math.abs(f.lat) <= 90 && Math.abs(f.lng) <= 180) && s.fixes === fixes.length && s.fixes <= points.length + 5;
  }), { numRuns: 300, seed: 1131 });
  t.pass('held');
  t.end();
});
