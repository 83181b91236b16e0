// Test fixtures for the consensus core: deterministic validator keys, sets, signed messages, effect filters.
import { sha256 } from '../../../../protocol/hash.js';
import { p2pkhAddress } from '../../../../protocol/address.js';
import { publicKeyFromPrivate } from '../../../../protocol/signature.js';
import { utf8 } from '../../../../protocol/wire.js';
import type { ConsensusApp, Effect } from '../../../../gateway/chain/consensus/core.js';
import { type Proposal, signProposal, signVote, valueIdOf, type Vote, type VoteType } from '../../../../gateway/chain/consensus/messages.js';
import { ValidatorSet } from '../../../../gateway/chain/consensus/validator-set.js';

export const CHAIN_ID = 'carchain-test';

export interface TestKey {
  privateKey: Uint8Array;
  publicKey: Uint8Array;
  address: string;
}

const keyCache = new Map<number, TestKey>();

export function testKey(i: number): TestKey {
  let k = keyCache.get(i);
  if (k === undefined) {
    const privateKey = sha256(utf8(`carchain-consensus-test-key-${i}`));
    const publicKey = publicKeyFromPrivate(privateKey);
    k = { privateKey, publicKey, address: p2pkhAddress(publicKey) };
    keyCache.set(i, k);
  }
  return k;
}

export function makeSet(powers: number[]): { set: ValidatorSet; keys: TestKey[] } {
  const keys = powers.map((_, i) => testKey(i));
  return { set: new ValidatorSet(keys.map((k, i) => ({ publicKey: k.publicKey, power: powers[i]! }))), keys };
}

export function keyOf(keys: TestKey[], address: string): TestKey {
  const k = keys.find((x) => x.address === address);
  if (k === undefined) throw new Error(`no key for ${address}`);
  return k;
}

export function vote(key: TestKey, height: number, round: number, type: VoteType, value: Uint8Array | null, chainId = CHAIN_ID): Vote {
  return signVote({ chainId, height, round, type, valueId: value === null ? null : valueIdOf(value), validator: key.address }, key.privateKey);
}

export function proposal(key: TestKey, height: number, round: number, value: Uint8Array, validRound = -1, chainId = CHAIN_ID): Proposal {
  return signProposal({ chainId, height, round, validRound, value, proposer: key.address }, key.privateKey);
}

/** Valid values start with 'ok'. */
export const testApp = (name = 'node'): ConsensusApp => ({
  isValid: (v) => v[0] === 0x6f && v[1] === 0x6b,
  getValue: (h) => utf8(`ok ${name} h${h}`),
});

export function ofType<T extends Effect['type']>(effects: Effect[], type: T): Extract<Effect, { type: T }>[] {
  return effects.filter((e): e is Extract<Effect, { type: T }> => e.type === type);
}

export function votesOut(effects: Effect[]): Vote[] {
  return ofType(effects, 'broadcastVote').map((e) => e.vote);
}
