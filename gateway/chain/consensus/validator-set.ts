// The validator set of a height: voting power, quorum arithmetic, stake-weighted proposer rotation, set hash.
//
// Proposer selection is CometBFT's priority algorithm (identical to smooth weighted round robin):
// every step adds each validator's power to its priority, picks the highest priority (ties go to
// the lower hash160 of the address) and subtracts the total power from the winner. Started from
// all-zero priorities, after T = total / gcd(powers) steps every validator has been picked exactly
// power/gcd times and all priorities are zero again, so the sequence is periodic with period T.
// `proposer(height, round)` is therefore a *pure function of the set and (height, round)*: step
// index (height - 1 + round) mod T of that sequence. Unlike CometBFT no priority state is carried
// between heights, which makes restarts and light clients trivial; the price is that a height
// that needed many rounds does not shift later heights' proposers.
import { decodeAddress, p2pkhAddress } from '../../../protocol/address.js';
import { taggedHash } from '../../../protocol/hash.js';
import { assertPublicKey } from '../../../protocol/signature.js';
import { ByteReader, ByteWriter, compareBytes, expectVersion } from '../../../protocol/wire.js';
import { ConsensusError } from './errors.js';

export interface Validator {
  /** P2PKH address of `publicKey`. */
  address: string;
  publicKey: Uint8Array;
  /** Voting power: a positive safe integer. */
  power: number;
}

/** Total power stays below 2^50 so that 3·sum and priority arithmetic are exact in doubles. */
export const MAX_TOTAL_POWER = 2 ** 50;
export const MAX_VALIDATORS = 1024;
const SET_HASH_TAG = 'carchain/v1/validator-set';

function gcd(a: number, b: number): number {
  while (b !== 0) [a, b] = [b, a % b];
  return a;
}

export class ValidatorSet {
  /** Sorted by hash160 of the address: the canonical order for hashing and tie-breaks. */
  readonly validators: readonly Validator[];
  readonly totalPower: number;
  private readonly byAddress = new Map<string, Validator>();
  private readonly period: number;
  private readonly sequence: number[] = [];
  private readonly priorities: number[];

  constructor(members: readonly { publicKey: Uint8Array; power: number }[]) {
    if (members.length === 0 || members.length > MAX_VALIDATORS) {
      throw new ConsensusError('INVALID_VALIDATOR_SET', `a set has 1..${MAX_VALIDATORS} validators, got ${members.length}`);
    }
    const list: { v: Validator; key: Uint8Array }[] = [];
    let total = 0;
    let divisor = 0;
    for (const m of members) {
      assertPublicKey(m.publicKey);
      if (!Number.isSafeInteger(m.power) || m.power <= 0) {
        throw new ConsensusError('INVALID_VALIDATOR_SET', `power must be a positive integer, got ${m.power}`);
      }
      const address = p2pkhAddress(m.publicKey);
      if (this.byAddress.has(address)) throw new ConsensusError('INVALID_VALIDATOR_SET', `duplicate validator ${address}`);
      const v: Validator = { address, publicKey: Uint8Array.from(m.publicKey), power: m.power };
      this.byAddress.set(address, v);
      list.push({ v, key: decodeAddress(address) });
      total += m.power;
      divisor = gcd(m.power, divisor);
      if (total > MAX_TOTAL_POWER) throw new ConsensusError('INVALID_VALIDATOR_SET', `total power exceeds 2^50`);
    }
    list.sort((a, b) => compareBytes(a.key, b.key));
    this.validators = list.map((e) => e.v);
    this.totalPower = total;
    this.period = total / divisor;
    this.priorities = this.validators.map(() => 0);
  }

  get size(): number {
    return this.validators.length;
  }

  get(address: string): Validator | undefined {
    return this.byAddress.get(address);
  }

  has(address: string): boolean {
    return this.byAddress.has(address);
  }

  /** Strictly more than two thirds of the total power: 3·power > 2·total. */
  hasTwoThirds(power: number): boolean {
    return 3 * power > 2 * this.totalPower;
  }

  /** f + 1: strictly more than one third, so at least one honest validator is among them. */
  hasOneThird(power: number): boolean {
    return 3 * power > this.totalPower;
  }

  powerOf(addresses: Iterable<string>): number {
    let sum = 0;
    for (const a of addresses) sum += this.byAddress.get(a)?.power ?? 0;
    return sum;
  }

  /** The proposer of (height, round); see the module comment. */
  proposer(height: number, round: number): Validator {
    if (!Number.isSafeInteger(height) || height < 1 || !Number.isInteger(round) || round < 0) {
      throw new RangeError(`proposer(${height}, ${round})`);
    }
    const index = (((height - 1) % this.period) + (round % this.period)) % this.period;
    while (this.sequence.length <= index) this.sequence.push(this.step());
    return this.validators[this.sequence[index]!]!;
  }

  private step(): number {
    let best = 0;
    for (let i = 0; i < this.validators.length; i++) {
      this.priorities[i]! += this.validators[i]!.power;
      // Strictly greater: on a tie the earlier (lower hash160) validator keeps the pick.
      if (this.priorities[i]! > this.priorities[best]!) best = i;
    }
    this.priorities[best]! -= this.totalPower;
    return best;
  }

  /** taggedHash('carchain/v1/validator-set', version ‖ count ‖ (pubkey[33] ‖ power u64)*), canonical order. */
  setHash(): Uint8Array {
    return taggedHash(SET_HASH_TAG, encodeValidatorSet(this));
  }
}

/** version ‖ count varint ‖ (pubkey[33] ‖ power u64)* in canonical order: the bytes setHash() hashes. */
export function encodeValidatorSet(set: ValidatorSet): Uint8Array {
  const w = new ByteWriter().u8(1).varint(set.validators.length);
  for (const v of set.validators) w.fixed(v.publicKey, 33).u64(v.power);
  return w.finish();
}

export function decodeValidatorSet(bytes: Uint8Array): ValidatorSet {
  try {
    const r = new ByteReader(bytes, 'validator set');
    expectVersion(r, 1, 'validator set');
    const count = r.count(MAX_VALIDATORS, 'validators');
    const members: { publicKey: Uint8Array; power: number }[] = [];
    for (let i = 0; i < count; i++) members.push({ publicKey: r.take(33).slice(), power: r.u64Number('power') });
    r.end();
    return new ValidatorSet(members);
  } catch (err) {
    if (err instanceof ConsensusError) throw err;
    throw new ConsensusError('DECODE_FAILED', `validator set: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
}
