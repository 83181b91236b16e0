// A validator (or observer) node: drives the consensus replica over a transport, builds and checks blocks, saves decided heights, catches up.
//
// Everything the core decides goes through `handle(effects)`. A decided block is executed (or the
// execution cached by isValid is reused), saved with its commit and state writes in one SQLite
// transaction, and only then does the next height start — after `blockIntervalMs` (CometBFT's
// timeout_commit; at once when a full block is already waiting), or later when empty blocks are
// not wanted and nothing is waiting.
import { join } from 'node:path';
import { mkdirSync } from 'node:fs';
import { p2pkhAddress } from '../../../protocol/address.js';
import { publicKeyFromPrivate } from '../../../protocol/signature.js';
import { ByteReader, ByteWriter, equalBytes } from '../../../protocol/wire.js';
import type { LogFn } from '../../log.js';
import {
  type Block, blockIdOfHeader, blockIdOfValue, checkBlockBody, commitHash, decodeBlock, encodeBlock, txRootOf, ZERO_HASH,
} from '../block/block.js';
import { verifyCommitForId } from '../consensus/commit.js';
import type { Effect } from '../consensus/core.js';
import { ConsensusError } from '../consensus/errors.js';
import { type Commit, decodeCommit, decodeProposal, decodeVote, encodeCommit, encodeProposal, encodeVote, type Vote } from '../consensus/messages.js';
import { ConsensusReplica } from '../consensus/replica.js';
import { FileLastSignedGuard } from '../consensus/sign-guard.js';
import { DEFAULT_TIMEOUTS, type TimeoutConfig, type TimeoutKind } from '../consensus/timeouts.js';
import { ValidatorSet } from '../consensus/validator-set.js';
import { FileWal } from '../consensus/wal.js';
import { BlockStore, type TxLocation } from '../store/block-store.js';
import type { BlockContext, BlockExecution, ChainApplication } from './application.js';
import { Mempool, type MempoolLimits } from './mempool.js';
import { type ChainTransport, WIRE } from './transport.js';
import { CommitWaiters } from './commit-waiters.js';
import { SignatureCache } from './signature-cache.js';
import { DecodedTxCache } from './decoded-tx-cache.js';
import { decodeTxBatch } from './tx-batch.js';
import { TxGossip } from './tx-gossip.js';

export interface GenesisExecution {
  hash: Uint8Array;
  time: number;
  execution: BlockExecution;
}

export interface ChainNodeOptions {
  chainId: string;
  genesis: GenesisExecution;
  dataDir: string;
  app: ChainApplication;
  transport: ChainTransport;
  /** The validator key; a node whose key is not in the set only follows the chain. */
  privateKey: Uint8Array;
  timeouts?: TimeoutConfig;
  /** Gap between deciding a height and starting the next (CometBFT's timeout_commit). */
  blockIntervalMs?: number;
  /** Longest wait for transactions before an empty block; equal to blockIntervalMs means empty blocks always. */
  emptyBlockIntervalMs?: number;
  maxBlockTxs?: number;
  maxBlockBytes?: number;
  gossipIntervalMs?: number;
  /** How long a new transaction may wait for others to share its gossip frame. */
  txGossipIntervalMs?: number;
  /** Proposals whose time is further ahead of the local clock are refused. */
  maxClockDriftMs?: number;
  mempool?: MempoolLimits;
  now?: () => number;
  log?: LogFn;
  /** Builds the Evidence transaction (signed by this node) for two conflicting votes. */
  evidenceTx?: (voteA: Vote, voteB: Vote) => Uint8Array;
  /** TEST ONLY: a Byzantine validator. */
  misbehaviour?: { equivocatePrevotes?: boolean };
}

export interface CommittedBlock {
  block: Block;
  blockId: Uint8Array;
  commit: Commit;
  execution: BlockExecution;
}

const noLog: LogFn = () => undefined;

/**
 * Gossiped transactions are admitted in slices of at most this long, so that a burst of thousands
 * (each a signature check) never holds votes and proposals back long enough to time a round out.
 */
export const ADMISSION_SLICE_MS = 15;
/** Gossiped transactions waiting for admission beyond this are dropped (gossip is best effort; the mempool bounds the rest). */
const MAX_ADMISSION_QUEUE = 20_000;

