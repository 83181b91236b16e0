// A validator's consensus replica across heights: the core plus its write-ahead log and a buffer
// for messages of the next heights. Every input is logged before the core sees it; `restore`
// replays the log of the unfinished height after a restart.
//
// The caller owns the decided blocks: on a `decide` effect it stores the block durably and then
// calls `start(height + 1)`. After a crash it passes the last stored height to `restore`.
import { type ConsensusApp, ConsensusCore, type CoreOptions, type Effect } from './core.js';
import type { Commit, Proposal, Vote } from './messages.js';
import type { TimeoutKind } from './timeouts.js';
import type { ConsensusWal } from './wal.js';

export interface ReplicaOptions extends CoreOptions {
  app: ConsensusApp;
  wal: ConsensusWal;
  /** Messages buffered for later heights; the oldest are dropped beyond this. */
  maxBuffered?: number;
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
  restore(lastDecidedHeight: number): Effect[] {
    const entries = this.options.wal.entries();
    const next = lastDecidedHeight + 1;
    const first = entries[0];
    if (first === undefined || first.kind !== 'start' || first.height !== next) return this.start(next);
    let effects = this.core.start(next);
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

  start(height: number): Effect[] {
    this.options.wal.startHeight(height);
    let effects = this.core.start(height);
    const pending = this.buffered.splice(0);
    for (const b of pending) effects = effects.concat(b.kind === 'proposal' ? this.onProposal(b.proposal) : this.onVote(b.vote));
    return effects;
  }

  onProposal(proposal: Proposal): Effect[] {
    if (this.bufferIfAhead(proposal.height, { kind: 'proposal', proposal })) return [];
    if (proposal.height !== this.core.height || this.core.decision !== null) return this.core.onProposal(proposal);
    this.options.wal.append({ kind: 'proposal', proposal });
    return this.core.onProposal(proposal);
  }

  onVote(vote: Vote): Effect[] {
    if (this.bufferIfAhead(vote.height, { kind: 'vote', vote })) return [];
    if (vote.height !== this.core.height || this.core.decision !== null) return this.core.onVote(vote);
    this.options.wal.append({ kind: 'vote', vote });
    return this.core.onVote(vote);
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

  private bufferIfAhead(height: number, message: Buffered): boolean {
    if (height <= this.core.height) return false;
    if (this.buffered.length >= this.maxBuffered) this.buffered.shift();
    this.buffered.push(message);
    return true;
  }
}
