// The Tendermint consensus core (arXiv 1807.04938, Algorithm 1) as a pure, synchronous state machine.
//
// Inputs are events (start, proposal, vote, timeout, commit); outputs are effects the caller
// carries out (broadcast, schedule a timeout, deliver a decision, report evidence). No I/O, no
// clock, no randomness: the same inputs in the same order give the same effects. The one outside
// call is the LastSignedGuard, consulted before every signature. Own messages are processed
// internally as if received, which is the paper's "broadcast to all, including yourself".
// Line numbers in comments ("L22") refer to Algorithm 1 of the paper; docs/consensus.md maps them.
import { p2pkhAddress } from '../../../protocol/address.js';
import { publicKeyFromPrivate } from '../../../protocol/signature.js';
import { equalBytes } from '../../../protocol/wire.js';
import { verifyCommit } from './commit.js';
import { ConsensusError } from './errors.js';
import {
  type Commit, isProposalSignatureValid, isVoteSignatureValid, type Proposal, type SignedKind, signProposal,
  signVote, valueIdOf, type ValueIdFn, valueKey, type Vote, type VoteType,
} from './messages.js';
import { RoundVotes } from './round-votes.js';
import type { LastSignedGuard } from './sign-guard.js';
import { DEFAULT_TIMEOUTS, type TimeoutConfig, timeoutDuration, type TimeoutKind } from './timeouts.js';
import type { ValidatorSet } from './validator-set.js';

export type Step = 'propose' | 'prevote' | 'precommit';

export interface ConsensusApp {
  /** Deterministic validity of a proposed value (block bytes). */
  isValid(value: Uint8Array): boolean;
  /** The value to propose at `height` when this node is proposer and holds no valid value. */
  getValue(height: number): Uint8Array;
}

export type Effect =
  | { type: 'broadcastProposal'; proposal: Proposal }
  | { type: 'broadcastVote'; vote: Vote }
  | { type: 'scheduleTimeout'; kind: TimeoutKind; height: number; round: number; durationMs: number }
  | { type: 'decide'; height: number; value: Uint8Array; commit: Commit }
  | { type: 'evidence'; voteA: Vote; voteB: Vote }
  | { type: 'rejected'; error: ConsensusError };

export interface CoreOptions {
  chainId: string;
  /** The set deciding the first height; `start(height, validators)` replaces it when the set changes. */
  validators: ValidatorSet;
  /** How a value's id is computed (default sha256 of the value); votes and commits sign ids. */
  valueId?: ValueIdFn;
  /** The validator key; absent for a non-voting observer. */
  privateKey?: Uint8Array;
  app: ConsensusApp;
  guard: LastSignedGuard;
  timeouts?: TimeoutConfig;
  /** Votes further than this many rounds ahead are refused (ROUND_TOO_FAR) to bound memory. */
  maxRoundsAhead?: number;
  /** TEST ONLY: make this validator misbehave. Never set in production code. */
  misbehaviour?: { equivocatePrevotes?: boolean };
}

interface ProposalEntry {
  proposal: Proposal;
  valueId: Uint8Array;
}

export class ConsensusCore {
  readonly address: string | undefined;
  private readonly timeouts: TimeoutConfig;
  private readonly maxRoundsAhead: number;
  private readonly idOf: ValueIdFn;
  private currentValidators: ValidatorSet;

  height = 0;
  round = 0;
  step: Step = 'propose';
  lockedValue: Uint8Array | null = null;
  lockedRound = -1;
  validValue: Uint8Array | null = null;
  validRound = -1;
  decision: Uint8Array | null = null;

  private proposals = new Map<number, ProposalEntry>();
  private rounds = new Map<number, RoundVotes>();
  private validity = new Map<string, boolean>();
  private lockRuleDone = new Set<number>(); // L36 "for the first time", per round
  private prevoteTimeoutDone = new Set<number>(); // L34
  private precommitTimeoutDone = new Set<number>(); // L47
  private own: (Proposal | Vote)[] = [];
  private out: Effect[] = [];

  constructor(private readonly options: CoreOptions) {
    this.timeouts = options.timeouts ?? DEFAULT_TIMEOUTS;
    this.maxRoundsAhead = options.maxRoundsAhead ?? 10_000;
    this.idOf = options.valueId ?? valueIdOf;
    this.currentValidators = options.validators;
    if (options.privateKey !== undefined) this.address = p2pkhAddress(publicKeyFromPrivate(options.privateKey));
  }

