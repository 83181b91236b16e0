// Per-round vote bookkeeping of one height: power per value, the first vote per validator, equivocations.
//
// A validator that signs two different votes for one (round, type) is counted once towards "any"
// (> 2/3 of all votes, for the timeout rules) but under *each* value it signed, up to a small
// bound. That is what the algorithm's quorums mean (2f+1 distinct signers of ⟨PREVOTE, r, id(v)⟩;
// the safety proof lets faulty signers appear in both of two intersecting quorums) and it is
// needed for liveness: a correct node that saw an equivocator's nil vote first must still be able
// to confirm the polka for v that a locked peer saw (CometBFT gets the same effect from
// "peer claims +2/3" tracking of conflicting votes).
import { type Vote, type VoteType, valueKey } from './messages.js';
import type { ValidatorSet } from './validator-set.js';

/** Distinct values counted per validator and (round, type); further ones yield evidence only. */
export const MAX_VALUES_PER_VALIDATOR = 3;

export type AddVoteResult =
  | { kind: 'added' }
  | { kind: 'duplicate' }
  /** A different vote from the same validator for the same (round, type): evidence. */
  | { kind: 'conflict'; first: Vote; counted: boolean };

class TypedVotes {
  readonly first = new Map<string, Vote>();
  readonly byValue = new Map<string, Map<string, Vote>>();
  readonly valuesPerValidator = new Map<string, number>();
  readonly powerByValue = new Map<string, number>();
  anyPower = 0;
}

export class RoundVotes {
  private readonly typed: Record<VoteType, TypedVotes> = { prevote: new TypedVotes(), precommit: new TypedVotes() };

  constructor(private readonly validators: ValidatorSet) {}

  /** The stored vote of this validator for exactly this value, if any. */
  stored(vote: Vote): Vote | undefined {
    return this.typed[vote.type].byValue.get(valueKey(vote.valueId))?.get(vote.validator);
  }

  /** The caller has verified the signature and membership. */
  add(vote: Vote): AddVoteResult {
    const t = this.typed[vote.type];
    const key = valueKey(vote.valueId);
    let perValue = t.byValue.get(key);
    if (perValue?.has(vote.validator) === true) return { kind: 'duplicate' };
    const power = this.validators.get(vote.validator)?.power ?? 0;
    const first = t.first.get(vote.validator);
    const values = t.valuesPerValidator.get(vote.validator) ?? 0;
    if (first !== undefined && values >= MAX_VALUES_PER_VALIDATOR) return { kind: 'conflict', first, counted: false };
    if (first === undefined) {
      t.first.set(vote.validator, vote);
      t.anyPower += power;
    }
    t.valuesPerValidator.set(vote.validator, values + 1);
    if (perValue === undefined) {
      perValue = new Map();
      t.byValue.set(key, perValue);
    }
    perValue.set(vote.validator, vote);
    t.powerByValue.set(key, (t.powerByValue.get(key) ?? 0) + power);
    return first === undefined ? { kind: 'added' } : { kind: 'conflict', first, counted: true };
  }

  /** > 2/3 of the power voted `type` for exactly this value id (null = nil). */
  hasTwoThirdsFor(type: VoteType, valueId: Uint8Array | null): boolean {
    return this.validators.hasTwoThirds(this.typed[type].powerByValue.get(valueKey(valueId)) ?? 0);
  }

  /** > 2/3 of the power voted `type` for anything (values and nil mixed), each validator once. */
  hasTwoThirdsAny(type: VoteType): boolean {
    return this.validators.hasTwoThirds(this.typed[type].anyPower);
  }

  votesFor(type: VoteType, valueId: Uint8Array | null): Vote[] {
    return [...(this.typed[type].byValue.get(valueKey(valueId))?.values() ?? [])];
  }

  /** Every stored vote, equivocations included (for relaying). */
  all(): Vote[] {
    const out: Vote[] = [];
    for (const t of Object.values(this.typed)) for (const m of t.byValue.values()) out.push(...m.values());
    return out;
  }

  /** Validators that sent any vote in this round (for the f+1 round-skip rule). */
  senders(): Set<string> {
    return new Set([...this.typed.prevote.first.keys(), ...this.typed.precommit.first.keys()]);
  }
}
