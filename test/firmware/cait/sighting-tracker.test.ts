// SightingTracker: one sighting per plate per visit, gap window, confirmation count, expiry, bounded memory.
import t from 'tap';
import fc from 'fast-check';
import { SightingTracker } from '../../../firmware/cait/sighting-tracker.js';

const read = (plate: string, confidence = 0.9) => ({ plate, confidence, source: 'cam0' });

t.test('a plate seen on many frames of one visit is one sighting', (t) => {
  const tracker = new SightingTracker({ gapMs: 10_000 });
  const first = tracker.observe(read('皖A12345'), 1000);
  t.match(first, { plate: '皖A12345', firstSeen: 1000, lastSeen: 1000, reads: 1 });
  for (let now = 1200; now <= 30_000; now += 200) t.equal(tracker.observe(read('皖A12345'), now), null, `frame at ${now}`);
  t.end();
});

t.test('a read after the gap starts a new visit and a new sighting', (t) => {
  const tracker = new SightingTracker({ gapMs: 10_000 });
  t.ok(tracker.observe(read('皖A12345'), 0));
  t.equal(tracker.observe(read('皖A12345'), 10_000), null, 'exactly the gap is the same visit');
  t.match(tracker.observe(read('皖A12345'), 20_001), { firstSeen: 20_001, reads: 1 }, 'gap exceeded → new visit');
  t.end();
});

t.test('minReads: a single stray read is not a sighting', (t) => {
  const tracker = new SightingTracker({ gapMs: 5000, minReads: 3 });
  t.equal(tracker.observe(read('皖A1234X', 0.5), 0), null);
  t.equal(tracker.observe(read('皖A12345', 0.7), 0), null);
  t.equal(tracker.observe(read('皖A12345', 0.95), 100), null);
  t.match(tracker.observe(read('皖A12345', 0.8), 200), { plate: '皖A12345', reads: 3, bestConfidence: 0.95, firstSeen: 0, lastSeen: 200 });
  t.equal(tracker.observe(read('皖A12345'), 300), null, 'reported once');
  t.same(tracker.expire(5100), [], 'the stray closes unreported; the real visit still open');
  t.same(tracker.expire(5300), [], 'exactly the gap after the last read: still open');
  t.match(tracker.expire(5301), [{ plate: '皖A12345', reads: 4, firstSeen: 0, lastSeen: 300 }]);
  t.equal(tracker.openVisits, 0);
  t.end();
});

t.test('two plates interleaved are tracked separately', (t) => {
  const tracker = new SightingTracker({ gapMs: 1000 });
  const out: string[] = [];
  for (let i = 0; i < 20; i++) {
    for (const p of ['皖A11111', '京B22222']) {
      const s = tracker.observe(read(p), i * 100);
      if (s) out.push(s.plate);
    }
  }
  t.same(out, ['皖A11111', '京B22222']);
  t.end();
});

t.test('maxOpen bounds memory: the least recently seen visit is dropped', (t) => {
  const tracker = new SightingTracker({ gapMs: 1_000_000, maxOpen: 3 });
  for (const [i, p] of ['A', 'B', 'C', 'D'].entries()) tracker.observe(read(p), i);
  t.equal(tracker.openVisits, 3);
  t.ok(tracker.observe(read('A'), 10), 'A was evicted, so it is a new visit');
  t.equal(tracker.observe(read('D'), 11), null, 'D stayed');
  t.end();
});

t.test('property: sightings per plate = number of gaps larger than the window + 1', (t) => {
  fc.assert(
    fc.property(fc.array(fc.integer({ min: 0, max: 3000 }), { minLength: 1, maxLength: 60 }), (steps) => {
      const tracker = new SightingTracker({ gapMs: 1000 });
      let now = 0;
      let sightings = 0;
      let expected = 1;
      steps.forEach((dt, i) => {
        if (i > 0) {
          now += dt;
          if (dt > 1000) expected++;
        }
        if (tracker.observe(read('P'), now)) sightings++;
      });
      return sightings === expected;
    }),
  );
  t.pass('held');
  t.end();
});

t.test('bad options are RangeErrors', (t) => {
  t.throws(() => new SightingTracker({ gapMs: 0 }), RangeError);
  t.throws(() => new SightingTracker({ minReads: 0 }), RangeError);
  t.throws(() => new SightingTracker({ maxOpen: 1.5 }), RangeError);
  t.end();
});
