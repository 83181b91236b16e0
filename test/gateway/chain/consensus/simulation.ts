// Seeded, deterministic in-process simulation of a validator network running the consensus core:
// random delays and reordering, message loss, partitions, crashes with WAL + guard restarts,
// equivocating validators. It checks agreement, validity and the no-double-sign property as it
// runs and reports what happened; the tests decide which outcome each scenario must have.
import type { Effect } from '../../../../gateway/chain/consensus/core.js';
import {
  type Commit, decodeCommit, decodeProposal, decodeVote, encodeCommit, encodeProposal, encodeVote,
  isVoteSignatureValid, valueIdOf as sha, valueKey,
} from '../../../../gateway/chain/consensus/messages.js';
import { ConsensusReplica } from '../../../../gateway/chain/consensus/replica.js';
import { MemoryLastSignedGuard } from '../../../../gateway/chain/consensus/sign-guard.js';
import type { TimeoutConfig, TimeoutKind } from '../../../../gateway/chain/consensus/timeouts.js';
import { MemoryWal } from '../../../../gateway/chain/consensus/wal.js';
import type { ValidatorSet } from '../../../../gateway/chain/consensus/validator-set.js';
import { CHAIN_ID, makeSet, testApp, type TestKey } from './fixtures.js';

export interface SimConfig {
  seed: number;
  powers: number[];
  /** Indices of validators that sign two different prevotes in every round. */
  byzantine?: number[];
  /** Indices kept down (never started) until `downUntilMs` (Infinity: for the whole run). */
  down?: number[];
  downUntilMs?: number;
  targetHeight: number;
  maxTimeMs: number;
  dropRate: number;
  maxDelayMs: number;
  /** Random crashes/restarts and partitions happen in [0, faultWindowMs); then the network is healed. */
  faultWindowMs: number;
  crashes: number;
  partitions: number;
  /** During the fault window each directed link also loses up to this fraction (drawn per link). */
  lossyLinks?: number;
  /** Block sync is slow: catch-up commits take this long to arrive (default: one message delay). */
  catchUpDelayMs?: number;
}

export interface SimResult {
  seed: number;
  /** node index → height → value key. */
  decisions: Map<number, Map<number, string>>;
  firstDecisionAtMs: number | undefined;
  endMs: number;
  /** Addresses that honest nodes produced evidence against. */
  evidenceAgainst: Set<string>;
  /** Agreement, validity or double-sign violations: must always be empty. */
  violations: string[];
  honest: number[];
  /** Validator addresses by node index. */
  addresses: string[];
  restarts: number;
  delivered: number;
  dropped: number;
}

export const SIM_TIMEOUTS: TimeoutConfig = {
  propose: { baseMs: 300, deltaMs: 100 },
  prevote: { baseMs: 100, deltaMs: 50 },
  precommit: { baseMs: 100, deltaMs: 50 },
};
const GOSSIP_INTERVAL_MS = 250;
const CATCH_UP_REPLY_INTERVAL_MS = 400;

/** mulberry32: tiny, fast, good enough to drive a scheduler; the seed fixes the whole run. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = a;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

type Wire = { kind: 'proposal' | 'vote'; bytes: Uint8Array } | { kind: 'commit'; value: Uint8Array; commit: Uint8Array };

type SimEvent =
  | { kind: 'deliver'; to: number; from: number; message: Wire }
  | { kind: 'timeout'; node: number; epoch: number; timeout: TimeoutKind; height: number; round: number }
  | { kind: 'gossip'; node: number }
  | { kind: 'crash'; node: number }
  | { kind: 'restart'; node: number }
  | { kind: 'partition'; groupOf: number[] }
  | { kind: 'heal' };

interface Queued {
  at: number;
  seq: number;
  event: SimEvent;
}

/** Binary min-heap on (at, seq): ties resolve in insertion order, which keeps runs deterministic. */
class EventQueue {
  private heap: Queued[] = [];
  private seq = 0;

  get size(): number {
    return this.heap.length;
  }