export class ChainNode {
  readonly address: string;
  readonly store: BlockStore;
  readonly mempool: Mempool;
  private readonly replica: ConsensusReplica;
  private readonly o: Required<Pick<ChainNodeOptions, 'blockIntervalMs' | 'emptyBlockIntervalMs' | 'maxBlockTxs' | 'maxBlockBytes' | 'gossipIntervalMs' | 'maxClockDriftMs'>>;
  private readonly now: () => number;
  private readonly log: LogFn;
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly executions = new Map<string, BlockExecution>();
  /** Values this node built for the height being decided (one per round it proposed). */
  private built: Uint8Array[] = [];
  private readonly listeners: ((c: CommittedBlock) => void)[] = [];
  private readonly waiters = new CommitWaiters();
  private readonly evidenceSeen = new Set<string>();
  private readonly signatures = new SignatureCache();
  private readonly decodedTxs = new DecodedTxCache();
  private readonly txGossip: TxGossip;
  private admissionQueue: { tx: Uint8Array; from: string }[] = [];
  private admissionHead = 0;
  private admitting = false;
  private nextStart: { height: number; earliest: number; latest: number; timer: NodeJS.Timeout | undefined } | null = null;
  private syncing = false;
  private stopped = false;
  private gossipTimer: NodeJS.Timeout | undefined;
  private readonly wal: FileWal;
  /** The last saved height, its time and the set deciding the next: read for every transaction check. */
  private tip!: { height: number; time: number; next: ValidatorSet };

  private constructor(private readonly options: ChainNodeOptions) {
    this.now = options.now ?? Date.now;
    this.log = options.log ?? noLog;
    const blockIntervalMs = options.blockIntervalMs ?? 1000;
    this.o = {
      blockIntervalMs,
      emptyBlockIntervalMs: Math.max(blockIntervalMs, options.emptyBlockIntervalMs ?? blockIntervalMs),
      // Every validator executes a proposal before its prevote, so it must fit well inside the
      // propose timeout: 1,000 BatchAnchors take ~0.2 s with warm caches on a loaded 2-core box.
      maxBlockTxs: options.maxBlockTxs ?? 1000,
      maxBlockBytes: options.maxBlockBytes ?? 900 * 1024,
      gossipIntervalMs: options.gossipIntervalMs ?? 500,
      maxClockDriftMs: options.maxClockDriftMs ?? 10_000,
    };
    this.address = p2pkhAddress(publicKeyFromPrivate(options.privateKey));
    mkdirSync(options.dataDir, { recursive: true });
    this.store = BlockStore.open(join(options.dataDir, 'chain.db'), options.genesis.hash);
    const g = options.genesis.execution;
    this.store.initialise(g.writes, g.appHash, new ValidatorSet(g.nextValidators));
    this.mempool = new Mempool(options.app, options.mempool);
    this.txGossip = new TxGossip(options.transport, options.txGossipIntervalMs ?? 10);
    this.refreshTip();
    const validators = this.tip.next;
    this.wal = FileWal.open(join(options.dataDir, 'consensus.wal'));
    this.replica = new ConsensusReplica({
      chainId: options.chainId, validators, valueId: blockIdOfValue, privateKey: options.privateKey,
      app: { isValid: (v) => this.isValid(v), getValue: (h) => this.buildBlock(h) },
      guard: FileLastSignedGuard.open(join(options.dataDir, 'last-signed.json')),
      wal: this.wal,
      timeouts: options.timeouts ?? DEFAULT_TIMEOUTS,
      ...(options.misbehaviour !== undefined ? { misbehaviour: options.misbehaviour } : {}),
    });
  }

  /** Opens the store, replays the consensus log of an unfinished height and joins the network. */
  static start(options: ChainNodeOptions): ChainNode {
    const node = new ChainNode(options);
    node.wire();
    const last = node.tip.height;
    node.log('info', 'chain node starting', { address: node.address, height: last, validator: node.isValidator() });
    node.handle(node.replica.restore(last, node.validatorsAt(last + 1)));
    return node;
  }

  get chainId(): string {
    return this.options.chainId;
  }

  /** Last committed height. */
  get height(): number {
    return this.tip.height;
  }

  /** The height being decided. */
  get decidingHeight(): number {
    return this.replica.height;
  }

  get round(): number {
    return this.replica.core.round;
  }

  isValidator(): boolean {
    return this.replica.core.validators.has(this.address);
  }

  private refreshTip(): void {
    const height = this.store.height();
    const time = height === 0 ? this.options.genesis.time : this.store.header(height)!.time;
    this.tip = { height, time, next: this.loadValidators(height + 1) };
  }

