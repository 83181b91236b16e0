// bench:chain — submit-to-commit latency and BatchAnchor throughput of a 4-validator chain of processes, against a 1-validator chain in the same run.
//
// Prints one JSON object. Latency: sequential submits awaiting commit (median, p95, p99). Throughput:
// BatchAnchor txs from every validator submitted over the RPCs in batches (POST /txs, a few requests
// in flight per node), counted from the first submit until every mempool is empty; blocks/s over the
// same span. Baselines: the same on a single validator (no network rounds), and the application
// alone executing the same transactions in-process (the ceiling). The load average is printed too:
// other jobs on the machine change every figure.
import { buildTx } from '../../protocol/chain/transactions.js';
import { encodeBatchAnchorBody } from '../../protocol/chain/tx-bodies.js';
import { sha256 } from '../../protocol/hash.js';
import { ByteWriter } from '../../protocol/wire.js';
import { executeBlock, genesisExecution, MemoryState, parseGenesis } from '../../gateway/chain/app/index.js';
import { ValidatorSet } from '../../gateway/chain/consensus/validator-set.js';
import { DEFAULT_TIMEOUTS } from '../../gateway/chain/consensus/timeouts.js';
import { ChainClient } from '../../gateway/chain/client/chain-client.js';
import { Localnet } from '../chain/localnet.js';
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';

const LATENCY_SAMPLES = Number(process.env.BENCH_CHAIN_LATENCY ?? 40);
const THROUGHPUT_TXS = Number(process.env.BENCH_CHAIN_TXS ?? 6000);
/** Txs per POST /txs and requests in flight per node: enough to keep every mempool fed without hiding admission cost. */
const BATCH = Number(process.env.BENCH_CHAIN_BATCH ?? 200);
const IN_FLIGHT_PER_NODE = 2;

const quantile = (xs: number[], q: number): number => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * q))]!;
const median = (xs: number[]): number => quantile(xs, 0.5);
const round = (x: number, d = 1): number => Math.round(x * 10 ** d) / 10 ** d;

let batchCounter = 1;
function anchorTx(net: Localnet, signer: number): { bytes: Uint8Array; txId: Uint8Array } {
  const batchId = batchCounter++;
  const root = sha256(new ByteWriter().u64(batchId).u8(signer).finish());
  return buildTx({ type: 'BatchAnchor', chainId: 'carchain-test', signerPriv: net.privateKey(signer), expiresAt: Date.now() + 30 * 60_000, body: encodeBatchAnchorBody({ batchId, root, leafCount: 4096 }) });
}

interface Measured {
  latencyMs: { median: number; p95: number; p99: number };
  txPerSec: number;
  blocks: number;
  blocksPerSec: number;
  seconds: number;
}