  get chainId(): string {
    return this.options.chainId;
  }

  /** The validator set deciding the current height. */
  get validators(): ValidatorSet {
    return this.currentValidators;
  }

  /** Messages this node signed at the current height, oldest first (for re-gossip). */
  ownMessages(): (Proposal | Vote)[] {
    return [...this.own];
  }

  /**
   * What a gossip layer should keep re-sending at this height: own messages, plus the proposal
   * and every vote (equivocations included) of the current round and of the valid and locked
   * rounds, so that peers can confirm the polka this node acts on (the paper's assumption that
   * what one correct process receives, all eventually receive).
   */
  gossipMessages(): (Proposal | Vote)[] {
    const out = new Set<Proposal | Vote>(this.own);
    for (const round of new Set([this.round, this.validRound, this.lockedRound])) {
      if (round < 0) continue;
      const p = this.proposals.get(round);
      if (p !== undefined) out.add(p.proposal);
      for (const v of this.rounds.get(round)?.all() ?? []) out.add(v);
    }
    return [...out];
  }

  /** L10: begin deciding `height` in round 0 with fresh lock and valid value (and, if given, a new validator set). */
  start(height: number, validators?: ValidatorSet): Effect[] {
    if (!Number.isSafeInteger(height) || height < 1) throw new RangeError(`height must be ≥ 1, got ${height}`);
    if (validators !== undefined) this.currentValidators = validators;
    this.height = height;
    this.lockedValue = this.validValue = this.decision = null;
    this.lockedRound = this.validRound = -1;
    this.proposals = new Map();
    this.rounds = new Map();
    this.validity = new Map();
    this.lockRuleDone = new Set();
    this.prevoteTimeoutDone = new Set();
    this.precommitTimeoutDone = new Set();
    this.own = [];
    return this.run(() => {
      this.startRound(0);
      this.progress();
    });
  }

  onProposal(p: Proposal): Effect[] {
    return this.run(() => {
      if (!this.admit(p.chainId, p.height, p.round)) return;
      const proposer = this.validators.proposer(p.height, p.round);
      if (p.proposer !== proposer.address) return this.reject('WRONG_PROPOSER', `${p.proposer} is not the proposer of round ${p.round}`);
      const existing = this.proposals.get(p.round);
      if (existing !== undefined && equalBytes(existing.proposal.signature, p.signature) && equalBytes(existing.proposal.value, p.value)) {
        return this.reject('DUPLICATE', `proposal of round ${p.round} already seen`);
      }
      if (!isProposalSignatureValid(p, proposer.publicKey, this.idOf)) return this.reject('BAD_SIGNATURE', `proposal of round ${p.round}`);
      if (existing !== undefined) return this.reject('CONFLICTING_PROPOSAL', `a different proposal of round ${p.round} was seen first`);
      this.proposals.set(p.round, { proposal: p, valueId: this.idOf(p.value) });
      this.progress();
    });
  }

  onVote(v: Vote): Effect[] {
    return this.run(() => {
      if (!this.admit(v.chainId, v.height, v.round)) return;
      const validator = this.validators.get(v.validator);
      if (validator === undefined) return this.reject('UNKNOWN_VALIDATOR', v.validator);
      const votes = this.votes(v.round);
      const stored = votes.stored(v);
      // Checked before the (costly) signature check: gossip delivers most votes several times.
      if (stored !== undefined && equalBytes(stored.signature, v.signature)) {
        return this.reject('DUPLICATE', `${v.type} of ${v.validator} in round ${v.round}`);
      }
      if (!isVoteSignatureValid(v, validator.publicKey)) return this.reject('BAD_SIGNATURE', `${v.type} of ${v.validator}`);
      const added = votes.add(v);
      if (added.kind === 'duplicate') return this.reject('DUPLICATE', `${v.type} of ${v.validator} (re-signed)`);
      if (added.kind === 'conflict') {
        this.out.push({ type: 'evidence', voteA: added.first, voteB: v });
        if (!added.counted) return this.reject('EQUIVOCATION', `${v.validator} signed too many ${v.type}s in round ${v.round}`);
      }
      this.progress();
    });
  }

