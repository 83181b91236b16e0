// Staking and slashing: Stake adds power to the next set, Unstake removes it, Evidence burns the offender's bond and removes it.
import t from 'tap';
import { getAccount, getValidators } from '../../../../gateway/chain/app/queries.js';
import { EVIDENCE_MAX_AGE, UNBONDING_HEIGHTS } from '../../../../gateway/chain/app/staking-handlers.js';
import { saveAccount } from '../../../../gateway/chain/app/state-layout.js';
import { ValidatorSet } from '../../../../gateway/chain/consensus/validator-set.js';
import { evidenceTx, hex, key, stakeTx, TestChain, unstakeTx, vote } from './fixtures.js';

const powerOf = (list: { publicKey: Uint8Array; power: number }[], pub: Uint8Array) => list.find((v) => hex(v.publicKey) === hex(pub))?.power;

t.test('stake: a new validator with power = bonded stake, effective at the next height', (t) => {
  const chain = new TestChain();
  const staker = key('staker');
  const setBefore = chain.validators;
  const exec = chain.block([stakeTx(chain, staker, 300)]);
  t.ok(exec.results[0]!.ok, exec.results[0]!.reason ?? '');
  t.ok(exec.validatorsChanged, 'validatorsChanged');
  t.equal(powerOf(exec.nextValidators, staker.pub), 300, 'in the next set with its stake as power');
  t.equal(exec.nextValidators.length, 5);
  t.notOk(setBefore.has(staker.address), 'not in the set that decided this height');
  t.same(new ValidatorSet(exec.nextValidators).validators.map((v) => hex(v.publicKey)), exec.nextValidators.map((v) => hex(v.publicKey)), 'nextValidators is in canonical order');
  t.same(getAccount(chain.state, staker.address), { address: staker.address, balance: 700, bonded: 300, unbonding: 0, unbondingUntil: 0 });
  t.equal(getValidators(chain.state).length, 5);

  const more = chain.block([stakeTx(chain, staker, 200)]);
  t.equal(powerOf(more.nextValidators, staker.pub), 500, 'more stake, more power');
  const empty = chain.block([]);
  t.notOk(empty.validatorsChanged, 'an empty block changes nothing');
  t.same(empty.nextValidators, more.nextValidators);
  t.end();
});

t.test('unstake: power goes down, at 0 the validator leaves; the bond unbonds for UNBONDING_HEIGHTS, then returns to the balance', (t) => {
  const chain = new TestChain();
  const v0 = key('val0');
  const partial = chain.block([unstakeTx(chain, v0, 40)]);
  t.ok(partial.results[0]!.ok, partial.results[0]!.reason ?? '');
  t.equal(powerOf(partial.nextValidators, v0.pub), 60);
  t.ok(partial.validatorsChanged);
  const full = chain.block([unstakeTx(chain, v0, 60)]);
  t.ok(full.results[0]!.ok, full.results[0]!.reason ?? '');
  t.equal(powerOf(full.nextValidators, v0.pub), undefined, 'removed');
  t.equal(full.nextValidators.length, 3);
  const until = 2 + UNBONDING_HEIGHTS;
  t.same(getAccount(chain.state, v0.address), { address: v0.address, balance: 500, bonded: 0, unbonding: 100, unbondingUntil: until }, 'a later unstake restarts the wait for all of it');
  const early = chain.block([stakeTx(chain, v0, 501)]);
  t.equal(early.results[0]!.code, 'INSUFFICIENT_BALANCE', 'unbonding stake cannot be spent or restaked before it is free');
  chain.height = until - 2; // the next block is at until - 1
  t.equal(chain.block([stakeTx(chain, v0, 501)]).results[0]!.code, 'INSUFFICIENT_BALANCE', 'still unbonding one height before');
  const free = chain.block([stakeTx(chain, v0, 550)]);
  t.ok(free.results[0]!.ok, `at height ${until} the stake is free: ${free.results[0]!.reason ?? ''}`);
  t.same(getAccount(chain.state, v0.address), { address: v0.address, balance: 50, bonded: 550, unbonding: 0, unbondingUntil: 0 });
  t.end();
});

t.test('account records: an account that never unbonded keeps its encoding from before unbonding (and so its app hash)', (t) => {
  // version 1 ‖ balance u64 ‖ bonded u64, as every genesis and chain before unbonding wrote it.
  t.equal(Buffer.from(saveAccount({ balance: 5, bonded: 7, unbonding: 0, unbondingUntil: 0 })).toString('hex'), '01' + '0000000000000005' + '0000000000000007');
  t.equal(saveAccount({ balance: 5, bonded: 7, unbonding: 1, unbondingUntil: 9 }).length, 1 + 32);
  t.end();
});

t.test('evidence: the offender is removed and its whole bond burned; the reporter can be anyone', (t) => {
  const chain = new TestChain();
  chain.block([]);
  const v2 = key('val2');
  const before = getAccount(chain.state, v2.address);
  t.equal(before.bonded, 100);
  const exec = chain.block([evidenceTx(chain, key('anyone'), vote(v2, 1, 'block-a', { type: 'precommit' }), vote(v2, 1, null, { type: 'precommit' }))]);
  t.ok(exec.results[0]!.ok, exec.results[0]!.reason ?? '');
  t.ok(exec.validatorsChanged, 'validatorsChanged');
  t.equal(powerOf(exec.nextValidators, v2.pub), undefined, 'offender removed');
  t.equal(exec.nextValidators.length, 3);
  t.same(getAccount(chain.state, v2.address), { address: v2.address, balance: 0, bonded: 0, unbonding: 0, unbondingUntil: 0 }, 'bond burned');
  const supply = getValidators(chain.state).reduce((s, v) => s + v.power, 0);
  t.equal(supply, 300, 'total bonded power dropped by the burned stake');
  t.end();
});

t.test('evidence uses the set of the vote height: an offender who already left loses its unbonding stake, nothing changes in the set', (t) => {
  const chain = new TestChain();
  const v3 = key('val3');
  chain.block([]); // height 1: v3 in the set
  const left = chain.block([unstakeTx(chain, v3, 100)]);
  t.ok(left.results[0]!.ok, left.results[0]!.reason ?? '');
  t.same(getAccount(chain.state, v3.address), { address: v3.address, balance: 0, bonded: 0, unbonding: 100, unbondingUntil: 2 + UNBONDING_HEIGHTS });
  chain.block([]);
  const exec = chain.block([evidenceTx(chain, key('anyone'), vote(v3, 1, 'a'), vote(v3, 1, 'b'))]);
  t.ok(exec.results[0]!.ok, `accepted: ${exec.results[0]!.reason ?? ''}`);
  t.notOk(exec.validatorsChanged, 'the set does not change');
  t.same(getAccount(chain.state, v3.address), { address: v3.address, balance: 0, bonded: 0, unbonding: 0, unbondingUntil: 0 }, 'unstaking did not escape the slash');
  t.end();
});

t.test('no evidence can outlive the unbonding: the last votes of a leaver are stale by the time its stake is free', (t) => {
  t.ok(UNBONDING_HEIGHTS > EVIDENCE_MAX_AGE);
  t.end();
});

t.test('checkTx writes nothing and agrees with execution', (t) => {
  const chain = new TestChain();
  const before = chain.state.dump();
  const tx = stakeTx(chain, key('staker'), 10);
  t.ok(chain.check(tx).ok);
  t.same(chain.state.dump(), before);
  t.end();
});
