// Tests for the NMEA route player, parsed here with a tiny checksum-checking reader of our own.
import t from 'tap';
import { createLinkPair } from '../../../hardware/serial/memory-link.js';
import { startElm327Simulator } from '../../../hardware/sim/elm327-simulator.js';
import { NmeaRoutePlayer, startNmeaRoutePlayer, type NmeaRoutePlayerOptions } from '../../../hardware/sim/nmea-route-player.js';
import { distanceM, SHANGHAI_TRIP_ROUTE } from '../../../hardware/sim/routes.js';
import { scenarioByName } from '../../../hardware/sim/scenarios.js';
import { ManualClock } from '../../../hardware/sim/sim-clock.js';
import { VehicleState } from '../../../hardware/sim/vehicle-state.js';
import { ElmTerminal, flushIo } from './elm-terminal.js';

/** The part of tap's test object the helpers below need. */
interface TestWithTeardown {
  teardown(fn: () => unknown): void;
}

interface Sentence {
  type: string;
  fields: string[];
}

/** Splits a stream into sentences, rejecting any with a bad checksum or framing. */
function parseNmea(text: string): Sentence[] {
  const out: Sentence[] = [];
  if (!text.endsWith('\r\n')) throw new Error(`sentences must end with CR LF: ${JSON.stringify(text.slice(-20))}`);
  for (const line of text.split('\r\n').filter(Boolean)) {
    const match = /^\$([^*$]+)\*([0-9A-F]{2})$/.exec(line);
    if (!match) throw new Error(`not an NMEA sentence: ${line}`);
    let sum = 0;
    for (const c of match[1]!) sum ^= c.charCodeAt(0);
    if (sum !== parseInt(match[2]!, 16)) throw new Error(`bad checksum: ${line}`);
    const [type, ...fields] = match[1]!.split(',');
    out.push({ type: type!, fields });
  }
  return out;
}

const coordinate = (value: string, hemisphere: string): number => {
  const dot = value.indexOf('.');
  const degrees = Number(value.slice(0, dot - 2));
  const minutes = Number(value.slice(dot - 2));
  return (degrees + minutes / 60) * (hemisphere === 'S' || hemisphere === 'W' ? -1 : 1);
};

function setup(t: TestWithTeardown, options: Partial<NmeaRoutePlayerOptions> = {}) {
  const clock = new ManualClock();
  const [host, device] = createLinkPair();
  let received = '';
  host.onData((chunk) => (received += Buffer.from(chunk).toString('latin1')));
  const player = startNmeaRoutePlayer({ link: device, clock, ...options });
  t.teardown(async () => {
    await player.stop();
    await host.close();
  });
  const advance = async (ms: number, stepMs = 1000): Promise<Sentence[]> => {
    for (let done = 0; done < ms; done += stepMs) {
      clock.advance(Math.min(stepMs, ms - done));
      await flushIo();
    }
    await flushIo();
    const text = received;
    received = '';
    return text ? parseNmea(text) : [];
  };
  return { clock, player, advance };
}

t.test('RMC + GGA once a second along the Shanghai route, valid checksums', async (t) => {
  const { advance } = setup(t, { startTime: new Date(Date.UTC(2016, 4, 11, 7, 14, 28)) });
  const first = await advance(0);
  t.same(first.map((s) => s.type), ['GPRMC', 'GPGGA'], 'the first fix right away');
  const [rmc, gga] = first;
  t.equal(rmc!.fields[0], '071428.00', 'UTC time');
  t.equal(rmc!.fields[1], 'A');
  t.equal(rmc!.fields[8], '110516', 'date ddmmyy');
  t.ok(Math.abs(coordinate(rmc!.fields[2]!, rmc!.fields[3]!) - 31.250885) < 1e-6, 'starts at the seed trip’s first point');
  t.ok(Math.abs(coordinate(rmc!.fields[4]!, rmc!.fields[5]!) - 121.44662) < 1e-6);
  t.equal(Number(rmc!.fields[6]), 0, 'standing still (the seed’s first speed is 0)');
  t.equal(gga!.fields[5], '1', 'GPS fix');
  t.equal(gga!.fields[6], '09', 'satellites');

  const tenSeconds = await advance(10_000);
  const rmcs = tenSeconds.filter((s) => s.type === 'GPRMC');
  t.equal(rmcs.length, 10, '1 Hz');
  t.same(rmcs.map((s) => s.fields[0]), ['071429.00', '071430.00', '071431.00', '071432.00', '071433.00', '071434.00', '071435.00', '071436.00', '071437.00', '071438.00']);
  const knots = rmcs.map((s) => Number(s.fields[6]));
  t.ok(knots.every((k, i) => i === 0 || k > knots[i - 1]!), 'accelerating towards the second point (0 → 23 km/h)');
});

