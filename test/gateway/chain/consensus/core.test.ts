// Rule-by-rule tests of the Tendermint core (Algorithm 1): prevote, lock, unlock via validRound, nil
// precommit, timeouts, round skip, decide in a later round, and refusal of bad messages.
import t from 'tap';
import { ConsensusCore, type Effect } from '../../../../gateway/chain/consensus/core.js';
import { valueIdOf, valueKey } from '../../../../gateway/chain/consensus/messages.js';
import { type LastSignedGuard, MemoryLastSignedGuard } from '../../../../gateway/chain/consensus/sign-guard.js';
import { DEFAULT_TIMEOUTS } from '../../../../gateway/chain/consensus/timeouts.js';
import { utf8 } from '../../../../protocol/wire.js';
import { CHAIN_ID, keyOf, makeSet, ofType, proposal, testApp, type TestKey, vote, votesOut } from './fixtures.js';

const { set, keys } = makeSet([1, 1, 1, 1]);
const me = keyOf(keys, set.proposer(1, 3).address); // proposer only in round 3
const others = keys.filter((k) => k !== me);
const proposerOf = (round: number): TestKey => keyOf(keys, set.proposer(1, round).address);
const V = utf8('ok value V');
const W = utf8('ok value W');
const BAD = utf8('not ok');

function node(guard: LastSignedGuard = new MemoryLastSignedGuard()): { core: ConsensusCore; first: Effect[] } {
  const core = new ConsensusCore({ chainId: CHAIN_ID, validators: set, privateKey: me.privateKey, app: testApp('me'), guard });
  return { core, first: core.start(1) };
}

const idOf = (v: Uint8Array | null): string => valueKey(v === null ? null : valueIdOf(v));
const votedFor = (effects: Effect[]): string[] => votesOut(effects).map((v) => `${v.type}:${valueKey(v.valueId)}`);

/** Drives `core` through round `round` until it locks on `value` (others prevote it). */
function lockOn(core: ConsensusCore, round: number, value: Uint8Array): Effect[] {
  let fx = core.onProposal(proposal(proposerOf(round), 1, round, value));
  for (const k of others.slice(0, 2)) fx = fx.concat(core.onVote(vote(k, 1, round, 'prevote', value)));
  return fx;
}

t.test('start: a non-proposer schedules timeoutPropose(0); the proposer proposes', (t) => {
  const { first } = node();
  t.same(ofType(first, 'scheduleTimeout'), [{ type: 'scheduleTimeout', kind: 'propose', height: 1, round: 0, durationMs: DEFAULT_TIMEOUTS.propose.baseMs }]);
  t.equal(ofType(first, 'broadcastProposal').length, 0);
  const proposer = new ConsensusCore({ chainId: CHAIN_ID, validators: set, privateKey: proposerOf(0).privateKey, app: testApp('p'), guard: new MemoryLastSignedGuard() });
  const fx = proposer.start(1);
  const [p] = ofType(fx, 'broadcastProposal');
  t.ok(p);
  t.equal(p!.proposal.validRound, -1);
  t.same(votedFor(fx), [`prevote:${idOf(p!.proposal.value)}`], 'the proposer prevotes its own proposal');
  t.end();
});

t.test('L22–L27 prevote the proposal; L36 lock + precommit; L49 decide with the commit', (t) => {
  const { core } = node();
  let fx = core.onProposal(proposal(proposerOf(0), 1, 0, V));
  t.same(votedFor(fx), [`prevote:${idOf(V)}`]);
  t.equal(core.step, 'prevote');
  fx = core.onVote(vote(others[0]!, 1, 0, 'prevote', V));
  t.same(votedFor(fx), [], 'two of four prevotes are not > 2/3');
  fx = core.onVote(vote(others[1]!, 1, 0, 'prevote', V));
  t.same(votedFor(fx), [`precommit:${idOf(V)}`]);
  t.equal(core.lockedRound, 0);
  t.equal(core.validRound, 0);
  t.same(core.lockedValue, V);
  fx = core.onVote(vote(others[0]!, 1, 0, 'precommit', V));
  t.equal(ofType(fx, 'decide').length, 0);
  fx = core.onVote(vote(others[1]!, 1, 0, 'precommit', V));
  const [d] = ofType(fx, 'decide');
  t.ok(d);
  t.same(d!.value, V);
  t.equal(d!.commit.precommits.length, 3);
  t.ok(d!.commit.precommits.every((p) => p.type === 'precommit' && valueKey(p.valueId) === idOf(V)));
  t.end();
});