  validatorsAt(height: number): ValidatorSet {
    if (height === this.tip.height + 1) return this.tip.next;
    return this.loadValidators(height);
  }

  private loadValidators(height: number): ValidatorSet {
    const set = this.store.validatorsAt(height);
    if (set === undefined) throw new ConsensusError('STORAGE_FAILED', `no validator set stored for height ${height}`);
    return set;
  }

  onCommitted(listener: (c: CommittedBlock) => void): void {
    this.listeners.push(listener);
  }

  /** Context for checking a transaction now, against the committed state (the next height). */
  private checkContext(): BlockContext {
    const h = this.tip.height;
    return {
      chainId: this.chainId, height: h + 1, time: Math.max(this.now(), this.lastTime() + 1),
      validators: this.validatorsAt(h + 1), validatorsAt: (x) => this.store.validatorsAt(x), verifiedSignatures: this.signatures,
      decodedTxs: this.decodedTxs,
    };
  }

  /** Admits a transaction to the mempool and gossips it. Throws MempoolError (TX_REJECTED carries the verdict). */
  submit(tx: Uint8Array): { txId: Uint8Array; added: boolean } {
    return this.admit(tx, undefined);
  }

  /** `from`: the peer that gossiped it, which need not get it back. */
  private admit(tx: Uint8Array, from: string | undefined): { txId: Uint8Array; added: boolean } {
    const outcome = this.mempool.add(tx, this.store, this.checkContext());
    if (outcome.added) {
      this.txGossip.queue(tx, from);
      this.maybeStartEarly();
    }
    return { txId: outcome.txId, added: outcome.added };
  }

  /** Resolves when a transaction is in a committed block; rejects with a temporary error after `timeoutMs`. */
  waitForTx(txId: Uint8Array, timeoutMs: number): Promise<TxLocation> {
    const known = this.store.locateTx(txId);
    if (known !== undefined) return Promise.resolve(known);
    return this.waiters.wait(txId, timeoutMs);
  }

  stop(): Promise<void> {
    this.stopped = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    if (this.nextStart?.timer !== undefined) clearTimeout(this.nextStart.timer);
    if (this.gossipTimer !== undefined) clearInterval(this.gossipTimer);
    this.txGossip.stop();
    this.waiters.cancelAll();
    this.wal.close();
    this.store.close();
    return Promise.resolve();
  }

  // ---------- network ----------

  private wire(): void {
    const t = this.options.transport;
    t.onMessage((from, kind, payload) => {
      if (this.stopped) return;
      try {
        this.onMessage(from, kind, payload);
      } catch (err) {
        this.log('debug', 'bad message from peer', { from, kind, error: err instanceof Error ? err.message : String(err) });
      }
    });
    t.onPeerConnected((peer) => {
      if (this.stopped) return;
      t.send(peer, WIRE.status, this.statusPayload());
      for (const m of this.replica.core.gossipMessages()) {
        t.send(peer, 'value' in m ? WIRE.proposal : WIRE.vote, 'value' in m ? encodeProposal(m) : encodeVote(m));
      }
    });
    t.onRequest((_from, kind, payload) => Promise.resolve(this.answer(kind, payload)));
    this.gossipTimer = setInterval(() => this.gossip(), this.o.gossipIntervalMs);
  }

  private gossip(): void {
    if (this.stopped) return;
    const t = this.options.transport;
    t.broadcast(WIRE.status, this.statusPayload());
    for (const m of this.replica.core.gossipMessages()) {
      if ('value' in m) t.broadcast(WIRE.proposal, encodeProposal(m));
      else t.broadcast(WIRE.vote, encodeVote(m));
    }
  }

  private statusPayload(): Uint8Array {
    return new ByteWriter().u64(this.tip.height).finish();
  }

  private onMessage(from: string, kind: number, payload: Uint8Array): void {
    switch (kind) {
      case WIRE.proposal: {
        const p = decodeProposal(payload);
        if (p.height > this.replica.height) this.maybeStartEarly();
        this.handle(this.replica.onProposal(p));
        break;
      }
      case WIRE.vote: {
        const v = decodeVote(payload);
        if (v.height > this.replica.height) this.maybeStartEarly();
        this.handle(this.replica.onVote(v));
        break;
      }
      case WIRE.tx:
        this.admitGossiped(from, [payload]);
        break;
      case WIRE.txs:
        this.admitGossiped(from, decodeTxBatch(payload, this.mempool.maxTxBytes));
        break;
      case WIRE.status: {
        const r = new ByteReader(payload, 'status');
        const peerHeight = r.u64Number('height');
        if (peerHeight >= this.replica.height) void this.syncFrom(from, peerHeight);
        break;
      }
      default:
        this.log('debug', 'unknown message kind', { from, kind });
    }
  }

