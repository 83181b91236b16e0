// Transactions waiting for a block: admitted against the committed state, bounded, in arrival order, rechecked after every commit.
import { CarchainError } from '../../../protocol/errors.js';
import { decodeTx } from '../../../protocol/chain/transactions.js';
import { sha256 } from '../../../protocol/hash.js';
import type { BlockContext, ChainApplication, TxVerdict } from './application.js';
import type { StateReader } from '../store/block-store.js';

export type MempoolErrorCode = 'MEMPOOL_FULL' | 'TX_REJECTED' | 'TX_TOO_LARGE';

export class MempoolError extends CarchainError<MempoolErrorCode> {
  constructor(code: MempoolErrorCode, message: string, readonly verdict?: TxVerdict) {
    super(code, message, { temporary: code === 'MEMPOOL_FULL' });
  }
}

export interface MempoolLimits {
  maxTxs: number;
  maxBytes: number;
  maxTxBytes: number;
}

export const DEFAULT_MEMPOOL_LIMITS: MempoolLimits = { maxTxs: 20_000, maxBytes: 64 * 1024 * 1024, maxTxBytes: 16 * 1024 + 256 };

/** The expiry the application read from the tx (taken from its verdict: decoding again per admission showed in profiles). */
function expiresAtOf(tx: Uint8Array, verdict: TxVerdict): number {
  if (verdict.expiresAt !== undefined) return verdict.expiresAt;
  // An application that does not report it: decode here; a tx it accepted but that does not decode never expires on its own (the proposer drops it).
  try {
    return decodeTx(tx).expiresAt;
  } catch {
    return Number.MAX_SAFE_INTEGER;
  }
}

export type AddOutcome = { added: true; txId: Uint8Array } | { added: false; txId: Uint8Array; reason: 'known' };

export class Mempool {
  private readonly txs = new Map<string, { id: Uint8Array; bytes: Uint8Array; expiresAt: number; raw: string }>();
  /** sha256 of the exact bytes → tx id: gossip brings every tx from every peer, and a copy must not cost a full check. */
  private readonly byRaw = new Map<string, Uint8Array>();
  private bytes = 0;

  constructor(
    private readonly app: ChainApplication,
    private readonly limits: MempoolLimits = DEFAULT_MEMPOOL_LIMITS,
  ) {}

  get size(): number {
    return this.txs.size;
  }

  /** Largest transaction admitted. */
  get maxTxBytes(): number {
    return this.limits.maxTxBytes;
  }

  get totalBytes(): number {
    return this.bytes;
  }

  has(txId: Uint8Array): boolean {
    return this.txs.has(Buffer.from(txId).toString('hex'));
  }

  /** Admits `tx` if the application accepts it against the committed state; throws TX_REJECTED with the verdict otherwise. */
  add(tx: Uint8Array, state: StateReader, ctx: BlockContext): AddOutcome {
    if (tx.length > this.limits.maxTxBytes) throw new MempoolError('TX_TOO_LARGE', `tx of ${tx.length} bytes`);
    const raw = Buffer.from(sha256(tx)).toString('hex');
    const seen = this.byRaw.get(raw);
    if (seen !== undefined) return { added: false, txId: seen, reason: 'known' };
    const verdict = this.app.checkTx(state, ctx, tx);
    const key = Buffer.from(verdict.txId).toString('hex');
    if (this.txs.has(key)) return { added: false, txId: verdict.txId, reason: 'known' };
    if (!verdict.ok) throw new MempoolError('TX_REJECTED', `${verdict.code ?? 'REJECTED'}: ${verdict.reason ?? ''}`, verdict);
    if (this.txs.size >= this.limits.maxTxs || this.bytes + tx.length > this.limits.maxBytes) {
      throw new MempoolError('MEMPOOL_FULL', `mempool holds ${this.txs.size} txs / ${this.bytes} bytes`);
    }
    this.txs.set(key, { id: verdict.txId, bytes: tx.slice(), expiresAt: expiresAtOf(tx, verdict), raw });
    this.byRaw.set(raw, verdict.txId);
    this.bytes += tx.length;
    return { added: true, txId: verdict.txId };
  }

  /** Up to `maxTxs` / `maxBytes` of the oldest transactions, for a proposal. */
  reap(maxTxs: number, maxBytes: number): Uint8Array[] {
    const out: Uint8Array[] = [];
    let total = 0;
    for (const { bytes } of this.txs.values()) {
      if (out.length >= maxTxs || total + bytes.length > maxBytes) break;
      out.push(bytes);
      total += bytes.length;
    }
    return out;
  }

  remove(txId: Uint8Array): void {
    const key = Buffer.from(txId).toString('hex');
    const entry = this.txs.get(key);
    if (entry === undefined) return;
    this.txs.delete(key);
    this.byRaw.delete(entry.raw);
    this.bytes -= entry.bytes.length;
  }

  /**
   * After a commit: drops the included transactions and those that expired by `blockTime`.
   *
   * Unlike CometBFT it does not re-run the full check on every remaining tx: with thousands waiting
   * that made each commit O(mempool) signature-free but still state-reading checks, and it only
   * matters for txs a block made invalid (a duplicate batch id, a spent balance). Those are caught
   * when a proposer's trial execution fails them, which removes them (see ChainNode.buildBlock).
   */
  recheck(included: readonly Uint8Array[], blockTime: number): number {
    for (const id of included) this.remove(id);
    let dropped = 0;
    for (const [key, { bytes, expiresAt, raw }] of [...this.txs]) {
      if (expiresAt < blockTime) {
        this.txs.delete(key);
        this.byRaw.delete(raw);
        this.bytes -= bytes.length;
        dropped++;
      }
    }
    return dropped;
  }
}