t.test('invalid value → prevote nil; the lock rule ignores it', (t) => {
  const { core } = node();
  const fx = core.onProposal(proposal(proposerOf(0), 1, 0, BAD));
  t.same(votedFor(fx), ['prevote:nil']);
  let more: Effect[] = [];
  for (const k of others) more = more.concat(core.onVote(vote(k, 1, 0, 'prevote', BAD)));
  t.same(votedFor(more), [], 'no precommit for an invalid value even with > 2/3 prevotes');
  t.equal(core.lockedRound, -1);
  t.end();
});

t.test('L44 > 2/3 nil prevotes → precommit nil; L34 timeoutPrevote on > 2/3 mixed prevotes', (t) => {
  const { core } = node();
  core.onTimeout('propose', 1, 0);
  t.equal(core.step, 'prevote');
  let fx = core.onVote(vote(others[0]!, 1, 0, 'prevote', V));
  fx = fx.concat(core.onVote(vote(others[1]!, 1, 0, 'prevote', null)));
  t.same(ofType(fx, 'scheduleTimeout').map((e) => `${e.kind}/${e.round}/${e.durationMs}`), [`prevote/0/${DEFAULT_TIMEOUTS.prevote.baseMs}`]);
  t.same(votedFor(fx), []);
  fx = core.onVote(vote(others[2]!, 1, 0, 'prevote', null));
  t.same(votedFor(fx), ['precommit:nil'], 'me + two others = 3 of 4 for nil');
  t.equal(core.step, 'precommit');
  t.end();
});

t.test('timeouts grow per round and timeoutPrecommit starts the next round', (t) => {
  const { core } = node();
  const seen: string[] = [];
  for (let round = 0; round < 3; round++) {
    core.onTimeout('propose', 1, round);
    let fx: Effect[] = [];
    // Split prevotes: > 2/3 voted, nothing has > 2/3, so only timeoutPrevote moves on.
    fx = fx.concat(core.onVote(vote(others[0]!, 1, round, 'prevote', V)));
    fx = fx.concat(core.onVote(vote(others[1]!, 1, round, 'prevote', W)));
    fx = fx.concat(core.onVote(vote(others[2]!, 1, round, 'prevote', null)));
    t.same(votedFor(core.onTimeout('prevote', 1, round)), ['precommit:nil']);
    for (const k of others) fx = fx.concat(core.onVote(vote(k, 1, round, 'precommit', null)));
    fx = fx.concat(core.onTimeout('precommit', 1, round));
    seen.push(...ofType(fx, 'scheduleTimeout').map((e) => `${e.kind}/${e.round}/${e.durationMs}`));
  }
  const { propose, prevote, precommit } = DEFAULT_TIMEOUTS;
  t.same(seen, [
    `prevote/0/${prevote.baseMs}`, `precommit/0/${precommit.baseMs}`, `propose/1/${propose.baseMs + propose.deltaMs}`,
    `prevote/1/${prevote.baseMs + prevote.deltaMs}`, `precommit/1/${precommit.baseMs + precommit.deltaMs}`, `propose/2/${propose.baseMs + 2 * propose.deltaMs}`,
    `prevote/2/${prevote.baseMs + 2 * prevote.deltaMs}`, `precommit/2/${precommit.baseMs + 2 * precommit.deltaMs}`, `propose/3/${propose.baseMs + 3 * propose.deltaMs}`,
  ]);
  t.equal(core.round, 3);
  t.same(ofType(core.onTimeout('prevote', 1, 1), 'broadcastVote'), [], 'a stale timeout does nothing');
  t.end();
});

