// Tests for the validator set: strict quorum arithmetic, stake-weighted proposer rotation, set hash.
import t from 'tap';
import { ConsensusError } from '../../../../gateway/chain/consensus/errors.js';
import { ValidatorSet } from '../../../../gateway/chain/consensus/validator-set.js';
import { makeSet, testKey } from './fixtures.js';

t.test('> 2/3 and > 1/3 are strict, by power', (t) => {
  const { set } = makeSet([1, 1, 1]);
  t.notOk(set.hasTwoThirds(2), 'exactly 2/3 is not a quorum');
  t.ok(set.hasTwoThirds(3));
  t.notOk(set.hasOneThird(1), 'exactly 1/3 is not f+1');
  t.ok(set.hasOneThird(2));
  const weighted = makeSet([5, 3, 3, 2, 1, 1, 1]).set; // total 16: quorum needs 11
  t.notOk(weighted.hasTwoThirds(10));
  t.ok(weighted.hasTwoThirds(11));
  t.end();
});

t.test('proposer rotation is stake weighted and periodic', (t) => {
  const { set, keys } = makeSet([3, 2, 1]);
  const counts = new Map<string, number>();
  for (let h = 1; h <= 60; h++) {
    const p = set.proposer(h, 0).address;
    counts.set(p, (counts.get(p) ?? 0) + 1);
  }
  t.same(keys.map((k) => counts.get(k.address)), [30, 20, 10], 'each validator proposes power/total of the heights');
  t.equal(set.proposer(1, 0).address, keys[0]!.address, 'the heaviest goes first');
  t.equal(set.proposer(7, 0).address, set.proposer(1, 0).address, 'period = total power / gcd = 6');
  t.equal(set.proposer(2, 3).address, set.proposer(5, 0).address, 'round r of height h uses step h - 1 + r');
  const again = makeSet([3, 2, 1]).set;
  for (let i = 1; i < 20; i++) t.equal(again.proposer(i, i % 3).address, set.proposer(i, i % 3).address);
  t.end();
});

t.test('smooth rotation: with equal power every validator proposes once per N rounds', (t) => {
  const { set } = makeSet([7, 7, 7, 7]);
  const seen = new Set([0, 1, 2, 3].map((r) => set.proposer(1, r).address));
  t.equal(seen.size, 4);
  const order = set.validators.map((v) => v.address);
  t.same([0, 1, 2, 3].map((r) => set.proposer(1, r).address), order, 'ties go to the lower hash160, in order');
  t.end();
});

t.test('set hash is canonical and binds keys and power', (t) => {
  const a = new ValidatorSet([0, 1, 2].map((i) => ({ publicKey: testKey(i).publicKey, power: i + 1 })));
  const b = new ValidatorSet([2, 0, 1].map((i) => ({ publicKey: testKey(i).publicKey, power: i + 1 })));
  t.same(a.setHash(), b.setHash(), 'member order does not matter');
  const c = new ValidatorSet([0, 1, 2].map((i) => ({ publicKey: testKey(i).publicKey, power: i === 2 ? 4 : i + 1 })));
  t.notSame(a.setHash(), c.setHash());
  t.equal(a.setHash().length, 32);
  t.end();
});

t.test('invalid sets are refused with INVALID_VALIDATOR_SET', (t) => {
  const k = testKey(0).publicKey;
  const code = (f: () => unknown): string | undefined => {
    try {
      f();
    } catch (err) {
      return err instanceof ConsensusError ? err.code : 'other';
    }
    return undefined;
  };
  t.equal(code(() => new ValidatorSet([])), 'INVALID_VALIDATOR_SET');
  t.equal(code(() => new ValidatorSet([{ publicKey: k, power: 0 }])), 'INVALID_VALIDATOR_SET');
  t.equal(code(() => new ValidatorSet([{ publicKey: k, power: 1.5 }])), 'INVALID_VALIDATOR_SET');
  t.equal(code(() => new ValidatorSet([{ publicKey: k, power: 1 }, { publicKey: k, power: 2 }])), 'INVALID_VALIDATOR_SET');
  t.equal(code(() => new ValidatorSet([{ publicKey: k, power: 2 ** 50 }, { publicKey: testKey(1).publicKey, power: 1 }])), 'INVALID_VALIDATOR_SET');
  t.end();
});
