// bench:chain — submit-to-commit latency and BatchAnchor throughput of a 4-validator chain of processes, against a 1-validator chain in the same run.
//
// Prints one JSON object. Latency: sequential submits awaiting commit (median, p95). Throughput:
// BatchAnchor txs from every validator submitted concurrently over the RPCs, counted from the
// first submit to the last commit. Baselines: the same on a single validator (no network rounds),
// and the application alone executing the same transactions in-process (the ceiling).
import { buildTx } from '../../protocol/chain/transactions.js';
import { encodeBatchAnchorBody } from '../../protocol/chain/tx-bodies.js';
import { sha256 } from '../../protocol/hash.js';
import { ByteWriter } from '../../protocol/wire.js';
import { executeBlock, genesisExecution, MemoryState, parseGenesis } from '../../gateway/chain/app/index.js';
import { ValidatorSet } from '../../gateway/chain/consensus/validator-set.js';
import { ChainClient } from '../../gateway/chain/client/chain-client.js';
import { Localnet } from '../chain/localnet.js';
import { readFileSync } from 'node:fs';

const LATENCY_SAMPLES = Number(process.env.BENCH_CHAIN_LATENCY ?? 40);
const THROUGHPUT_TXS = Number(process.env.BENCH_CHAIN_TXS ?? 6000);
const CONCURRENCY = 48;

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const p95 = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * 0.95))]!;
const round = (x: number, d = 1): number => Math.round(x * 10 ** d) / 10 ** d;

let batchCounter = 1;
function anchorTx(net: Localnet, signer: number): { bytes: Uint8Array; txId: Uint8Array } {
  const batchId = batchCounter++;
  const root = sha256(new ByteWriter().u64(batchId).u8(signer).finish());
  return buildTx({ type: 'BatchAnchor', chainId: 'carchain-test', signerPriv: net.privateKey(signer), expiresAt: Date.now() + 30 * 60_000, body: encodeBatchAnchorBody({ batchId, root, leafCount: 4096 }) });
}

async function measure(size: number): Promise<{ latencyMs: { median: number; p95: number }; txPerSec: number; blocks: number }> {
  const net = await new Localnet(size, 100, 100).create();
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
    const startHeight = await net.maxHeight();
    const t0 = performance.now();
    let next = 0;
    const clients = Array.from({ length: size }, (_, i) => new ChainClient([net.rpc(i)], 60_000));
    await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
      while (next < txs.length) {
        const i = next++;
        await clients[i % size]!.submit(txs[i]!.bytes);
      }
    }));
    // Done when every node's mempool is empty (each tx committed or dropped); checked afterwards.
    for (;;) {
      const statuses = await Promise.all(clients.map((c) => c.status()));
      if (statuses.every((st) => st.mempool.txs === 0)) break;
      await new Promise((res) => setTimeout(res, 20));
    }
    const seconds = (performance.now() - t0) / 1000;
    const blocks = (await net.maxHeight()) - startHeight;
    let missing = 0;
    for (const tx of txs) {
      const r = await clients[0]!.tx(Buffer.from(tx.txId).toString('hex')).catch(() => ({ pending: true }));
      if (!('height' in r) || r.height === undefined) missing++;
    }
    if (missing > 0) throw new Error(`${missing} of ${txs.length} transactions were not committed`);
    return { latencyMs: { median: round(median(latencies)), p95: round(p95(latencies)) }, txPerSec: Math.round(THROUGHPUT_TXS / seconds), blocks };
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

const four = await measure(4);
const one = await measure(1);
const app = await appOnly();
process.stdout.write(`${JSON.stringify({
  bench: 'chain', validators: 4, blockIntervalMs: 100, latencySamples: LATENCY_SAMPLES, throughputTxs: THROUGHPUT_TXS,
  submitToCommitMs: four.latencyMs, batchAnchorTxPerSec: four.txPerSec, blocksForThroughputRun: four.blocks,
  baseline: { singleValidator: { submitToCommitMs: one.latencyMs, batchAnchorTxPerSec: one.txPerSec }, applicationOnlyTxPerSec: app },
  ratios: { txPerSecVsSingleValidator: round(four.txPerSec / one.txPerSec, 2), txPerSecVsApplicationOnly: round(four.txPerSec / app, 2), medianLatencyVsSingleValidator: round(four.latencyMs.median / one.latencyMs.median, 2) },
  goals: { medianSubmitToCommitMs: 500, batchAnchorTxPerSec: 1000 },
}, null, 2)}\n`);
