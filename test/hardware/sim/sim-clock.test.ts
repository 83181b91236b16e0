// Tests for the injectable clocks: manual stepping, timer order, cancellation, scaling.
import t from 'tap';
import { ManualClock, scaledClock, systemClock } from '../../../hardware/sim/sim-clock.js';

t.test('ManualClock fires due timers in time order, including ones scheduled while firing', (t) => {
  const clock = new ManualClock(1000);
  const fired: string[] = [];
  clock.setTimer(30, () => fired.push(`b@${clock.now()}`));
  clock.setTimer(10, () => {
    fired.push(`a@${clock.now()}`);
    clock.setTimer(5, () => fired.push(`a2@${clock.now()}`));
  });
  const cancel = clock.setTimer(20, () => fired.push('cancelled'));
  cancel();
  clock.setTimer(30, () => fired.push(`c@${clock.now()}`));
  clock.advance(29);
  t.same(fired, ['a@1010', 'a2@1015']);
  t.equal(clock.now(), 1029);
  clock.advance(1);
  t.same(fired, ['a@1010', 'a2@1015', 'b@1030', 'c@1030'], 'equal due times keep scheduling order');
  t.equal(clock.pendingTimers, 0);
  t.end();
});

t.test('scaledClock runs faster than its base', (t) => {
  const base = new ManualClock(0);
  const fast = scaledClock(base, 10);
  let fired = false;
  fast.setTimer(1000, () => (fired = true));
  base.advance(99);
  t.notOk(fired);
  base.advance(1);
  t.ok(fired, '1000 ms of scaled time = 100 ms of base time');
  t.equal(fast.now(), 1000);
  t.equal(scaledClock(base, 1), base);
  t.throws(() => scaledClock(base, 0));
  t.end();
});

t.test('systemClock timers never fire early', async (t) => {
  const started = systemClock.now();
  await new Promise<void>((resolve) => systemClock.setTimer(7.3, resolve));
  t.ok(systemClock.now() - started >= 7.3);
});