  private admitGossiped(from: string, txs: readonly Uint8Array[]): void {
    for (const tx of txs) {
      if (this.admissionQueue.length - this.admissionHead >= MAX_ADMISSION_QUEUE) break;
      this.admissionQueue.push({ tx, from });
    }
    if (!this.admitting) {
      this.admitting = true;
      setImmediate(() => this.drainAdmissions());
    }
  }

  private drainAdmissions(): void {
    const until = performance.now() + ADMISSION_SLICE_MS;
    while (!this.stopped && this.admissionHead < this.admissionQueue.length && performance.now() < until) {
      const { tx, from } = this.admissionQueue[this.admissionHead++]!;
      try {
        this.admit(tx, from);
      } catch {
        // Refused by our mempool (invalid, known or full): peers' mempools decide for themselves.
      }
    }
    if (this.admissionHead >= this.admissionQueue.length || this.stopped) {
      this.admissionQueue = [];
      this.admissionHead = 0;
      this.admitting = false;
      return;
    }
    if (this.admissionHead > 4096) {
      this.admissionQueue = this.admissionQueue.slice(this.admissionHead);
      this.admissionHead = 0;
    }
    setImmediate(() => this.drainAdmissions());
  }

  /** GET_BLOCK(height) → flag ‖ block ‖ commit, or flag 0 when this node does not have it. */
  private answer(kind: number, payload: Uint8Array): Uint8Array {
    if (kind !== WIRE.getBlock) return Uint8Array.of(0);
    const height = new ByteReader(payload, 'getBlock').u64Number('height');
    const block = this.store.blockBytes(height);
    const commit = this.store.commit(height);
    if (block === undefined || commit === undefined) return Uint8Array.of(0);
    return new ByteWriter().u8(1).bytes(block).bytes(encodeCommit(commit)).finish();
  }

  /** Catch-up: fetch decided blocks with their commits from a peer that is ahead, verify and apply them. */
  private async syncFrom(peer: string, peerHeight: number): Promise<void> {
    if (this.syncing) return;
    this.syncing = true;
    try {
      while (!this.stopped && this.tip.height < peerHeight) {
        const height = this.tip.height + 1;
        if (this.replica.height !== height || this.replica.core.decision !== null) {
          // Decided but not yet started: start now rather than wait out the block interval.
          if (this.nextStart !== null) this.startNextHeight();
          if (this.replica.height !== height) break;
        }
        const reply = await this.options.transport.request(peer, WIRE.getBlock, new ByteWriter().u64(height).finish(), 5000);
        if (this.stopped || reply[0] !== 1) break;
        const r = new ByteReader(reply, 'block reply');
        r.u8();
        const value = r.bytes(2 * 1024 * 1024, 'block').slice();
        const commit = decodeCommit(r.bytes(1024 * 1024, 'commit'));
        if (this.tip.height >= height) continue; // decided by consensus meanwhile
        this.handle(this.replica.onCommit(value, commit));
        if (this.tip.height < height) {
          this.log('warn', 'catch-up block refused', { peer, height });
          break;
        }
        if (this.nextStart !== null && this.tip.height < peerHeight) this.startNextHeight();
      }
    } catch (err) {
      this.log('debug', 'catch-up failed', { peer, error: err instanceof Error ? err.message : String(err) });
    } finally {
      this.syncing = false;
    }
  }

  // ---------- effects ----------

  private handle(effects: Effect[]): void {
    const t = this.options.transport;
    for (const e of effects) {
      if (this.stopped) return;
      switch (e.type) {
        case 'broadcastProposal': t.broadcast(WIRE.proposal, encodeProposal(e.proposal)); break;
        case 'broadcastVote': t.broadcast(WIRE.vote, encodeVote(e.vote)); break;
        case 'scheduleTimeout': this.schedule(e.kind, e.height, e.round, e.durationMs); break;
        case 'decide': this.decided(e.height, e.value, e.commit); break;
        case 'evidence': this.reportEvidence(e.voteA, e.voteB); break;
        case 'rejected':
          if (e.error.code !== 'DUPLICATE' && e.error.code !== 'WRONG_HEIGHT') this.log('debug', 'consensus input rejected', { code: e.error.code, message: e.error.message });
          break;
      }
    }
  }

