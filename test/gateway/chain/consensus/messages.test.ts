// Tests for proposal/vote/commit bytes: round trips, fixed layout, kind separation, bounded decoding.
import t from 'tap';
import fc from 'fast-check';
import { verifyCommit } from '../../../../gateway/chain/consensus/commit.js';
import { ConsensusError } from '../../../../gateway/chain/consensus/errors.js';
import {
  decodeCommit, decodeProposal, decodeVote, encodeCommit, encodeProposal, encodeVote, isProposalSignatureValid,
  isVoteSignatureValid, proposalSignBytes, voteSignBytes,
} from '../../../../gateway/chain/consensus/messages.js';
import { utf8 } from '../../../../protocol/wire.js';
import { CHAIN_ID, makeSet, proposal, vote } from './fixtures.js';

const { set, keys } = makeSet([1, 1, 1, 1]);
const k0 = keys[0]!;
const V = utf8('ok V');

const codeOf = (f: () => unknown): string | undefined => {
  try {
    f();
  } catch (err) {
    return err instanceof ConsensusError ? err.code : `other: ${String(err)}`;
  }
  return undefined;
};

t.test('vote layout and round trip', (t) => {
  const v = vote(k0, 7, 2, 'precommit', V);
  const bytes = encodeVote(v);
  // version, kind, chainId (varint len + 13), height u64, round u32, flag, id 32, address 20, sig 64
  t.equal(bytes.length, 1 + 1 + 1 + CHAIN_ID.length + 8 + 4 + 1 + 32 + 20 + 64);
  t.equal(bytes[0], 1);
  t.equal(bytes[1], 0x02);
  t.same(decodeVote(bytes), v);
  const nil = vote(k0, 7, 2, 'prevote', null);
  t.same(decodeVote(encodeVote(nil)), nil);
  t.ok(isVoteSignatureValid(nil, k0.publicKey));
  t.notOk(isVoteSignatureValid({ ...nil, round: 3 }, k0.publicKey), 'the round is signed');
  t.notOk(isVoteSignatureValid({ ...nil, type: 'precommit' }, k0.publicKey), 'the type is signed');
  t.notOk(isVoteSignatureValid({ ...nil, chainId: 'x' }, k0.publicKey), 'the chain id is signed');
  t.end();
});

t.test('proposal layout, round trip, and separation from votes', (t) => {
  const p = proposal(k0, 5, 3, V, 1);
  t.same(decodeProposal(encodeProposal(p)), p);
  t.ok(isProposalSignatureValid(p, k0.publicKey));
  t.notOk(isProposalSignatureValid({ ...p, validRound: -1 }, k0.publicKey), 'validRound is signed');
  const sb = proposalSignBytes(p);
  t.equal(sb[1], 0x20);
  t.equal(codeOf(() => decodeVote(encodeProposal(p))), 'DECODE_FAILED', 'a proposal is never read as a vote');
  t.equal(codeOf(() => decodeProposal(encodeVote(vote(k0, 5, 3, 'prevote', V)))), 'DECODE_FAILED');
  t.notSame(voteSignBytes({ chainId: CHAIN_ID, height: 5, round: 3, type: 'prevote', valueId: null }).subarray(0, 2), sb.subarray(0, 2));
  const none = proposal(k0, 5, 0, V);
  t.same(decodeProposal(encodeProposal(none)).validRound, -1);
  t.end();
});

t.test('decoding refuses malformed input with DECODE_FAILED', (t) => {
  const bytes = encodeVote(vote(k0, 1, 0, 'prevote', V));
  t.equal(codeOf(() => decodeVote(bytes.subarray(0, bytes.length - 1))), 'DECODE_FAILED');
  t.equal(codeOf(() => decodeVote(Uint8Array.from([...bytes, 0]))), 'DECODE_FAILED');
  const badVersion = Uint8Array.from(bytes);
  badVersion[0] = 2;
  t.equal(codeOf(() => decodeVote(badVersion)), 'DECODE_FAILED');
  const p = encodeProposal(proposal(k0, 1, 1, V, 0));
  const tampered = Uint8Array.from(p);
  // validRound sits after version, kind, chainId, height, round: set it ≥ round.
  tampered[2 + 1 + CHAIN_ID.length + 8 + 4 + 3] = 5;
  t.equal(codeOf(() => decodeProposal(tampered)), 'DECODE_FAILED');
  fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), (junk) => {
    for (const f of [decodeVote, decodeProposal, decodeCommit]) {
      const c = codeOf(() => f(junk));
      if (c !== undefined && c !== 'DECODE_FAILED') return false;
    }
    return true;
  }));
  t.end();
});

t.test('commit round trip and verification', (t) => {
  const precommits = keys.slice(0, 3).map((k) => vote(k, 4, 1, 'precommit', V));
  const commit = { height: 4, round: 1, valueId: precommits[0]!.valueId!, precommits };
  t.same(decodeCommit(encodeCommit(commit)), commit);
  t.doesNotThrow(() => verifyCommit(set, CHAIN_ID, 4, V, commit));
  t.equal(codeOf(() => verifyCommit(set, CHAIN_ID, 4, V, { ...commit, precommits: precommits.slice(0, 2) })), 'INVALID_COMMIT', '2 of 4 is not > 2/3');
  t.equal(codeOf(() => verifyCommit(set, CHAIN_ID, 4, V, { ...commit, precommits: [...precommits.slice(0, 2), precommits[0]!] })), 'INVALID_COMMIT', 'no double counting');
  t.equal(codeOf(() => verifyCommit(set, CHAIN_ID, 4, utf8('ok W'), commit)), 'INVALID_COMMIT');
  t.equal(codeOf(() => verifyCommit(set, 'other', 4, V, commit)), 'INVALID_COMMIT');
  const forged = { ...commit, precommits: [...precommits.slice(0, 2), { ...precommits[2]!, signature: precommits[0]!.signature }] };
  t.equal(codeOf(() => verifyCommit(set, CHAIN_ID, 4, V, forged)), 'INVALID_COMMIT');
  t.end();
});
