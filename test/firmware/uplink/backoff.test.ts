// Tests for the reconnect/publish backoff: doubling, cap, jitter range, reset.
import t from 'tap';
import { Backoff } from '../../../firmware/uplink/backoff.js';

t.test('doubles from initialMs up to maxMs; reset starts over', (t) => {
  const b = new Backoff({ initialMs: 100, maxMs: 1000, random: () => 0 });
  t.same([b.next(), b.next(), b.next(), b.next(), b.next(), b.next()], [100, 200, 400, 800, 1000, 1000]);
  t.equal(b.failures, 6);
  b.reset();
  t.equal(b.failures, 0);
  t.equal(b.next(), 100);
  t.end();
});

t.test('jitter takes up to the given fraction off, never more', (t) => {
  const low = new Backoff({ initialMs: 1000, jitter: 0.5, random: () => 0.999999 });
  t.equal(low.next(), 500);
  const none = new Backoff({ initialMs: 1000, jitter: 0, random: () => 0.7 });
  t.equal(none.next(), 1000);
  const real = new Backoff({ initialMs: 1000, maxMs: 8000 });
  for (let i = 0; i < 50; i++) {
    const d = real.next();
    const cap = Math.min(8000, 1000 * 2 ** i);
    t.ok(d >= cap / 2 && d <= cap, `attempt ${i}: ${d} within [${cap / 2}, ${cap}]`);
  }
  t.end();
});

t.test('bad options are refused', (t) => {
  t.throws(() => new Backoff({ initialMs: 0 }), RangeError);
  t.throws(() => new Backoff({ initialMs: 10, maxMs: 5 }), RangeError);
  t.throws(() => new Backoff({ multiplier: 0.5 }), RangeError);
  t.throws(() => new Backoff({ jitter: 2 }), RangeError);
  t.end();
});
