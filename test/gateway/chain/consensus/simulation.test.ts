// Seeded simulations of 4 and 7 validators under loss, delay, partitions, crashes and an equivocator:
// agreement and validity always, progress with > 2/3 power up, no progress with ≤ 2/3.
// CARCHAIN_SIM_SEED=<n> reruns exactly one seed of every scenario.
import t, { type Test } from 'tap';
import { runSimulation, type SimConfig, type SimResult } from './simulation.js';

// 260 seeded runs are CPU-bound: seconds each on an idle core, several times that on a loaded CI
// machine, so this file gets more than the suite's default 300 s.
t.setTimeout(1_200_000);

const only = process.env.CARCHAIN_SIM_SEED;
const seeds = (count: number, base: number): number[] =>
  only !== undefined ? [Number(only)] : Array.from({ length: count }, (_, i) => base + i);

const BASE: Omit<SimConfig, 'seed' | 'powers'> = {
  targetHeight: 3, maxTimeMs: 120_000, dropRate: 0.1, maxDelayMs: 60, faultWindowMs: 6_000, crashes: 2, partitions: 1,
};

function explain(r: SimResult): string {
  return `seed ${r.seed} (rerun: CARCHAIN_SIM_SEED=${r.seed}); violations ${JSON.stringify(r.violations)}; ` +
    `decisions ${JSON.stringify([...r.decisions].map(([n, d]) => [n, [...d.keys()]]))}; end ${r.endMs} ms`;
}

function reachedTarget(r: SimResult, target: number): boolean {
  return r.honest.every((i) => r.decisions.get(i)!.has(target));
}

interface Scenario {
  name: string;
  count: number;
  config: Omit<SimConfig, 'seed'>;
  expect: (t: Test, r: SimResult) => void;
}

const scenarios: Scenario[] = [
  {
    name: '4 equal validators, loss + delay + 2 crashes + a partition',
    count: 60,
    config: { ...BASE, powers: [1, 1, 1, 1] },
    expect: (t, r) => t.ok(reachedTarget(r, 3), `progress: ${explain(r)}`),
  },
  {
    name: '7 unequal validators, loss + delay + 3 crashes + 2 partitions',
    count: 40,
    config: { ...BASE, powers: [5, 3, 3, 2, 1, 1, 1], crashes: 3, partitions: 2 },
    expect: (t, r) => t.ok(reachedTarget(r, 3), `progress: ${explain(r)}`),
  },
  {
    name: '7 equal validators, loss + delay + 3 crashes + 2 partitions',
    count: 20,
    config: { ...BASE, powers: [1, 1, 1, 1, 1, 1, 1], crashes: 3, partitions: 2 },
    expect: (t, r) => t.ok(reachedTarget(r, 3), `progress: ${explain(r)}`),
  },
  {
    name: 'harsh: 4 validators, lossy links (up to 90 %), slow block sync, 5 heights',
    count: 40,
    config: { ...BASE, powers: [1, 1, 1, 1], targetHeight: 5, dropRate: 0.3, maxDelayMs: 150, faultWindowMs: 10_000, crashes: 3, partitions: 3, lossyLinks: 0.9, catchUpDelayMs: 3000 },
    expect: (t, r) => t.ok(reachedTarget(r, 5), `progress: ${explain(r)}`),
  },
  {
    name: '4 equal validators, one equivocates every prevote',
    count: 40,
    config: { ...BASE, powers: [1, 1, 1, 1], byzantine: [2], crashes: 0, partitions: 0, faultWindowMs: 0 },
    expect: (t, r) => {
      t.ok(reachedTarget(r, 3), `progress: ${explain(r)}`);
      t.same([...r.evidenceAgainst], [r.addresses[2]], `evidence against the double-signer only: ${explain(r)}`);
    },
  },
  {
    name: '7 unequal validators, the heaviest (5 of 16) equivocates, with crashes',
    count: 20,
    config: { ...BASE, powers: [5, 3, 3, 2, 1, 1, 1], byzantine: [0], crashes: 1, partitions: 1 },
    expect: (t, r) => {
      t.ok(reachedTarget(r, 3), `progress: ${explain(r)}`);
      t.same([...r.evidenceAgainst], [r.addresses[0]], `evidence against the double-signer only: ${explain(r)}`);
    },
  },
  {
    name: '4 equal validators, 2 down (exactly 1/2 up): no decision at all',
    count: 20,
    config: { ...BASE, powers: [1, 1, 1, 1], down: [0, 3], downUntilMs: Infinity, crashes: 0, partitions: 0, maxTimeMs: 20_000 },
    expect: (t, r) => t.equal(r.firstDecisionAtMs, undefined, `no progress: ${explain(r)}`),
  },
  {
    name: '7 unequal validators, exactly 2/3 of the power up (not > 2/3): halts, then resumes',
    count: 20,
    // Up: 3 + 3 + 2 = 8 of 12, exactly 2/3 (3·8 = 24 = 2·12): not a quorum.
    config: { ...BASE, powers: [3, 3, 2, 1, 1, 1, 1], down: [3, 4, 5, 6], downUntilMs: 15_000, crashes: 0, partitions: 0 },
    expect: (t, r) => {
      t.ok(r.firstDecisionAtMs !== undefined && r.firstDecisionAtMs >= 15_000, `halted while ≤ 2/3 up: ${explain(r)}`);
      t.ok(reachedTarget(r, 3), `resumed: ${explain(r)}`);
    },
  },
];

for (const s of scenarios) {
  t.test(s.name, (t) => {
    let rounds = 0;
    for (const seed of seeds(s.count, 1000 * (scenarios.indexOf(s) + 1))) {
      const r = runSimulation({ ...s.config, seed });
      rounds++;
      if (r.violations.length > 0) t.fail(`safety: ${explain(r)}`);
      s.expect(t, r);
    }
    t.comment(`${rounds} seeded runs`);
    t.end();
  });
}

t.test('a seed fixes the whole run', (t) => {
  const config: SimConfig = { ...BASE, powers: [5, 3, 3, 2, 1, 1, 1], byzantine: [3], seed: Number(only ?? 42) };
  const a = runSimulation(config);
  const b = runSimulation(config);
  const summary = (r: SimResult): unknown => [r.endMs, r.delivered, r.dropped, r.restarts, [...r.decisions].map(([n, d]) => [n, [...d]])];
  t.same(summary(a), summary(b));
  t.ok(a.delivered > 0);
  t.end();
});