t.test('lock: locked on V in round 0, a fresh proposal of W in round 1 gets a nil prevote', (t) => {
  const { core } = node();
  lockOn(core, 0, V);
  core.onTimeout('precommit', 1, 0); // nobody else precommitted: move on
  const fx = core.onProposal(proposal(proposerOf(1), 1, 1, W));
  t.same(votedFor(fx), ['prevote:nil']);
  const again = node().core;
  lockOn(again, 0, V);
  again.onTimeout('precommit', 1, 0);
  t.same(votedFor(again.onProposal(proposal(proposerOf(1), 1, 1, V, 0))), [`prevote:${idOf(V)}`], 'a re-proposal of the locked value (its polka seen) is prevoted');
  const third = node().core;
  lockOn(third, 0, V);
  third.onTimeout('precommit', 1, 0);
  t.same(votedFor(third.onProposal(proposal(proposerOf(1), 1, 1, W, 0))), [], 'validRound 0 without a polka for W there: wait (L28 not enabled)');
  t.equal(third.step, 'propose');
  t.end();
});

t.test('unlock via validRound (L28–L29): W got > 2/3 prevotes in round 1 ≥ lockedRound 0', (t) => {
  const { core } = node();
  lockOn(core, 0, V);
  core.onTimeout('precommit', 1, 0);
  // Round 1: others saw a polka for W that this node missed (it prevoted nil on the new proposal).
  t.same(votedFor(core.onProposal(proposal(proposerOf(1), 1, 1, W))), ['prevote:nil']);
  core.onVote(vote(others[0]!, 1, 1, 'prevote', W));
  core.onVote(vote(others[1]!, 1, 1, 'prevote', W));
  t.same(votedFor(core.onTimeout('prevote', 1, 1)), ['precommit:nil']);
  core.onVote(vote(others[2]!, 1, 1, 'prevote', W)); // the polka completes after this node precommitted
  t.equal(core.validRound, 1, 'L42–L43 valid value is updated even when not precommitting');
  t.same(core.validValue, W);
  t.equal(core.lockedRound, 0, 'still locked on V: the polka came after its precommit');
  core.onTimeout('precommit', 1, 1);
  const fx = core.onProposal(proposal(proposerOf(2), 1, 2, W, 1));
  t.same(votedFor(fx), [`prevote:${idOf(W)}`]);
  t.end();
});

t.test('the proposer re-proposes its valid value with validRound (L14)', (t) => {
  const { core } = node();
  // Reach round 3 (where me proposes) with V valid from round 2.
  for (let round = 0; round < 2; round++) {
    core.onTimeout('propose', 1, round);
    for (const k of others) core.onVote(vote(k, 1, round, 'precommit', null));
    core.onTimeout('precommit', 1, round);
  }
  t.equal(core.round, 2);
  lockOn(core, 2, V);
  for (const k of others) core.onVote(vote(k, 1, 2, 'precommit', null));
  const fx = core.onTimeout('precommit', 1, 2);
  const [p] = ofType(fx, 'broadcastProposal');
  t.ok(p);
  t.same(p!.proposal.value, V);
  t.equal(p!.proposal.validRound, 2);
  t.end();
});

t.test('L55 round skip on f+1 messages of a higher round', (t) => {
  const { core } = node();
  core.onVote(vote(others[0]!, 1, 5, 'prevote', null));
  t.equal(core.round, 0, 'one of four is not > 1/3');
  const fx = core.onVote(vote(others[1]!, 1, 5, 'precommit', null));
  t.equal(core.round, 5);
  t.same(ofType(fx, 'scheduleTimeout').map((e) => `${e.kind}/${e.round}`), ['propose/5']);
  t.end();
});

t.test('L49 decide on a later round while stuck elsewhere', (t) => {
  const { core } = node();
  core.onProposal(proposal(proposerOf(2), 1, 2, W));
  let fx: Effect[] = [];
  for (const k of others) fx = fx.concat(core.onVote(vote(k, 1, 2, 'precommit', W)));
  const [d] = ofType(fx, 'decide');
  t.ok(d, 'proposal of round 2 + > 2/3 precommits decide though this node was in round 0');
  t.same(d!.value, W);
  t.equal(d!.commit.round, 2);
  t.same(core.onVote(vote(others[0]!, 1, 3, 'prevote', V)), [], 'a decided height ignores further messages');
  t.end();
});

