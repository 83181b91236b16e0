// Commit verification: does a set of precommits prove that `value` was decided at `height`?
import { ConsensusError } from './errors.js';
import { type Commit, isVoteSignatureValid, valueIdOf, type ValueIdFn, valueKey } from './messages.js';
import type { ValidatorSet } from './validator-set.js';

/** Throws INVALID_COMMIT unless > 2/3 of the power signed a precommit for `value` in `commit.round`. */
export function verifyCommit(
  validators: ValidatorSet, chainId: string, height: number, value: Uint8Array, commit: Commit, idOf: ValueIdFn = valueIdOf,
): void {
  verifyCommitForId(validators, chainId, height, idOf(value), commit);
}

/** The same check for a value known only by its id (a light client holding a block header). */
export function verifyCommitForId(validators: ValidatorSet, chainId: string, height: number, valueId: Uint8Array, commit: Commit): void {
  const bad = (why: string): never => {
    throw new ConsensusError('INVALID_COMMIT', `commit for height ${height}: ${why}`);
  };
  if (commit.height !== height) bad(`is for height ${commit.height}`);
  const id = valueKey(valueId);
  if (valueKey(commit.valueId) !== id) bad('value id does not match the value');
  const seen = new Set<string>();
  for (const v of commit.precommits) {
    if (v.type !== 'precommit' || v.chainId !== chainId || v.height !== height || v.round !== commit.round) {
      bad('a vote is not a precommit of this chain, height and round');
    }
    if (valueKey(v.valueId) !== id) bad('a precommit is for another value');
    const validator = validators.get(v.validator);
    if (validator === undefined) bad(`unknown validator ${v.validator}`);
    if (seen.has(v.validator)) bad(`two precommits from ${v.validator}`);
    seen.add(v.validator);
    if (!isVoteSignatureValid(v, validator!.publicKey)) bad(`bad signature from ${v.validator}`);
  }
  if (!validators.hasTwoThirds(validators.powerOf(seen))) bad('precommits carry ≤ 2/3 of the power');
}
