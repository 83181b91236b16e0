// Tests for the per-PID sampling plan: only supported PIDs, each at its own rate, most overdue first.
import t from 'tap';
import { SamplingPlan } from '../../../firmware/sampling/sampling-plan.js';

t.test('only supported PIDs, bitmaps skipped, defaults applied', (t) => {
  const plan = new SamplingPlan([0x00, 0x0c, 0x0d, 0x05, 0x20, 0x33]);
  t.same(plan.pids, [0x05, 0x0c, 0x0d], '0x33 has no default interval and is skipped');
  const all = new SamplingPlan([0x0c, 0x33], { defaultIntervalMs: 30_000 });
  t.same(all.pids, [0x0c, 0x33]);
  t.throws(() => new SamplingPlan([0x0c], { intervalsMs: { 0x0c: 0 } }), RangeError);
  t.end();
});

t.test('each PID at its own interval', (t) => {
  const plan = new SamplingPlan([0x0c, 0x0d, 0x05], { intervalsMs: { 0x0c: 200, 0x0d: 1000, 0x05: 10_000 } });
  const counts = new Map<number, number>();
  for (let now = 0; now < 20_000; now += 50) {
    const due = plan.due(now);
    for (const pid of due) counts.set(pid, (counts.get(pid) ?? 0) + 1);
    plan.markSampled(due, now);
  }
  t.equal(counts.get(0x0c), 100, 'RPM 5 Hz');
  t.equal(counts.get(0x0d), 20, 'speed 1 Hz');
  t.equal(counts.get(0x05), 2, 'coolant every 10 s');
  t.end();
});

t.test('most overdue first, bounded rounds, nextDueAt', (t) => {
  const plan = new SamplingPlan([1, 2, 3, 4], { intervalsMs: { 1: 100, 2: 100, 3: 100, 4: 100 }, maxPerRound: 2 });
  t.same(plan.due(0), [1, 2], 'never sampled first, then by PID');
  plan.markSampled([1, 2], 0);
  t.equal(plan.nextDueAt(0), 0, 'PIDs 3 and 4 never sampled');
  t.same(plan.due(10), [3, 4]);
  plan.markSampled([3, 4], 10);
  t.same(plan.due(50), []);
  t.equal(plan.nextDueAt(50), 100);
  t.same(plan.due(150), [1, 2], '1 and 2 are 50 ms overdue, 3 and 4 only 40');
  t.end();
});
