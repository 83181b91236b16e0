// The gateway's durable batch log: every stored record's leaf, sealed in order into RFC 6962 batches awaiting anchoring.
//
// Crash safety comes from SQLite transactions: appending leaves, sealing a batch (root + leaf
// indexes) and recording an anchor are each one transaction, so kill -9 between any two steps leaves
// either the old or the new state. A leaf is keyed by record id, so a redelivered message (after a
// crash between the KV write and this log) re-appends only what is missing, and never twice.
import Database from 'better-sqlite3';
import { CarchainError } from '../../protocol/errors.js';
import { MerkleTree } from '../../protocol/merkle.js';

export class LeafLogError extends CarchainError<'LEAF_LOG_CORRUPT' | 'LEAF_LOG_CLOSED' | 'LEAF_LOG_UNKNOWN_BATCH'> {}

export interface LeafInput {
  recordId: Uint8Array;
  leafHash: Uint8Array;
}

export interface SealedBatch {
  batchId: number;
  root: Uint8Array;
  size: number;
  sealedAt: number;
  anchor: { txHash: Uint8Array; height: number } | null;
}

export interface LeafLocation {
  /** RFC 6962 leaf hash of the record bytes (the proof's starting point). */
  leafHash: Uint8Array;
  batchId: number;
  leafIndex: number;
  size: number;
  root: Uint8Array;
  path: Uint8Array[];
  anchor: { txHash: Uint8Array; height: number } | null;
}

/** What the log knows of a record: nothing, a leaf waiting for the next batch, or its sealed location. */
export type LeafLookup = { state: 'unknown' } | { state: 'pending'; leafHash: Uint8Array } | { state: 'sealed'; location: LeafLocation };

const SCHEMA = `
CREATE TABLE IF NOT EXISTS leaves (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  record_id BLOB NOT NULL UNIQUE,
  leaf_hash BLOB NOT NULL,
  batch_id INTEGER,
  leaf_index INTEGER
);
CREATE INDEX IF NOT EXISTS leaves_unbatched ON leaves (seq) WHERE batch_id IS NULL;
CREATE INDEX IF NOT EXISTS leaves_by_batch ON leaves (batch_id, leaf_index);
CREATE TABLE IF NOT EXISTS batches (
  batch_id INTEGER PRIMARY KEY,
  root BLOB NOT NULL,
  size INTEGER NOT NULL,
  sealed_at INTEGER NOT NULL,
  anchor_tx BLOB,
  anchor_height INTEGER
);
`;

export class LeafLog {
  private readonly db: Database.Database;
  private readonly statements;
  private readonly treeCache = new Map<number, MerkleTree>();

  constructor(path: string, private readonly now: () => number = Date.now) {
    try {
      this.db = new Database(path);
      this.db.pragma('journal_mode = WAL');
      this.db.pragma('synchronous = FULL');
      this.db.exec(SCHEMA);
    } catch (cause) {
      throw new LeafLogError('LEAF_LOG_CORRUPT', `cannot open leaf log ${path}: ${(cause as Error).message}`, { cause });
    }
    this.statements = {
      append: this.db.prepare('INSERT OR IGNORE INTO leaves (record_id, leaf_hash) VALUES (?, ?)'),
      unbatched: this.db.prepare('SELECT seq, leaf_hash FROM leaves WHERE batch_id IS NULL ORDER BY seq LIMIT ?'),
      pendingCount: this.db.prepare('SELECT COUNT(*) AS n FROM leaves WHERE batch_id IS NULL'),
      oldestPending: this.db.prepare('SELECT MIN(seq) AS seq FROM leaves WHERE batch_id IS NULL'),
      nextBatch: this.db.prepare('SELECT COALESCE(MAX(batch_id), 0) + 1 AS id FROM batches'),
      insertBatch: this.db.prepare('INSERT INTO batches (batch_id, root, size, sealed_at) VALUES (?, ?, ?, ?)'),
      assign: this.db.prepare('UPDATE leaves SET batch_id = ?, leaf_index = ? WHERE seq = ?'),
      unanchored: this.db.prepare('SELECT * FROM batches WHERE anchor_tx IS NULL ORDER BY batch_id'),
      batch: this.db.prepare('SELECT * FROM batches WHERE batch_id = ?'),
      anchor: this.db.prepare('UPDATE batches SET anchor_tx = ?, anchor_height = ? WHERE batch_id = ? AND anchor_tx IS NULL'),
      locate: this.db.prepare('SELECT leaf_hash, batch_id, leaf_index FROM leaves WHERE record_id = ?'),
      batchLeaves: this.db.prepare('SELECT leaf_hash FROM leaves WHERE batch_id = ? ORDER BY leaf_index'),
      counts: this.db.prepare('SELECT COUNT(*) AS batches, SUM(anchor_tx IS NOT NULL) AS anchored FROM batches'),
    };
  }

