// Handlers of the validator-set transactions: Stake, Unstake and Evidence (slashing), and the validator-set reads they share.
//
// Invariant: an account's bonded stake equals its validator power; a validator record exists iff
// bonded > 0. Changes become the set of height H + 1 (the state machine returns it).
import type { AmountBody, EvidenceBody } from '../../../protocol/chain/tx-bodies.js';
import { hash160 } from '../../../protocol/hash.js';
import { ConsensusError } from '../consensus/errors.js';
import { decodeVote, isVoteSignatureValid, type Vote } from '../consensus/messages.js';
import { MAX_TOTAL_POWER, MAX_VALIDATORS } from '../consensus/validator-set.js';
import { reject } from './errors.js';
import { keys, loadAccount, loadValidator, saveAccount, saveHeight, saveValidator, type AccountRecord, type ValidatorRecord } from './state-layout.js';
import type { StateReader } from './state.js';
import type { TxScope } from './tx-scope.js';

/** Evidence older than this many heights is refused (bounds the history a node must keep). */
export const EVIDENCE_MAX_AGE = 1000;

/**
 * Unstaked stake stays slashable for this many heights. A validator that unstakes at height u
 * voted at most up to u; evidence of those votes is accepted up to u + EVIDENCE_MAX_AGE, so one
 * more height means no evidence can arrive after its stake is free.
 */
export const UNBONDING_HEIGHTS = EVIDENCE_MAX_AGE + 1;

/** The account as stored (unbonding not yet released: see `atHeight`). */
export function readAccount(state: StateReader, hash: Uint8Array): AccountRecord {
  const raw = state.get(keys.account(hash));
  return raw === undefined ? { balance: 0, bonded: 0, unbonding: 0, unbondingUntil: 0 } : loadAccount(raw);
}

/** The account at `height`: unbonding stake that has matured is part of the balance. Release is lazy: nothing runs per block. */
export function atHeight(a: AccountRecord, height: number): AccountRecord {
  if (a.unbonding === 0 || height < a.unbondingUntil) return a;
  return { balance: a.balance + a.unbonding, bonded: a.bonded, unbonding: 0, unbondingUntil: 0 };
}

function writeAccount(s: TxScope, hash: Uint8Array, a: AccountRecord): void {
  if (a.balance === 0 && a.bonded === 0 && a.unbonding === 0) s.state.delete(keys.account(hash));
  else s.state.set(keys.account(hash), saveAccount(a));
}

/** The stored validator set in canonical order (hash160 of the key ascending). */
export function readValidators(state: StateReader): ValidatorRecord[] {
  const out: ValidatorRecord[] = [];
  for (const [, value] of state.scan(keys.validatorPrefix())) out.push(loadValidator(value));
  return out;
}

export function totalPower(validators: readonly ValidatorRecord[]): number {
  return validators.reduce((sum, v) => sum + v.power, 0);
}

export function applyStake(s: TxScope, b: AmountBody): void {
  const account = atHeight(readAccount(s.state, s.signerHash), s.ctx.height);
  if (account.balance < b.amount) reject('INSUFFICIENT_BALANCE', `balance ${account.balance} < stake ${b.amount}`);
  const isMember = s.state.get(keys.validator(s.signerHash)) !== undefined;
  if (!isMember && s.tally.validatorCount >= MAX_VALIDATORS) reject('TOO_MANY_VALIDATORS', `the set already has ${MAX_VALIDATORS} validators`);
  if (s.tally.totalPower + b.amount > MAX_TOTAL_POWER) reject('POWER_OVERFLOW', 'total power would exceed 2^50');
  const bonded = account.bonded + b.amount;
  writeAccount(s, s.signerHash, { ...account, balance: account.balance - b.amount, bonded });
  s.state.set(keys.validator(s.signerHash), saveValidator({ publicKey: s.tx.signer, power: bonded }));
  if (!isMember) s.tally.validatorCount++;
  s.tally.totalPower += b.amount;
}

/**
 * Unstake takes the power out of the next set at once, but the stake only unbonds: it stays
 * slashable for UNBONDING_HEIGHTS and then joins the balance (a later Unstake restarts the wait
 * for everything still unbonding). Two guards keep the chain alive: the set may not become empty,
 * and Unstake txs of one block may together remove less than 1/3 of the power the set had at the
 * start of the block (so > 2/3 of the old set's power is still in the new set).
 */