t.test('the whole route: speeds follow the seed, the trip ends at its last point', async (t) => {
  const { advance, player } = setup(t);
  let last: Sentence | undefined;
  let maxKmh = 0;
  for (let minute = 0; minute < 120 && !player.stats().finished; minute++) {
    const sentences = await advance(60_000, 1000);
    for (const s of sentences.filter((x) => x.type === 'GPRMC')) {
      last = s;
      maxKmh = Math.max(maxKmh, Number(s.fields[6]) * 1.852);
    }
  }
  t.ok(player.stats().finished, 'the route ends within two hours');
  t.ok(maxKmh > 50 && maxKmh <= 52.01, `top speed from the seed series (${maxKmh.toFixed(1)} km/h)`);
  const end = SHANGHAI_TRIP_ROUTE[SHANGHAI_TRIP_ROUTE.length - 1]!;
  const at = { lat: coordinate(last!.fields[2]!, last!.fields[3]!), lng: coordinate(last!.fields[4]!, last!.fields[5]!) };
  t.ok(distanceM(at, end) < 1, 'stopped at the last point');
  t.equal(Number(last!.fields[6]), 0);
});

t.test('VTG, GN talker and void fixes while acquiring', async (t) => {
  const { advance } = setup(t, { sentences: ['RMC', 'GGA', 'VTG'], talker: 'GN', acquireFixes: 2, route: SHANGHAI_TRIP_ROUTE, speed: { kind: 'series', kmh: [36] } });
  const sentences = await advance(2000);
  t.same(sentences.map((s) => s.type), ['GNRMC', 'GNGGA', 'GNVTG', 'GNRMC', 'GNGGA', 'GNVTG', 'GNRMC', 'GNGGA', 'GNVTG']);
  t.equal(sentences[0]!.fields[1], 'V', 'no fix yet');
  t.equal(sentences[1]!.fields[5], '0');
  t.equal(sentences[6]!.fields[1], 'A');
  const vtg = sentences[8]!;
  t.equal(Number(vtg.fields[6]), 36, 'VTG km/h');
  t.ok(Math.abs(Number(vtg.fields[4]) - 36 / 1.852) < 0.001, 'VTG knots');
  t.equal(vtg.fields[1], 'T');
});

t.test('a time scale plays ten simulated seconds per real second', async (t) => {
  const base = new ManualClock();
  const [host, device] = createLinkPair();
  let text = '';
  host.onData((chunk) => (text += Buffer.from(chunk).toString('latin1')));
  const player = new NmeaRoutePlayer({ link: device, clock: base, timeScale: 10, speed: { kind: 'series', kmh: [72] }, route: SHANGHAI_TRIP_ROUTE });
  player.start();
  for (let i = 0; i < 10; i++) {
    base.advance(100);
    await flushIo();
  }
  await flushIo();
  const rmcs = parseNmea(text).filter((s) => s.type === 'GPRMC');
  t.equal(rmcs.length, 11, 'eleven fixes in one real second');
  t.ok(Math.abs(player.stats().distanceM - 200) < 0.5, '10 s at 72 km/h = 200 m');
  await player.stop();
  await host.close();
  t.throws(() => new NmeaRoutePlayer({ link: device, timeScale: 2, speed: { kind: 'vehicle', state: new VehicleState({ profile: { keyframes: [] }, startMs: 0 }) } }), { code: 'SIM_INVALID_OPTION' });
});

t.test('GPS and OBD agree when they share the vehicle and the clock', async (t) => {
  const clock = new ManualClock();
  const scenario = scenarioByName('driving');
  const state = new VehicleState({ ...scenario.vehicle, profile: scenario.profile, startMs: clock.now() });
  const [obdHost, obdDevice] = createLinkPair();
  const [gpsHost, gpsDevice] = createLinkPair();
  const elm = startElm327Simulator({ link: obdDevice, clock, state, baudRate: 0, ecuLatencyMs: 0, scenario });
  const player = startNmeaRoutePlayer({ link: gpsDevice, clock, speed: { kind: 'vehicle', state } });
  let gpsText = '';
  gpsHost.onData((chunk) => (gpsText += Buffer.from(chunk).toString('latin1')));
  const term = new ElmTerminal(obdHost);
  await term.send('ATE0', { clock });
  await term.send('ATSP6', { clock });
  let compared = 0;
  let distanceKm = 0;
  for (let s = 1; s <= 480; s++) {
    clock.advance(1000);
    await flushIo();
    if (s % 20 !== 0) continue;
    // Ask the ECU at the same instant as the fix just emitted (latency 0, no clock movement).
    const { text } = await term.send('010D', { clock, stepMs: 0 });
    const obdKmh = parseInt(text.split(' ')[2]!, 16);
    const fixes = parseNmea(gpsText).filter((x) => x.type === 'GPRMC');
    gpsText = '';
    const gpsKmh = Number(fixes[fixes.length - 1]!.fields[6]) * 1.852;
    t.ok(Math.abs(gpsKmh - obdKmh) <= 0.5, `t=${s}s GPS ${gpsKmh.toFixed(2)} km/h vs OBD ${obdKmh} km/h`);
    compared++;
    distanceKm = player.stats().distanceM / 1000;
  }
  t.equal(compared, 24);
  const odometerKm = state.advanceTo(clock.now()).odometerKm - 48213.4;
  t.ok(Math.abs(distanceKm - odometerKm) < 0.01, `GPS distance ${distanceKm.toFixed(3)} km = odometer ${odometerKm.toFixed(3)} km`);
  await player.stop();
  await elm.stop();
  await obdHost.close();
  await gpsHost.close();
});