  /** One transaction; leaves already present (same record id) are skipped. Returns how many were new. */
  append(leaves: readonly LeafInput[]): number {
    const run = this.db.transaction((items: readonly LeafInput[]) => {
      let added = 0;
      for (const leaf of items) added += this.statements.append.run(leaf.recordId, leaf.leafHash).changes;
      return added;
    });
    return run(leaves);
  }

  pendingLeaves(): number {
    return (this.statements.pendingCount.get() as { n: number }).n;
  }

  /**
   * Seals the oldest unbatched leaves (at most `maxLeaves`) into the next batch, atomically, and
   * returns it; null when there is nothing to seal.
   */
  sealBatch(maxLeaves: number): SealedBatch | null {
    const seal = this.db.transaction((): SealedBatch | null => {
      const rows = this.statements.unbatched.all(maxLeaves) as { seq: number; leaf_hash: Buffer }[];
      if (rows.length === 0) return null;
      const tree = new MerkleTree(rows.map((r) => new Uint8Array(r.leaf_hash)));
      const batchId = (this.statements.nextBatch.get() as { id: number }).id;
      const sealedAt = this.now();
      this.statements.insertBatch.run(batchId, tree.root, rows.length, sealedAt);
      rows.forEach((row, index) => this.statements.assign.run(batchId, index, row.seq));
      this.treeCache.set(batchId, tree);
      return { batchId, root: tree.root, size: rows.length, sealedAt, anchor: null };
    });
    return seal.immediate();
  }

  /** Sealed batches whose anchor has not been recorded, oldest first (re-submitted after a crash). */
  unanchoredBatches(): SealedBatch[] {
    return (this.statements.unanchored.all() as BatchRow[]).map(toBatch);
  }

  /** Records the anchor once; a second call for the same batch is a no-op (returns false). */
  markAnchored(batchId: number, txHash: Uint8Array, height: number): boolean {
    if (!this.statements.batch.get(batchId)) throw new LeafLogError('LEAF_LOG_UNKNOWN_BATCH', `no batch ${batchId}`);
    return this.statements.anchor.run(txHash, height, batchId).changes === 1;
  }

  batch(batchId: number): SealedBatch | null {
    const row = this.statements.batch.get(batchId) as BatchRow | undefined;
    return row ? toBatch(row) : null;
  }

  /** Where a record's leaf sits and its inclusion path; null if unknown or not yet sealed. */
  locate(recordId: Uint8Array): LeafLocation | null {
    const found = this.lookup(recordId);
    return found.state === 'sealed' ? found.location : null;
  }

  /** Like locate, but tells an unknown record from one whose leaf waits for the next batch. Read-only. */
  lookup(recordId: Uint8Array): LeafLookup {
    const row = this.statements.locate.get(recordId) as { leaf_hash: Buffer; batch_id: number | null; leaf_index: number | null } | undefined;
    if (!row) return { state: 'unknown' };
    const leafHash = new Uint8Array(row.leaf_hash);
    if (row.batch_id === null || row.leaf_index === null) return { state: 'pending', leafHash };
    const batch = this.batch(row.batch_id)!;
    const path = this.tree(batch.batchId).inclusionProof(row.leaf_index);
    return { state: 'sealed', location: { leafHash, batchId: batch.batchId, leafIndex: row.leaf_index, size: batch.size, root: batch.root, path, anchor: batch.anchor } };
  }

  stats(): { pendingLeaves: number; batches: number; anchoredBatches: number } {
    const c = this.statements.counts.get() as { batches: number; anchored: number | null };
    return { pendingLeaves: this.pendingLeaves(), batches: c.batches, anchoredBatches: c.anchored ?? 0 };
  }

  close(): void {
    this.db.close();
  }

  private tree(batchId: number): MerkleTree {
    let tree = this.treeCache.get(batchId);
    if (!tree) {
      const leaves = (this.statements.batchLeaves.all(batchId) as { leaf_hash: Buffer }[]).map((r) => new Uint8Array(r.leaf_hash));
      tree = new MerkleTree(leaves);
      if (this.treeCache.size > 64) this.treeCache.delete(this.treeCache.keys().next().value!);
      this.treeCache.set(batchId, tree);
    }
    return tree;
  }
}

interface BatchRow {
  batch_id: number;
  root: Buffer;
  size: number;
  sealed_at: number;
  anchor_tx: Buffer | null;
  anchor_height: number | null;
}

function toBatch(row: BatchRow): SealedBatch {
  return {
    batchId: row.batch_id,
    root: new Uint8Array(row.root),
    size: row.size,
    sealedAt: row.sealed_at,
    anchor: row.anchor_tx ? { txHash: new Uint8Array(row.anchor_tx), height: row.anchor_height! } : null,
  };
}