  push(at: number, event: SimEvent): void {
    const h = this.heap;
    h.push({ at, seq: this.seq++, event });
    let i = h.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.less(h[i]!, h[parent]!)) break;
      [h[i], h[parent]] = [h[parent]!, h[i]!];
      i = parent;
    }
  }

  pop(): Queued | undefined {
    const h = this.heap;
    const top = h[0];
    const last = h.pop();
    if (h.length > 0 && last !== undefined) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && this.less(h[l]!, h[m]!)) m = l;
        if (r < h.length && this.less(h[r]!, h[m]!)) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m]!, h[i]!];
        i = m;
      }
    }
    return top;
  }

  private less(a: Queued, b: Queued): boolean {
    return a.at < b.at || (a.at === b.at && a.seq < b.seq);
  }
}

interface SimNode {
  index: number;
  key: TestKey;
  byzantine: boolean;
  up: boolean;
  epoch: number;
  replica: ConsensusReplica | undefined;
  /** These three survive crashes: they stand for the node's disk. */
  wal: MemoryWal;
  guard: MemoryLastSignedGuard;
  blocks: Map<number, { value: Uint8Array; commit: Commit }>;
  lastCatchUpReply: Map<string, number>;
}

export function runSimulation(config: SimConfig): SimResult {
  const random = seededRandom(config.seed);
  const { set, keys } = makeSet(config.powers);
  const byzantine = new Set(config.byzantine ?? []);
  const down = new Set(config.down ?? []);
  const queue = new EventQueue();
  const proposable = new Set<string>();
  const decided = new Map<number, string>();
  const signedBy = new Map<string, string>();
  const result: SimResult = {
    seed: config.seed, decisions: new Map(), firstDecisionAtMs: undefined, endMs: 0, evidenceAgainst: new Set(), violations: [],
    honest: keys.map((_, i) => i).filter((i) => !byzantine.has(i)), addresses: keys.map((k) => k.address), restarts: 0, delivered: 0, dropped: 0,
  };
  let now = 0;
  let partitionOf: number[] | undefined;
  const nodes: SimNode[] = keys.map((key, index) => ({
    index, key, byzantine: byzantine.has(index), up: false, epoch: 0, replica: undefined,
    wal: new MemoryWal(), guard: new MemoryLastSignedGuard(), blocks: new Map(), lastCatchUpReply: new Map(),
  }));
  for (const n of nodes) {
    for (let h = 1; h <= config.targetHeight; h++) proposable.add(valueKey(sha(testApp(`n${n.index}`).getValue(h))));
    result.decisions.set(n.index, new Map());
  }
  const app = (i: number): ReturnType<typeof testApp> => testApp(`n${i}`);

  const linkLoss = nodes.map(() => nodes.map(() => random() * (config.lossyLinks ?? 0)));

  function send(from: number, to: number, message: Wire): void {
    if (partitionOf !== undefined && partitionOf[from] !== partitionOf[to]) return void result.dropped++;
    if (random() < config.dropRate) return void result.dropped++;
    if (now < config.faultWindowMs && random() < linkLoss[from]![to]!) return void result.dropped++;
    // Mostly short delays, sometimes a long one: reorders messages across steps and rounds.
    let delay = random() < 0.05 ? 1 + Math.floor(random() * config.maxDelayMs * 10) : 1 + Math.floor(random() * config.maxDelayMs);
    if (message.kind === 'commit') delay += config.catchUpDelayMs ?? 0;
    queue.push(now + delay, { kind: 'deliver', to, from, message });
  }

  function broadcast(from: number, message: Wire): void {
    for (const n of nodes) if (n.index !== from) send(from, n.index, message);
  }

  function recordSignature(node: SimNode, what: string, valueId: Uint8Array | null): void {
    if (node.byzantine) return;
    const previous = signedBy.get(what);
    const value = valueKey(valueId);
    if (previous !== undefined && previous !== value) result.violations.push(`double sign by honest n${node.index}: ${what} ${previous} vs ${value}`);
    signedBy.set(what, value);
  }

  function apply(node: SimNode, effects: Effect[]): void {
    for (const e of effects) {
      switch (e.type) {
        case 'broadcastProposal': {
          const p = e.proposal;
          recordSignature(node, `${p.proposer}/${p.height}/${p.round}/proposal`, sha(p.value));
          broadcast(node.index, { kind: 'proposal', bytes: encodeProposal(p) });
          break;
        }
        case 'broadcastVote': {
          const v = e.vote;
          recordSignature(node, `${v.validator}/${v.height}/${v.round}/${v.type}`, v.valueId);
          broadcast(node.index, { kind: 'vote', bytes: encodeVote(v) });
          break;
        }
        case 'scheduleTimeout':
          queue.push(now + e.durationMs, { kind: 'timeout', node: node.index, epoch: node.epoch, timeout: e.kind, height: e.height, round: e.round });
          break;
        case 'decide':
          onDecide(node, e.height, e.value, e.commit);
          break;
        case 'evidence':
          checkEvidence(node, set, e.voteA, e.voteB);
          break;
        case 'rejected':
          break;
      }
    }
  }

  function checkEvidence(node: SimNode, validators: ValidatorSet, a: Parameters<typeof isVoteSignatureValid>[0], b: typeof a): void {
    const key = validators.get(a.validator)?.publicKey;
    const genuine = key !== undefined && a.validator === b.validator && a.height === b.height && a.round === b.round && a.type === b.type &&
      valueKey(a.valueId) !== valueKey(b.valueId) && isVoteSignatureValid(a, key) && isVoteSignatureValid(b, key);
    if (!genuine) result.violations.push(`n${node.index} produced bogus evidence against ${a.validator}`);
    if (!node.byzantine) result.evidenceAgainst.add(a.validator);
  }

  function onDecide(node: SimNode, height: number, value: Uint8Array, commit: Commit): void {
    const key = valueKey(sha(value));
    const agreed = decided.get(height);
    if (!node.byzantine) {
      if (agreed !== undefined && agreed !== key) result.violations.push(`agreement: n${node.index} decided ${key} at ${height}, others ${agreed}`);
      if (!app(node.index).isValid(value) || !proposable.has(key)) result.violations.push(`validity: n${node.index} decided an unproposed/invalid value`);
      if (agreed === undefined) decided.set(height, key);
    }
    result.firstDecisionAtMs ??= now;
    node.blocks.set(height, { value, commit });
    result.decisions.get(node.index)!.set(height, key);
    if (height < config.targetHeight) apply(node, node.replica!.start(height + 1));
  }

  function newReplica(node: SimNode): ConsensusReplica {
    return new ConsensusReplica({
      chainId: CHAIN_ID, validators: set, privateKey: node.key.privateKey, app: app(node.index), guard: node.guard, wal: node.wal,
      timeouts: SIM_TIMEOUTS, misbehaviour: node.byzantine ? { equivocatePrevotes: true } : undefined,
    });
  }

  function boot(node: SimNode, restart: boolean): void {
    node.up = true;
    node.epoch++;
    node.replica = newReplica(node);
    const last = Math.max(0, ...node.blocks.keys());
    if (last < config.targetHeight) apply(node, restart ? node.replica.restore(last) : node.replica.start(last + 1));
    queue.push(now + 1 + Math.floor(random() * GOSSIP_INTERVAL_MS), { kind: 'gossip', node: node.index });
  }

  function deliver(node: SimNode, from: number, message: Wire): void {
    const replica = node.replica!;
    if (message.kind === 'commit') {
      apply(node, replica.onCommit(message.value, decodeCommit(message.commit)));
      return;
    }
    const decoded = message.kind === 'proposal' ? decodeProposal(message.bytes) : decodeVote(message.bytes);
    const height = decoded.height;
    const block = node.blocks.get(height);
    if (block !== undefined && (height < replica.height || replica.core.decision !== null)) {
      // Block sync in miniature: a node behind gets the decided block and its commit.
      const tag = `${from}/${height}`;
      if (now - (node.lastCatchUpReply.get(tag) ?? -Infinity) >= CATCH_UP_REPLY_INTERVAL_MS) {
        node.lastCatchUpReply.set(tag, now);
        send(node.index, from, { kind: 'commit', value: block.value, commit: encodeCommit(block.commit) });
      }
      return;
    }
    apply(node, message.kind === 'proposal' ? replica.onProposal(decodeProposal(message.bytes)) : replica.onVote(decodeVote(message.bytes)));
  }

  // Fault schedule, all drawn from the seed up front.
  const honestIndices = result.honest.filter((i) => !down.has(i));
  for (let c = 0; c < config.crashes && honestIndices.length > 0; c++) {
    const node = honestIndices[Math.floor(random() * honestIndices.length)]!;
    const at = Math.floor(random() * config.faultWindowMs * 0.8);
    const back = Math.min(config.faultWindowMs, at + 100 + Math.floor(random() * 3000));
    queue.push(at, { kind: 'crash', node });
    queue.push(back, { kind: 'restart', node });
  }
  for (let p = 0; p < config.partitions; p++) {
    const at = Math.floor(random() * config.faultWindowMs * 0.8);
    const groupOf = nodes.map(() => (random() < 0.5 ? 0 : 1));
    queue.push(at, { kind: 'partition', groupOf });
    queue.push(Math.min(config.faultWindowMs, at + 200 + Math.floor(random() * 4000)), { kind: 'heal' });
  }
  queue.push(config.faultWindowMs, { kind: 'heal' });
  for (const n of nodes) {
    if (!down.has(n.index)) boot(n, false);
    else if (Number.isFinite(config.downUntilMs ?? Infinity)) queue.push(config.downUntilMs!, { kind: 'restart', node: n.index });
  }

  const allDone = (): boolean => result.honest.every((i) => nodes[i]!.up && nodes[i]!.blocks.has(config.targetHeight));
  while (queue.size > 0) {
    const next = queue.pop()!;
    if (next.at > config.maxTimeMs) break;
    now = next.at;
    const ev = next.event;
    switch (ev.kind) {
      case 'deliver': {
        const node = nodes[ev.to]!;
        if (!node.up) break;
        result.delivered++;
        deliver(node, ev.from, ev.message);
        break;
      }
      case 'timeout': {
        const node = nodes[ev.node]!;
        if (node.up && node.epoch === ev.epoch) apply(node, node.replica!.onTimeout(ev.timeout, ev.height, ev.round));
        break;
      }
      case 'gossip': {
        const node = nodes[ev.node]!;
        if (!node.up) break;
        for (const m of node.replica!.core.gossipMessages()) {
          broadcast(node.index, 'value' in m ? { kind: 'proposal', bytes: encodeProposal(m) } : { kind: 'vote', bytes: encodeVote(m) });
        }
        queue.push(now + GOSSIP_INTERVAL_MS, { kind: 'gossip', node: node.index });
        break;
      }
      case 'crash': {
        const node = nodes[ev.node]!;
        if (!node.up) break;
        node.up = false;
        node.epoch++;
        node.replica = undefined;
        break;
      }
      case 'restart': {
        const node = nodes[ev.node]!;
        if (node.up) break;
        result.restarts++;
        boot(node, true);
        break;
      }
      case 'partition':
        partitionOf = ev.groupOf;
        break;
      case 'heal':
        partitionOf = undefined;
        break;
    }
    if (now >= config.faultWindowMs && allDone()) break;
  }
  result.endMs = now;
  if (process.env.SIM_DEBUG !== undefined) {
    for (const n of nodes) {
      const c = n.replica?.core;
      console.log(`n${n.index} up=${n.up} h=${c?.height} r=${c?.round} ${c?.step} locked=${c?.lockedRound} valid=${c?.validRound}`);
    }
  }
  return result;
}