  private schedule(kind: TimeoutKind, height: number, round: number, durationMs: number): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      if (!this.stopped) this.handle(this.replica.onTimeout(kind, height, round));
    }, durationMs);
    this.timers.add(timer);
  }

  private reportEvidence(a: Vote, b: Vote): void {
    const key = `${a.validator}/${a.height}/${a.round}/${a.type}`;
    this.log('warn', 'equivocation detected', { validator: a.validator, height: a.height, round: a.round, type: a.type });
    if (this.options.evidenceTx === undefined || this.evidenceSeen.has(key)) return;
    this.evidenceSeen.add(key);
    try {
      this.submit(this.options.evidenceTx(a, b));
    } catch (err) {
      this.log('warn', 'evidence transaction refused', { error: err instanceof Error ? err.message : String(err) });
    }
  }

  private decided(height: number, value: Uint8Array, commit: Commit): void {
    if (height !== this.tip.height + 1) return; // replayed decision of a saved height
    const block = decodeBlock(value);
    const blockId = blockIdOfValue(value);
    const key = Buffer.from(blockId).toString('hex');
    const execution = this.executions.get(key) ?? this.validate(block, value);
    if (execution === null) throw new ConsensusError('INVALID_VALUE', `decided block ${height} does not execute`);
    this.executions.clear();
    this.built = [];
    const txIds = execution.results.map((r) => r.txId);
    const nextValidators = new ValidatorSet(execution.nextValidators);
    this.store.save({ block, blockBytes: value, blockId, commit, writes: execution.writes, nextValidators, txIds });
    this.tip = { height, time: block.header.time, next: nextValidators };
    this.log('info', 'block committed', {
      height, txs: block.txs.length, round: commit.round, id: key.slice(0, 16), appHash: Buffer.from(block.header.appHash).toString('hex').slice(0, 16),
    });
    txIds.forEach((id, index) => this.waiters.resolve(id, { height, index }));
    this.mempool.recheck(txIds, block.header.time);
    this.decodedTxs.forget(block.txs);
    const committed: CommittedBlock = { block, blockId, commit, execution };
    for (const l of this.listeners) l(committed);
    this.options.transport.broadcast(WIRE.status, this.statusPayload());
    const now = this.now();
    // A full block already waiting gains nothing from the pause (it exists to let transactions
    // gather); under a backlog it only left the CPU idle between heights.
    const backlog = this.mempool.size >= this.o.maxBlockTxs;
    this.nextStart = { height: height + 1, earliest: now + (backlog ? 0 : this.o.blockIntervalMs), latest: now + this.o.emptyBlockIntervalMs, timer: undefined };
    this.armNextStart();
  }

  private armNextStart(): void {
    const next = this.nextStart;
    if (next === null) return;
    if (next.timer !== undefined) clearTimeout(next.timer);
    const wantsBlock = this.mempool.size > 0 || next.earliest >= next.latest;
    const at = wantsBlock ? next.earliest : next.latest;
    next.timer = setTimeout(() => this.startNextHeight(), Math.max(0, at - this.now()));
  }

  /** A transaction or a message of the next height arrived: do not wait for the empty-block interval. */
  private maybeStartEarly(): void {
    if (this.nextStart !== null && this.nextStart.earliest < this.nextStart.latest) {
      this.nextStart.latest = this.nextStart.earliest;
      this.armNextStart();
    }
  }

  private startNextHeight(): void {
    const next = this.nextStart;
    if (next === null || this.stopped) return;
    if (next.timer !== undefined) clearTimeout(next.timer);
    this.nextStart = null;
    this.handle(this.replica.start(next.height, this.validatorsAt(next.height)));
  }

  // ---------- blocks ----------

  private lastTime(): number {
    return this.tip.time;
  }

  private context(height: number, time: number): BlockContext {
    return {
      chainId: this.chainId, height, time, validators: this.validatorsAt(height), validatorsAt: (x) => this.store.validatorsAt(x),
      verifiedSignatures: this.signatures, decodedTxs: this.decodedTxs,
    };
  }

  /** The proposer's block: the oldest mempool transactions that execute, in order; failing ones are left out. */
  private buildBlock(height: number): Uint8Array {
    const time = Math.max(this.now(), this.lastTime() + 1);
    const ctx = this.context(height, time);
    const prevAppHash = this.store.appHash();
    let txs = this.mempool.reap(this.o.maxBlockTxs, this.o.maxBlockBytes);
    let execution = this.options.app.executeBlock(this.store, prevAppHash, ctx, txs);
    for (let attempt = 0; attempt < 5 && execution.results.some((r) => !r.ok); attempt++) {
      const failed = new Set(execution.results.filter((r) => !r.ok).map((r) => Buffer.from(r.txId).toString('hex')));
      for (const r of execution.results) if (!r.ok) this.mempool.remove(r.txId);
      txs = txs.filter((_tx, i) => !failed.has(Buffer.from(execution.results[i]!.txId).toString('hex')));
      execution = this.options.app.executeBlock(this.store, prevAppHash, ctx, txs);
    }
    if (execution.results.some((r) => !r.ok)) {
      txs = [];
      execution = this.options.app.executeBlock(this.store, prevAppHash, ctx, txs);
    }
    const lastCommit = height === 1 ? null : this.store.commit(height - 1)!;
    const block: Block = {
      header: {
        chainId: this.chainId, height, time, proposer: this.address,
        lastBlockId: height === 1 ? ZERO_HASH.slice() : this.store.blockId(height - 1)!,
        lastCommitHash: commitHash(lastCommit), txRoot: txRootOf(txs), txCount: txs.length,
        validatorsHash: ctx.validators.setHash(), nextValidatorsHash: new ValidatorSet(execution.nextValidators).setHash(),
        appHash: execution.appHash,
      },
      txs, lastCommit,
    };
    const value = encodeBlock(block);
    this.executions.set(Buffer.from(blockIdOfHeader(block.header)).toString('hex'), execution);
    this.built.push(value);
    return value;
  }

  private isValid(value: Uint8Array): boolean {
    // Our own proposal, byte for byte (the id covers only the header): buildBlock executed it already.
    if (this.built.some((b) => equalBytes(b, value))) return true;
    let block: Block;
    try {
      block = decodeBlock(value);
    } catch {
      return false;
    }
    const execution = this.validate(block, value);
    if (execution === null) return false;
    this.executions.set(Buffer.from(blockIdOfValue(value)).toString('hex'), execution);
    return true;
  }

  /** Every rule a block at the current height must meet; the execution when it does, null when not. */
  private validate(block: Block, value: Uint8Array): BlockExecution | null {
    const h = block.header;
    const reject = (why: string): null => {
      this.log('warn', 'invalid block', { height: h.height, proposer: h.proposer, why });
      return null;
    };
    const height = this.tip.height + 1;
    if (h.chainId !== this.chainId) return reject('wrong chain id');
    if (h.height !== height) return reject(`height ${h.height}, expected ${height}`);
    const validators = this.validatorsAt(height);
    if (!validators.has(h.proposer)) return reject('proposer is not a validator');
    if (!equalBytes(h.validatorsHash, validators.setHash())) return reject('validatorsHash');
    if (h.time <= this.lastTime()) return reject('time does not increase');
    if (h.time > this.now() + this.o.maxClockDriftMs) return reject('time too far in the future');
    if (value.length > this.o.maxBlockBytes + 64 * 1024) return reject('block too large');
    try {
      checkBlockBody(block);
    } catch (err) {
      return reject(err instanceof Error ? err.message : String(err));
    }
    if (height > 1) {
      if (!equalBytes(h.lastBlockId, this.store.blockId(height - 1)!)) return reject('lastBlockId');
      try {
        verifyCommitForId(this.validatorsAt(height - 1), this.chainId, height - 1, h.lastBlockId, block.lastCommit!);
      } catch (err) {
        return reject(`last commit: ${err instanceof Error ? err.message : String(err)}`);
      }
    } else if (!equalBytes(h.lastBlockId, ZERO_HASH)) return reject('lastBlockId at height 1');
    const execution = this.options.app.executeBlock(this.store, this.store.appHash(), this.context(height, h.time), block.txs);
    const failed = execution.results.find((r) => !r.ok);
    if (failed !== undefined) return reject(`transaction ${Buffer.from(failed.txId).toString('hex').slice(0, 16)} fails: ${failed.code ?? ''}`);
    if (!equalBytes(execution.appHash, h.appHash)) return reject('appHash');
    if (!equalBytes(new ValidatorSet(execution.nextValidators).setHash(), h.nextValidatorsHash)) return reject('nextValidatorsHash');
    return execution;
  }
}
