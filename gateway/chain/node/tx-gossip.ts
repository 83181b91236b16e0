// Transactions to peers in batches: one WIRE.txs frame per peer per tick instead of one frame per transaction.
//
// Per-tx frames cost an envelope, an AES-GCM seal and a socket write each, on every node for every
// copy, and past the link's gossip queue limit they were dropped. A tx is not sent back to the peer
// it came from; relaying to the others keeps a node reachable through one link still covered.
import { MAX_PAYLOAD } from '../net/envelope.js';
import { encodeTxBatch, MAX_TXS_PER_BATCH } from './tx-batch.js';
import { type ChainTransport, WIRE } from './transport.js';

/** Bytes of transactions per frame; well under the transport's payload limit. */
export const MAX_TX_BATCH_BYTES = 1024 * 1024;

/** Splits into batches of at most MAX_TX_BATCH_BYTES (a single larger tx still goes alone). */
function chunks(txs: readonly Uint8Array[]): Uint8Array[][] {
  const out: Uint8Array[][] = [];
  let current: Uint8Array[] = [];
  let size = 0;
  for (const tx of txs) {
    if (current.length > 0 && (size + tx.length > MAX_TX_BATCH_BYTES || current.length >= MAX_TXS_PER_BATCH)) {
      out.push(current);
      current = [];
      size = 0;
    }
    current.push(tx);
    size += tx.length + 4;
  }
  if (current.length > 0) out.push(current);
  return out;
}

export class TxGossip {
  private queued: { tx: Uint8Array; from: string | undefined }[] = [];
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  /** `intervalMs`: how long a tx may wait for others to share its frame. */
  constructor(private readonly transport: ChainTransport, private readonly intervalMs = 10) {
    if (MAX_TX_BATCH_BYTES + 64 * 1024 > MAX_PAYLOAD) throw new RangeError('tx batches must fit a frame');
  }

  /** Sends `tx` to every peer but `from` (the peer it came from, if any) with the next batch. */
  queue(tx: Uint8Array, from?: string): void {
    if (this.stopped) return;
    this.queued.push({ tx, from });
    this.timer ??= setTimeout(() => this.flush(), this.intervalMs);
  }

  flush(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    const batch = this.queued;
    this.queued = [];
    if (batch.length === 0 || this.stopped) return;
    if (batch.every((q) => q.from === undefined)) {
      for (const part of chunks(batch.map((q) => q.tx))) this.transport.broadcast(WIRE.txs, encodeTxBatch(part));
      return;
    }
    for (const peer of this.transport.connectedPeers()) {
      const txs = batch.filter((q) => q.from !== peer).map((q) => q.tx);
      for (const part of chunks(txs)) this.transport.send(peer, WIRE.txs, encodeTxBatch(part));
    }
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.queued = [];
  }
}