  /** L57–L67. Stale timeouts (other height/round/step) do nothing. */
  onTimeout(kind: TimeoutKind, height: number, round: number): Effect[] {
    return this.run(() => {
      if (height !== this.height || round !== this.round || this.decision !== null) return;
      if (kind === 'propose' && this.step === 'propose') {
        this.castVote('prevote', null); // L59
        this.step = 'prevote';
      } else if (kind === 'prevote' && this.step === 'prevote') {
        this.castVote('precommit', null); // L63
        this.step = 'precommit';
      } else if (kind === 'precommit') {
        this.startRound(round + 1); // L67
      } else {
        return;
      }
      this.progress();
    });
  }

  /** Catch-up: a verified commit decides the height even if this node missed the round. */
  onCommit(value: Uint8Array, commit: Commit): Effect[] {
    return this.run(() => {
      if (this.decision !== null || commit.height !== this.height) return;
      try {
        verifyCommit(this.validators, this.chainId, this.height, value, commit, this.idOf);
      } catch (err) {
        if (err instanceof ConsensusError) return void this.out.push({ type: 'rejected', error: err });
        throw err;
      }
      if (!this.isValid(value)) return this.reject('INVALID_VALUE', `committed value at height ${this.height}`);
      this.decide(value, commit);
    });
  }

  private run(body: () => void): Effect[] {
    this.out = [];
    body();
    const effects = this.out;
    this.out = [];
    return effects;
  }

  private reject(code: ConsensusError['code'], message: string, temporary = false): void {
    this.out.push({ type: 'rejected', error: new ConsensusError(code, message, { temporary }) });
  }

  private admit(chainId: string, height: number, round: number): boolean {
    if (chainId !== this.chainId) return void this.reject('WRONG_CHAIN', `chain ${JSON.stringify(chainId)}`), false;
    if (height !== this.height) {
      return void this.reject('WRONG_HEIGHT', `height ${height}, deciding ${this.height}`, height > this.height), false;
    }
    if (this.decision !== null) return false; // decided: nothing can change any more
    if (round > this.round + this.maxRoundsAhead) return void this.reject('ROUND_TOO_FAR', `round ${round}`, true), false;
    return true;
  }

  private votes(round: number): RoundVotes {
    let v = this.rounds.get(round);
    if (v === undefined) {
      v = new RoundVotes(this.validators);
      this.rounds.set(round, v);
    }
    return v;
  }

  private isValid(value: Uint8Array): boolean {
    const key = valueKey(this.idOf(value));
    let ok = this.validity.get(key);
    if (ok === undefined) {
      ok = this.options.app.isValid(value);
      this.validity.set(key, ok);
    }
    return ok;
  }

  private isOwnValidator(): boolean {
    return this.address !== undefined && this.validators.has(this.address);
  }

  private mayWitness(kind: SignedKind, valueId: Uint8Array | null): boolean {
    return this.isOwnValidator() && this.options.guard.mayAndRecordSign(kind, this.height, this.round, valueId);
  }

  /** L11–L21. */
  private startRound(round: number): void {
    this.round = round;
    this.step = 'propose';
    const h = this.height;
    // Scheduled even when proposing: if the guard refuses our proposal we must not stall (CometBFT does the same).
    this.schedule('propose', round);
    if (!this.isOwnValidator() || this.validators.proposer(h, round).address !== this.address) return;
    const value = this.validValue ?? this.options.app.getValue(h); // L14–L15
    const unsigned = { chainId: this.chainId, height: h, round, validRound: this.validRound, value, proposer: this.address };
    if (!this.mayWitness('proposal', this.idOf(value))) return;
    const proposal = signProposal(unsigned, this.options.privateKey!, this.idOf);
    this.out.push({ type: 'broadcastProposal', proposal }); // L16
    this.own.push(proposal);
    this.proposals.set(round, { proposal, valueId: this.idOf(value) });
  }

  private schedule(kind: TimeoutKind, round: number): void {
    const durationMs = timeoutDuration(this.timeouts, kind, round);
    this.out.push({ type: 'scheduleTimeout', kind, height: this.height, round, durationMs });
  }