t.test('refusals: bad signature, unknown validator, wrong chain, wrong height, wrong proposer, duplicate', (t) => {
  const { core } = node();
  const codes = (fx: Effect[]): string[] => ofType(fx, 'rejected').map((e) => e.error.code);
  const good = vote(others[0]!, 1, 0, 'prevote', V);
  const forged = { ...good, signature: vote(others[0]!, 1, 0, 'prevote', W).signature };
  t.same(codes(core.onVote(forged)), ['BAD_SIGNATURE']);
  const stranger = makeSet([1, 1, 1, 1, 1]).keys[4]!;
  t.same(codes(core.onVote(vote(stranger, 1, 0, 'prevote', V))), ['UNKNOWN_VALIDATOR']);
  t.same(codes(core.onVote(vote(others[0]!, 1, 0, 'prevote', V, 'other-chain'))), ['WRONG_CHAIN']);
  const ahead = codes(core.onVote(vote(others[0]!, 2, 0, 'prevote', V)));
  t.same(ahead, ['WRONG_HEIGHT']);
  t.same(codes(core.onProposal(proposal(others.find((k) => k !== proposerOf(0))!, 1, 0, V))), ['WRONG_PROPOSER']);
  const p = proposal(proposerOf(0), 1, 0, V);
  t.same(codes(core.onProposal({ ...p, value: W })), ['BAD_SIGNATURE'], 'the signature covers the value');
  t.same(codes(core.onVote(good)), []);
  t.same(codes(core.onVote(good)), ['DUPLICATE']);
  core.onProposal(p);
  t.same(codes(core.onProposal(p)), ['DUPLICATE']);
  t.same(codes(core.onProposal(proposal(proposerOf(0), 1, 0, W))), ['CONFLICTING_PROPOSAL']);
  t.end();
});

t.test('equivocation: two different prevotes → evidence, the first is kept', (t) => {
  const { core } = node();
  const a = vote(others[0]!, 1, 0, 'prevote', V);
  const b = vote(others[0]!, 1, 0, 'prevote', null);
  core.onVote(a);
  const fx = core.onVote(b);
  const [e] = ofType(fx, 'evidence');
  t.ok(e);
  t.same(e!.voteA, a);
  t.same(e!.voteB, b);
  // The kept vote is a: with me (V) and one more V prevote, V has 3 of 4.
  core.onProposal(proposal(proposerOf(0), 1, 0, V));
  const more = core.onVote(vote(others[1]!, 1, 0, 'prevote', V));
  t.same(votedFor(more), [`precommit:${idOf(V)}`]);
  t.end();
});

t.test('the guard is consulted before every signature', (t) => {
  const asked: string[] = [];
  const refuseAll: LastSignedGuard = { mayAndRecordSign: (kind, h, r) => (asked.push(`${kind}/${h}/${r}`), false) };
  const { core } = node(refuseAll);
  const fx = core.onProposal(proposal(proposerOf(0), 1, 0, V));
  t.same(votesOut(fx), []);
  t.same(asked, ['prevote/1/0']);
  t.equal(core.step, 'prevote', 'the step still advances: the node just stays silent');
  t.end();
});

t.test('a non-validator observer follows and decides without signing', (t) => {
  const observer = new ConsensusCore({ chainId: CHAIN_ID, validators: set, app: testApp(), guard: new MemoryLastSignedGuard() });
  observer.start(1);
  let fx = observer.onProposal(proposal(proposerOf(0), 1, 0, V));
  for (const k of keys.slice(0, 3)) fx = fx.concat(observer.onVote(vote(k, 1, 0, 'precommit', V)));
  t.same(votesOut(fx), []);
  t.equal(ofType(fx, 'decide').length, 1);
  t.end();
});

t.test('an equivocator counts under each value it signed (a peer can still confirm the polka)', (t) => {
  const { core } = node();
  const byz = others[0]!;
  core.onVote(vote(byz, 1, 0, 'prevote', null)); // this node sees the nil twin first
  core.onProposal(proposal(proposerOf(0), 1, 0, V)); // me: prevote V
  let fx = core.onVote(vote(others[1]!, 1, 0, 'prevote', V));
  t.same(votedFor(fx), [], 'V has me + one: 2 of 4');
  fx = core.onVote(vote(byz, 1, 0, 'prevote', V));
  t.equal(ofType(fx, 'evidence').length, 1);
  t.same(votedFor(fx), [`precommit:${idOf(V)}`], 'the equivocator’s V prevote completes the polka');
  t.end();
});
