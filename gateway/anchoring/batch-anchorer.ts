// Anchors sealed batches on the chain: one BatchAnchor transaction per batch, recorded in the leaf log once committed.
//
// Crash safety: the chain refuses a second anchor of the same (gateway key, batch id) with
// DUPLICATE_BATCH, so a batch is never anchored twice however often the gateway dies between
// submitting and recording; after a restart the anchor is found on the chain and recorded.
import { buildTx } from '../../protocol/chain/transactions.js';
import { encodeBatchAnchorBody } from '../../protocol/chain/tx-bodies.js';
import { p2pkhAddress } from '../../protocol/address.js';
import { CarchainError } from '../../protocol/errors.js';
import { publicKeyFromPrivate } from '../../protocol/signature.js';
import type { LeafLog, SealedBatch } from '../batches/leaf-log.js';
import { type BatchSubmitResult, type ChainClient, ChainClientError } from '../chain/client/chain-client.js';
import type { LogFn } from '../log.js';

/** How long a submitted anchor stays valid; a later retry builds a fresh transaction. */
const ANCHOR_TX_LIFETIME_MS = 10 * 60_000;
/** Batches submitted in one request (one POST /txs) when a backlog has built up. */
const MAX_BATCHES_PER_SUBMIT = 256;

export interface BatchAnchorerOptions {
  chain: ChainClient;
  leafLog: LeafLog;
  /** The gateway's chain key: a validator's or a genesis anchorer's. */
  privateKey: Uint8Array;
  /** The chain's id (asked lazily: a remote chain may be unreachable when the gateway starts). */
  chainId: () => Promise<string>;
  log: LogFn;
  commitTimeoutMs?: number;
  now?: () => number;
}

interface AnchorJson {
  height: number;
  txId: string;
  root: string;
  leafCount: number;
}

export class AnchorConflictError extends CarchainError<'ANCHOR_CONFLICT'> {}

export class BatchAnchorer {
  readonly address: string;
  private running: Promise<void> | null = null;
  private stopped = false;
  anchored = 0;
  failures = 0;
  /** Submissions to the chain (one per run, however many batches it carries). */
  requests = 0;

  constructor(private readonly o: BatchAnchorerOptions) {
    this.address = p2pkhAddress(publicKeyFromPrivate(o.privateKey));
  }

  /** Anchors every sealed, unanchored batch, oldest first; concurrent calls share one run. */
  anchorPending(): Promise<void> {
    this.running ??= this.run().finally(() => {
      this.running = null;
    });
    return this.running;
  }

  stop(): Promise<void> {
    this.stopped = true;
    return this.running ?? Promise.resolve();
  }

  private async run(): Promise<void> {
    const pending = this.o.leafLog.unanchoredBatches();
    if (pending.length === 0 || this.stopped) return;
    // A backlog (after a chain outage or a restart) goes in one request and commits in about one
    // block instead of one block per batch; each batch is still recorded on its own.
    const group = pending.slice(0, MAX_BATCHES_PER_SUBMIT);
    let results: BatchSubmitResult[];
    let txs: { bytes: Uint8Array; txId: Uint8Array }[];
    try {
      const chainId = await this.o.chainId();
      const now = (this.o.now ?? Date.now)();
      txs = group.map((batch) => buildTx({
        type: 'BatchAnchor', chainId, signerPriv: this.o.privateKey, expiresAt: now + ANCHOR_TX_LIFETIME_MS,
        body: encodeBatchAnchorBody({ batchId: batch.batchId, root: batch.root, leafCount: batch.size }),
      }));
      this.requests++;
      results = await this.o.chain.submitMany(txs.map((tx) => tx.bytes), { waitForCommit: true, timeoutMs: this.o.commitTimeoutMs ?? 30_000 });
    } catch (err) {
      this.failed(group[0]!, err);
      return;
    }
    for (const [i, batch] of group.entries()) {
      if (this.stopped) return;
      try {
        await this.record(batch, txs[i]!.txId, results[i]);
      } catch (err) {
        // Later batches of the group may have committed: they are recorded; this one is retried next run.
        this.failed(batch, err);
      }
    }
  }

  private failed(batch: SealedBatch, err: unknown): void {
    this.failures++;
    const temporary = err instanceof CarchainError && err.temporary;
    this.o.log(temporary ? 'warn' : 'error', 'batch anchoring failed', { batchId: batch.batchId, error: err instanceof Error ? err.message : String(err) });
  }

  /** Records one batch's outcome: committed, or already on the chain under this key (adopted if the root matches). */
  private async record(batch: SealedBatch, txId: Uint8Array, result: BatchSubmitResult | undefined): Promise<void> {
    let at: { txId: Uint8Array; height: number };
    if (result !== undefined && result.error === undefined && result.height !== undefined) {
      at = { txId, height: result.height };
    } else if (result?.error?.reason === 'DUPLICATE_BATCH') {
      // Anchored before a crash (or by a retry that timed out): take the chain's record.
      const existing = await this.o.chain.query<AnchorJson>(`anchor/${this.address}/${batch.batchId}`);
      // Another root under this batch id means the leaf log was replaced while the key was kept:
      // adopting that anchor would prove records that are not in it.
      if (existing.root !== Buffer.from(batch.root).toString('hex') || existing.leafCount !== batch.size) {
        throw new AnchorConflictError('ANCHOR_CONFLICT', `batch ${batch.batchId} is anchored on the chain with another root: this gateway's leaf log does not match its key's history`);
      }
      at = { txId: Uint8Array.from(Buffer.from(existing.txId, 'hex')), height: existing.height };
    } else {
      const e = result?.error;
      const code = e?.code === 'MEMPOOL_FULL' || e?.code === 'COMMIT_TIMEOUT' ? e.code : 'TX_REJECTED';
      throw new ChainClientError(code, `BatchAnchor for batch ${batch.batchId}: ${e?.message ?? 'no result from the chain'}`, e?.reason, { temporary: e?.temporary ?? true });
    }
    if (this.o.leafLog.markAnchored(batch.batchId, at.txId, at.height)) this.anchored++;
    this.o.log('info', 'batch anchored', { batchId: batch.batchId, size: batch.size, height: at.height, txId: Buffer.from(at.txId).toString('hex') });
  }
}
