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
import { type ChainClient, ChainClientError } from '../chain/client/chain-client.js';
import type { LogFn } from '../log.js';

/** How long a submitted anchor stays valid; a later retry builds a fresh transaction. */
const ANCHOR_TX_LIFETIME_MS = 10 * 60_000;

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
    for (const batch of this.o.leafLog.unanchoredBatches()) {
      if (this.stopped) return;
      try {
        await this.anchor(batch);
      } catch (err) {
        this.failures++;
        const temporary = err instanceof ChainClientError && err.temporary;
        this.o.log(temporary ? 'warn' : 'error', 'batch anchoring failed', { batchId: batch.batchId, error: err instanceof Error ? err.message : String(err) });
        return; // keep order: later batches wait for this one
      }
    }
  }

  private async anchor(batch: SealedBatch): Promise<void> {
    const chainId = await this.o.chainId();
    const now = (this.o.now ?? Date.now)();
    const tx = buildTx({
      type: 'BatchAnchor', chainId, signerPriv: this.o.privateKey, expiresAt: now + ANCHOR_TX_LIFETIME_MS,
      body: encodeBatchAnchorBody({ batchId: batch.batchId, root: batch.root, leafCount: batch.size }),
    });
    let at: { txId: Uint8Array; height: number };
    try {
      const r = await this.o.chain.submit(tx.bytes, { waitForCommit: true, timeoutMs: this.o.commitTimeoutMs ?? 30_000 });
      at = { txId: tx.txId, height: r.height! };
    } catch (err) {
      if (!(err instanceof ChainClientError && err.code === 'TX_REJECTED' && err.reason === 'DUPLICATE_BATCH')) throw err;
      // Anchored before a crash (or by a retry that timed out): take the chain's record.
      const existing = await this.o.chain.query<AnchorJson>(`anchor/${this.address}/${batch.batchId}`);
      // Another root under this batch id means the leaf log was replaced while the key was kept:
      // adopting that anchor would prove records that are not in it.
      if (existing.root !== Buffer.from(batch.root).toString('hex') || existing.leafCount !== batch.size) {
        throw new AnchorConflictError('ANCHOR_CONFLICT', `batch ${batch.batchId} is anchored on the chain with another root: this gateway's leaf log does not match its key's history`);
      }
      at = { txId: Uint8Array.from(Buffer.from(existing.txId, 'hex')), height: existing.height };
    }
    if (this.o.leafLog.markAnchored(batch.batchId, at.txId, at.height)) this.anchored++;
    this.o.log('info', 'batch anchored', { batchId: batch.batchId, size: batch.size, height: at.height, txId: Buffer.from(at.txId).toString('hex') });
  }
}