async function measure(size: number): Promise<Measured> {
  // Production round timeouts (CometBFT's defaults), not the localnet's fast test ones: a proposal
  // of 1,000 txs must not lose its round to a 600 ms timeout on a loaded machine.
  const net = await new Localnet(size, 100, 100, DEFAULT_TIMEOUTS).create();
  try {
    net.startAll();
    await net.waitForHeight(2, 60_000);
    const latencies: number[] = [];
    for (let i = 0; i < LATENCY_SAMPLES; i++) {
      const tx = anchorTx(net, i % size);
      const t0 = performance.now();
      await net.client(i % size).submit(tx.bytes, { waitForCommit: true, timeoutMs: 30_000 });
      latencies.push(performance.now() - t0);
    }
    const txs = Array.from({ length: THROUGHPUT_TXS }, (_, i) => anchorTx(net, i % size));
    const clients = Array.from({ length: size }, (_, i) => new ChainClient([net.rpc(i)], 60_000));
    // Each node gets the txs its validator signed, in batches; a batch refused as MEMPOOL_FULL is retried.
    const batches: { node: number; txs: Uint8Array[] }[] = [];
    for (let node = 0; node < size; node++) {
      const mine = txs.filter((_, i) => i % size === node).map((t) => t.bytes);
      for (let i = 0; i < mine.length; i += BATCH) batches.push({ node, txs: mine.slice(i, i + BATCH) });
    }
    const startHeight = await net.maxHeight();
    const t0 = performance.now();
    await Promise.all(Array.from({ length: size * IN_FLIGHT_PER_NODE }, async (_, worker) => {
      const node = worker % size;
      for (let b = batches.findIndex((x) => x.node === node); b >= 0; b = batches.findIndex((x) => x.node === node)) {
        const [batch] = batches.splice(b, 1);
        let pending = batch!.txs;
        while (pending.length > 0) {
          const results = await clients[node]!.submitMany(pending);
          const retry = pending.filter((_, i) => results[i]!.error?.code === 'MEMPOOL_FULL');
          const refused = results.find((r) => r.error !== undefined && r.error.code !== 'MEMPOOL_FULL');
          if (refused?.error !== undefined) throw new Error(`tx refused: ${refused.error.code} ${refused.error.reason ?? ''} ${refused.error.message}`);
          if (retry.length > 0) await new Promise((res) => setTimeout(res, 50));
          pending = retry;
        }
      }
    }));
    // Done when every node's mempool is empty (each tx committed or dropped); checked afterwards.
    // Polled every 100 ms: status requests from four clients every 20 ms cost the validators a few % of the CPU they share.
    for (;;) {
      const statuses = await Promise.all(clients.map((c) => c.status()));
      if (statuses.every((st) => st.mempool.txs === 0)) break;
      await new Promise((res) => setTimeout(res, 100));
    }
    const seconds = (performance.now() - t0) / 1000;
    const endHeight = await net.maxHeight();
    const blocks = endHeight - startHeight;
    // Every submitted tx must be in a block: read the blocks of the run rather than ask per tx.
    const wanted = new Set(txs.map((t) => Buffer.from(t.bytes).toString('hex')));
    for (let h = startHeight; h <= endHeight && wanted.size > 0; h++) {
      for (const tx of (await clients[0]!.block(h)).txs) wanted.delete(tx);
    }
    if (wanted.size > 0) throw new Error(`${wanted.size} of ${txs.length} transactions were not committed`);
    return {
      latencyMs: { median: round(median(latencies)), p95: round(quantile(latencies, 0.95)), p99: round(quantile(latencies, 0.99)) },
      txPerSec: Math.round(THROUGHPUT_TXS / seconds), blocks, blocksPerSec: round(blocks / seconds, 2), seconds: round(seconds, 2),
    };
  } finally {
    await net.close();
  }
}

/** The application alone: the same transactions executed in blocks of 1000, no consensus, no network. */
async function appOnly(): Promise<number> {
  const net = await new Localnet(4).create();
  try {
    const genesis = parseGenesis(JSON.parse(readFileSync(net.init.genesisFile, 'utf8')));
    const g = genesisExecution(genesis);
    const state = new MemoryState();
    state.apply(g.writes);
    const validators = new ValidatorSet(g.nextValidators);
    const txs = Array.from({ length: THROUGHPUT_TXS }, (_, i) => anchorTx(net, i % 4).bytes);
    const t0 = performance.now();
    let appHash = g.appHash;
    for (let h = 1; h * 1000 <= txs.length; h++) {
      const e = executeBlock(state, appHash, { chainId: 'carchain-test', height: h, time: Date.now(), validators, validatorsAt: () => validators }, txs.slice((h - 1) * 1000, h * 1000));
      state.apply(e.writes);
      appHash = e.appHash;
    }
    return Math.round(txs.length / ((performance.now() - t0) / 1000));
  } finally {
    await net.close();
  }
}

const loadBefore = loadavg().map((x) => round(x, 2));
const four = await measure(4);
const one = await measure(1);
const app = await appOnly();
process.stdout.write(`${JSON.stringify({
  bench: 'chain', validators: 4, blockIntervalMs: 100, latencySamples: LATENCY_SAMPLES, throughputTxs: THROUGHPUT_TXS, submitBatch: BATCH,
  submitToCommitMs: four.latencyMs, batchAnchorTxPerSec: four.txPerSec, blocksPerSec: four.blocksPerSec, blocksForThroughputRun: four.blocks, throughputSeconds: four.seconds,
  baseline: {
    singleValidator: { submitToCommitMs: one.latencyMs, batchAnchorTxPerSec: one.txPerSec, blocksPerSec: one.blocksPerSec },
    applicationOnlyTxPerSec: app,
  },
  ratios: { txPerSecVsSingleValidator: round(four.txPerSec / one.txPerSec, 2), txPerSecVsApplicationOnly: round(four.txPerSec / app, 2), medianLatencyVsSingleValidator: round(four.latencyMs.median / one.latencyMs.median, 2) },
  goals: { medianSubmitToCommitMs: 500, batchAnchorTxPerSec: 1000, met: four.latencyMs.median < 500 && four.txPerSec >= 1000 },
  loadAverage: { before: loadBefore, after: loadavg().map((x) => round(x, 2)) },
}, null, 2)}\n`);
