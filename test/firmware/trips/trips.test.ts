// Tests for ignition detection, driving events and trip recording (pure, fake time).
import t from 'tap';
import { DrivingEventDetector } from '../../../firmware/trips/driving-events.js';
import { IgnitionDetector } from '../../../firmware/trips/ignition-detector.js';
import { TripRecorder, haversineM } from '../../../firmware/trips/trip-recorder.js';

t.test('ignition: debounced on and off, with the time the change began', (t) => {
  const ig = new IgnitionDetector();
  t.equal(ig.observe({ t: 0, rpm: 800 }), null, 'one sample is not enough');
  t.same(ig.observe({ t: 2_000, rpm: 820 }), { state: 'on', t: 0 });
  t.equal(ig.observe({ t: 3_000, rpm: 0, voltage: 12.4 }), null, 'a stall does not end the trip');
  t.equal(ig.observe({ t: 4_000, rpm: 750 }), null, 'engine back: the off candidate is cancelled');
  t.equal(ig.observe({ t: 10_000, ecuSilent: true }), null);
  t.equal(ig.observe({ t: 20_000, ecuSilent: true }), null);
  t.same(ig.observe({ t: 40_000, ecuSilent: true }), { state: 'off', t: 10_000 });
  t.notOk(ig.isOn);
  t.equal(ig.observe({ t: 41_000, voltage: 14.1 }), null, 'alternator voltage counts as running');
  t.same(ig.observe({ t: 43_500, voltage: 14.0 }), { state: 'on', t: 41_000 });
  t.end();
});

t.test('driving events: harsh acceleration, harsh braking, sustained speeding', (t) => {
  const d = new DrivingEventDetector();
  const speeds = [0, 10, 25, 40, 45, 50, 50, 30, 12, 10]; // +15 km/h/s ≈ 4.2 m/s², −20 km/h/s ≈ −5.6 m/s²
  speeds.forEach((v, i) => d.push({ t: i * 1000, speedKmh: v, lat: 31, lng: 121 }));
  // gentle ramps (≤ 2.8 m/s²): 110 → 132 → 110 km/h, over 120 from t=23 s to t=31 s
  [110, 116, 120, 125, 128, 130, 132, 131, 129, 126, 123, 121, 118, 112].forEach((v, i) => d.push({ t: 20_000 + i * 1000, speedKmh: v }));
  const events = d.finish();
  const types = events.map((e) => e.type);
  t.same(types, ['harsh-acceleration', 'harsh-braking', 'speeding'], 'one event per excursion');
  t.equal(events[0]!.t, 1000);
  t.ok(events[1]!.value < -4);
  t.equal(events[2]!.value, 132, 'peak speed');
  t.equal(events[2]!.durationMs, 9000, 'from the first sample over the limit to the first back under it');
  const brief = new DrivingEventDetector();
  [115, 119, 122, 124, 119, 115].forEach((v, i) => brief.push({ t: i * 1000, speedKmh: v }));
  t.same(brief.finish(), [], 'two seconds over the limit is not speeding');
  const gap = new DrivingEventDetector();
  gap.push({ t: 0, speedKmh: 80 });
  gap.push({ t: 60_000, speedKmh: 0 });
  t.same(gap.finish(), [], 'a gap in samples is not a harsh brake');
  t.end();
});

t.test('trip recorder: track thinning, distance, stats and events', (t) => {
  const rec = new TripRecorder(7, 1_000_000);
  let lat = 31.25;
  for (let i = 0; i <= 120; i++) {
    const time = 1_000_000 + i * 1000;
    rec.addSpeed(time, 36); // 10 m/s
    lat += 10 / 111_195; // ~10 m north per second
    rec.addFix(time, lat, 121.44);
  }
  const trip = rec.finish(1_000_000 + 120_000);
  t.equal(trip.sessionId, 7);
  t.equal(trip.durationS, 120);
  t.ok(Math.abs(trip.distanceM - 1200) < 15, `~1200 m driven (${trip.distanceM})`);
  t.ok(trip.gps.length > 30 && trip.gps.length < 70, `points every ~25 m (${trip.gps.length})`);
  t.equal(trip.speed.length, trip.gps.length);
  t.equal(trip.maxSpeedKmh, 36);
  t.ok(Math.abs(trip.avgSpeedKmh - 36) < 1);
  t.same(trip.events, []);
  t.end();
});

t.test('trip recorder: no GPS falls back to integrated OBD speed; the track is bounded', (t) => {
  const rec = new TripRecorder(1, 0, { minPointDistanceM: 0, maxPointIntervalMs: 0, maxPoints: 100 });
  for (let i = 0; i <= 60; i++) rec.addSpeed(i * 1000, 72);
  t.equal(rec.finish(60_000).distanceM, 1200, '20 m/s for 60 s');
  const bounded = new TripRecorder(2, 0, { minPointDistanceM: 0, maxPointIntervalMs: 0, maxPoints: 100 });
  for (let i = 0; i < 1000; i++) bounded.addFix(i * 1000, 31 + i / 10_000, 121);
  const trip = bounded.finish(1_000_000);
  t.ok(trip.gps.length <= 100, `bounded (${trip.gps.length})`);
  t.equal(trip.gps[0]!.t, 0, 'first point kept');
  t.equal(trip.gps.at(-1)!.t, 999_000, 'last point kept');
  t.end();
});

t.test('haversine matches a known distance', (t) => {
  // Shanghai People's Square → Pudong airport, ~ 45 km great-circle.
  const d = haversineM({ lat: 31.2304, lng: 121.4737 }, { lat: 31.1443, lng: 121.8083 });
  t.ok(Math.abs(d - 33_200) < 1000, `${Math.round(d)} m`);
  t.end();
});