export function applyUnstake(s: TxScope, b: AmountBody): void {
  const account = atHeight(readAccount(s.state, s.signerHash), s.ctx.height);
  if (account.bonded < b.amount) reject('INSUFFICIENT_STAKE', `bonded ${account.bonded} < unstake ${b.amount}`);
  const bonded = account.bonded - b.amount;
  if (bonded === 0 && s.tally.validatorCount === 1) reject('WOULD_HALT', 'the last validator cannot leave the set');
  const removed = s.tally.unstakedPower + b.amount;
  if (3 * removed >= s.tally.startTotalPower) {
    reject('WOULD_HALT', `unstaking ${removed} of ${s.tally.startTotalPower} power in one block would remove ≥ 1/3`);
  }
  s.tally.unstakedPower = removed;
  s.tally.totalPower -= b.amount;
  writeAccount(s, s.signerHash, { balance: account.balance, bonded, unbonding: account.unbonding + b.amount, unbondingUntil: s.ctx.height + UNBONDING_HEIGHTS });
  if (bonded === 0) {
    s.state.delete(keys.validator(s.signerHash));
    s.tally.validatorCount--;
  } else {
    s.state.set(keys.validator(s.signerHash), saveValidator({ publicKey: s.tx.signer, power: bonded }));
  }
}

function decodeEvidenceVote(bytes: Uint8Array, which: string): Vote {
  try {
    return decodeVote(bytes);
  } catch (err) {
    if (err instanceof ConsensusError) reject('DECODE_FAILED', `evidence ${which}: ${err.message}`);
    throw err;
  }
}

/** Two votes prove equivocation iff same validator and (chain, height, round, type), different value ids, both signed. */
export function applyEvidence(s: TxScope, b: EvidenceBody): void {
  const a = decodeEvidenceVote(b.voteA, 'voteA');
  const c = decodeEvidenceVote(b.voteB, 'voteB');
  if (a.validator !== c.validator) reject('INVALID_EVIDENCE', 'the votes are from different validators');
  if (a.chainId !== c.chainId || a.height !== c.height || a.round !== c.round || a.type !== c.type) {
    reject('INVALID_EVIDENCE', 'the votes are for different (chain, height, round, type)');
  }
  const sameValue = a.valueId === null ? c.valueId === null : c.valueId !== null && Buffer.from(a.valueId).equals(c.valueId);
  if (sameValue) reject('INVALID_EVIDENCE', 'the votes are for the same value');
  if (a.chainId !== s.ctx.chainId) reject('INVALID_EVIDENCE', `votes of chain ${a.chainId}`);
  if (a.height > s.ctx.height) reject('INVALID_EVIDENCE', `votes for future height ${a.height}`);
  if (s.ctx.height - a.height > EVIDENCE_MAX_AGE) reject('STALE_EVIDENCE', `height ${a.height} is more than ${EVIDENCE_MAX_AGE} heights old`);
  const set = a.height === s.ctx.height ? s.ctx.validators : s.ctx.validatorsAt(a.height);
  if (set === undefined) reject('STALE_EVIDENCE', `no validator set known for height ${a.height}`);
  const validator = set.get(a.validator);
  if (validator === undefined) reject('INVALID_EVIDENCE', `${a.validator} was not a validator at height ${a.height}`);
  if (!isVoteSignatureValid(a, validator.publicKey) || !isVoteSignatureValid(c, validator.publicKey)) {
    reject('INVALID_EVIDENCE', 'a vote signature does not verify under the validator key of that height');
  }
  const offender = hash160(validator.publicKey);
  const marker = keys.slashed(offender, a.height);
  if (s.state.get(marker) !== undefined) reject('ALREADY_SLASHED', `${a.validator} was already slashed for height ${a.height}`);
  const member = s.state.get(keys.validator(offender));
  if (member !== undefined && s.tally.validatorCount === 1) reject('WOULD_HALT', 'slashing the only validator would leave an empty set');
  // Bonded and still-unbonding stake are burned alike: leaving the set does not escape the evidence.
  const account = atHeight(readAccount(s.state, offender), s.ctx.height);
  writeAccount(s, offender, { balance: account.balance, bonded: 0, unbonding: 0, unbondingUntil: 0 });
  if (member !== undefined) {
    s.state.delete(keys.validator(offender));
    s.tally.validatorCount--;
    s.tally.totalPower -= loadValidator(member).power;
  }
  s.state.set(marker, saveHeight(s.ctx.height));
}