  private castVote(type: VoteType, valueId: Uint8Array | null): void {
    if (!this.mayWitness(type, valueId)) return;
    const vote = signVote({ chainId: this.chainId, height: this.height, round: this.round, type, valueId, validator: this.address! }, this.options.privateKey!);
    this.out.push({ type: 'broadcastVote', vote });
    this.own.push(vote);
    this.votes(this.round).add(vote);
    if (type === 'prevote' && this.options.misbehaviour?.equivocatePrevotes === true) {
      // Byzantine test double: a second, conflicting prevote that bypasses the guard.
      const other = valueId === null ? this.idOf(Uint8Array.of(0xee, this.round & 0xff)) : null;
      const twin = signVote({ ...vote, valueId: other }, this.options.privateKey!);
      this.out.push({ type: 'broadcastVote', vote: twin });
    }
  }

  private decide(value: Uint8Array, commit: Commit): void {
    this.decision = value;
    this.out.push({ type: 'decide', height: this.height, value, commit });
  }

  /** Applies every enabled upon-rule until none fires. */
  private progress(): void {
    while (this.decision === null) {
      if (this.tryDecide()) return;
      if (this.trySkipRound()) continue;
      if (this.step === 'propose' && this.tryPrevote()) continue;
      if (this.tryLock()) continue;
      if (this.step === 'prevote' && this.votes(this.round).hasTwoThirdsFor('prevote', null)) {
        this.castVote('precommit', null); // L44–L46
        this.step = 'precommit';
        continue;
      }
      const current = this.votes(this.round);
      if (this.step === 'prevote' && !this.prevoteTimeoutDone.has(this.round) && current.hasTwoThirdsAny('prevote')) {
        this.prevoteTimeoutDone.add(this.round); // L34–L35
        this.schedule('prevote', this.round);
      }
      if (!this.precommitTimeoutDone.has(this.round) && current.hasTwoThirdsAny('precommit')) {
        this.precommitTimeoutDone.add(this.round); // L47–L48
        this.schedule('precommit', this.round);
      }
      return;
    }
  }

  /** L49–L54, in any round. */
  private tryDecide(): boolean {
    for (const [round, entry] of this.proposals) {
      const votes = this.rounds.get(round);
      if (votes === undefined || !votes.hasTwoThirdsFor('precommit', entry.valueId)) continue;
      if (!this.isValid(entry.proposal.value)) continue; // L50
      const commit: Commit = { height: this.height, round, valueId: entry.valueId, precommits: votes.votesFor('precommit', entry.valueId) };
      this.decide(entry.proposal.value, commit);
      return true;
    }
    return false;
  }

  /** L55–L56: f+1 power sent messages of a higher round → jump to the highest such round. */
  private trySkipRound(): boolean {
    let target = -1;
    for (const [round, votes] of this.rounds) {
      if (round <= this.round || round <= target) continue;
      const senders = votes.senders();
      const p = this.proposals.get(round);
      if (p !== undefined) senders.add(p.proposal.proposer);
      if (this.validators.hasOneThird(this.validators.powerOf(senders))) target = round;
    }
    if (target < 0) return false;
    this.startRound(target);
    return true;
  }

  /** L22–L33: prevote on the proposal of the current round. */
  private tryPrevote(): boolean {
    const entry = this.proposals.get(this.round);
    if (entry === undefined) return false;
    const { value, validRound } = entry.proposal;
    const locked = this.lockedValue !== null && equalBytes(this.lockedValue, value);
    let acceptable: boolean;
    if (validRound === -1) {
      acceptable = this.lockedRound === -1 || locked; // L23
    } else {
      // L28: needs > 2/3 prevotes for v in validRound; until then wait (or time out).
      if (!this.votes(validRound).hasTwoThirdsFor('prevote', entry.valueId)) return false;
      acceptable = this.lockedRound <= validRound || locked; // L29
    }
    this.castVote('prevote', acceptable && this.isValid(value) ? entry.valueId : null);
    this.step = 'prevote';
    return true;
  }

  /** L36–L43: proposal + > 2/3 prevotes for it in the current round, once per round. */
  private tryLock(): boolean {
    if (this.step === 'propose' || this.lockRuleDone.has(this.round)) return false;
    const entry = this.proposals.get(this.round);
    if (entry === undefined || !this.votes(this.round).hasTwoThirdsFor('prevote', entry.valueId)) return false;
    if (!this.isValid(entry.proposal.value)) return false;
    this.lockRuleDone.add(this.round);
    if (this.step === 'prevote') {
      this.lockedValue = entry.proposal.value;
      this.lockedRound = this.round;
      this.castVote('precommit', entry.valueId);
      this.step = 'precommit';
    }
    this.validValue = entry.proposal.value;
    this.validRound = this.round;
    return true;
  }
}
