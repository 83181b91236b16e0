// A validator's consensus replica across heights: the core plus its write-ahead log and a buffer
// for messages of the next heights. Every input the core takes is logged before its effects leave; `restore`
// replays the log of the unfinished height after a restart.
//
// The caller owns the decided blocks: on a `decide` effect it stores the block durably and then
// calls `start(height + 1)`. After a crash it passes the last stored height to `restore`.
import { type ConsensusApp, ConsensusCore, type CoreOptions, type Effect } from './core.js';
import type { Commit, Proposal, Vote } from './messages.js';
import type { TimeoutKind } from './timeouts.js';
import type { ValidatorSet } from './validator-set.js';
import type { ConsensusWal, WalEntry } from './wal.js';

export interface ReplicaOptions extends CoreOptions {
  app: ConsensusApp;
  wal: ConsensusWal;
  /** Messages buffered for later heights; the oldest are dropped beyond this. */
  maxBuffered?: number;
}

/** Effects that put something signed or decided out of this process: the log must be durable first (wal.ts). */
function leavesSigned(e: Effect): boolean {
  return e.type === 'broadcastVote' || e.type === 'broadcastProposal' || e.type === 'decide' || e.type === 'evidence';
}

type Buffered = { kind: 'proposal'; proposal: Proposal } | { kind: 'vote'; vote: Vote };

export class ConsensusReplica {
  readonly core: ConsensusCore;
  private readonly buffered: Buffered[] = [];
  private readonly maxBuffered: number;

  constructor(private readonly options: ReplicaOptions) {
    this.core = new ConsensusCore(options);
    this.maxBuffered = options.maxBuffered ?? 10_000;
  }

  get height(): number {
    return this.core.height;
  }

  /**
   * Resumes after a restart. If the log holds the height after `lastDecidedHeight`, its inputs are
   * replayed (the guard lets identical signatures be re-made, so own messages come back the same);
   * otherwise that height starts fresh. The returned effects are to be carried out as usual.
   */
  restore(lastDecidedHeight: number, validators?: ValidatorSet): Effect[] {
    const entries = this.options.wal.entries();
    const next = lastDecidedHeight + 1;
    const first = entries[0];
    if (first === undefined || first.kind !== 'start' || first.height !== next) return this.start(next, validators);
    let effects = this.core.start(next, validators);
    for (const e of entries.slice(1)) {
      switch (e.kind) {
        case 'proposal': effects = effects.concat(this.core.onProposal(e.proposal)); break;
        case 'vote': effects = effects.concat(this.core.onVote(e.vote)); break;
        case 'timeout': effects = effects.concat(this.core.onTimeout(e.timeout, e.height, e.round)); break;
        case 'commit': effects = effects.concat(this.core.onCommit(e.value, e.commit)); break;
        case 'start': break;
      }
    }
    return effects;
  }

  /** Begins `height`, decided by `validators` when the set changed at the previous height. */
  start(height: number, validators?: ValidatorSet): Effect[] {
    this.options.wal.startHeight(height);
    let effects = this.core.start(height, validators);
    const pending = this.buffered.splice(0);
    for (const b of pending) effects = effects.concat(b.kind === 'proposal' ? this.onProposal(b.proposal) : this.onVote(b.vote));
    return effects;
  }

  onProposal(proposal: Proposal): Effect[] {
    if (this.bufferIfAhead(proposal.height, { kind: 'proposal', proposal })) return [];
    if (proposal.height !== this.core.height || this.core.decision !== null) return this.core.onProposal(proposal);
    return this.logged(this.core.onProposal(proposal), { kind: 'proposal', proposal });
  }

  onVote(vote: Vote): Effect[] {
    if (this.bufferIfAhead(vote.height, { kind: 'vote', vote })) return [];
    if (vote.height !== this.core.height || this.core.decision !== null) return this.core.onVote(vote);
    return this.logged(this.core.onVote(vote), { kind: 'vote', vote });
  }

  onTimeout(kind: TimeoutKind, height: number, round: number): Effect[] {
    if (height !== this.core.height || this.core.decision !== null) return [];
    this.options.wal.append({ kind: 'timeout', timeout: kind, height, round });
    return this.core.onTimeout(kind, height, round);
  }

  onCommit(value: Uint8Array, commit: Commit): Effect[] {
    if (commit.height !== this.core.height || this.core.decision !== null) return [];
    this.options.wal.append({ kind: 'commit', value, commit });
    return this.core.onCommit(value, commit);
  }

  /**
   * Logs an input the core took, before its effects are carried out. Inputs the core refused
   * (duplicates from gossip, bad signatures, …) changed nothing and are not logged, which keeps
   * re-gossip from costing a write per copy; an input is fsync'd only when its effects sign or
   * decide something (wal.ts says why that is enough). A crash between the core and the log loses an input
   * whose effects never left this process; the last-signed guard still rules out a double sign.
   */
  private logged(effects: Effect[], entry: WalEntry): Effect[] {
    const refused = effects.length > 0 && effects.every((e) => e.type === 'rejected');
    if (!refused) this.options.wal.append(entry, effects.some(leavesSigned) ? 'sync' : 'write');
    return effects;
  }

  private bufferIfAhead(height: number, message: Buffered): boolean {
    if (height <= this.core.height) return false;
    if (this.buffered.length >= this.maxBuffered) this.buffered.shift();
    this.buffered.push(message);
    return true;
  }
}
