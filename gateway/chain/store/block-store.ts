// The validator's durable chain: blocks, their commits, validator sets, the tx index and the application state, in one SQLite file.
//
// A decided height is saved in ONE transaction (block, commit, state writes, next validator set, tx
// index), so after kill -9 the file holds either all of a height or none of it; the consensus WAL then
// replays the unfinished height. synchronous=FULL: a height acknowledged as committed survives power loss.
import Database from 'better-sqlite3';
import { CarchainError } from '../../../protocol/errors.js';
import { type Commit, decodeCommit, encodeCommit } from '../consensus/messages.js';
import { decodeValidatorSet, encodeValidatorSet, type ValidatorSet } from '../consensus/validator-set.js';
import type { StateReader, StateWrite } from '../app/state.js';
import { type Block, type BlockHeader, decodeBlock, decodeHeader, encodeHeader } from '../block/block.js';

export type BlockStoreErrorCode = 'STORE_CORRUPT' | 'STORE_MISMATCH' | 'STORE_CLOSED' | 'NOT_FOUND';
export class BlockStoreError extends CarchainError<BlockStoreErrorCode> {}

// The application's own state types: the store is what the application executes against.
export type { StateReader, StateWrite } from '../app/state.js';

export interface SavedHeight {
  block: Block;
  blockBytes: Uint8Array;
  blockId: Uint8Array;
  commit: Commit;
  writes: readonly StateWrite[];
  /** The set deciding height + 1. */
  nextValidators: ValidatorSet;
  txIds: readonly Uint8Array[];
}

export interface TxLocation {
  height: number;
  index: number;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS blocks (height INTEGER PRIMARY KEY, id BLOB NOT NULL UNIQUE, header BLOB NOT NULL, block BLOB NOT NULL, time INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS commits (height INTEGER PRIMARY KEY, commit_bytes BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS validator_sets (height INTEGER PRIMARY KEY, set_bytes BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS txs (id BLOB PRIMARY KEY, height INTEGER NOT NULL, idx INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS state (key BLOB PRIMARY KEY, value BLOB NOT NULL) WITHOUT ROWID;
`;

/** The smallest key greater than every key starting with `prefix` (null if none: all 0xff). */
function prefixEnd(prefix: Uint8Array): Uint8Array | null {
  const end = Uint8Array.from(prefix);
  for (let i = end.length - 1; i >= 0; i--) {
    if (end[i]! < 0xff) {
      end[i]! += 1;
      return end.subarray(0, i + 1);
    }
  }
  return null;
}

const STATE_CACHE_ENTRIES = 100_000;

function stateCacheKey(key: Uint8Array): string {
  return Buffer.from(key.buffer, key.byteOffset, key.byteLength).toString('latin1');
}

export class BlockStore implements StateReader {
  private readonly db: Database.Database;
  /** Prepared once: state reads run for every transaction check. */
  private readonly getState: Database.Statement;
  private readonly statements = new Map<string, Database.Statement>();
  /**
   * Committed state by key (null = absent), written through by save/initialise once their SQLite
   * transaction has committed. Every tx is checked at admission and again in a block, each time
   * reading the same few keys (its replay id, the signer's role, the batch it anchors).
   */
  private readonly stateCache = new Map<string, Uint8Array | null>();

  private constructor(path: string) {
    this.db = new Database(path);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = FULL');
    this.db.exec(SCHEMA);
    this.getState = this.db.prepare('SELECT value FROM state WHERE key = ?');
  }

  /** Statements are compiled once per SQL text: several run for every transaction and block. */
  private sql(text: string): Database.Statement {
    let st = this.statements.get(text);
    if (st === undefined) {
      st = this.db.prepare(text);
      this.statements.set(text, st);
    }
    return st;
  }

  /**
   * Opens (or creates) the store for a chain. `genesisHash` pins the file to one genesis: opening a
   * store made for another genesis is STORE_MISMATCH rather than a silent fork.
   */
  static open(path: string, genesisHash: Uint8Array): BlockStore {
    const store = new BlockStore(path);
    const pinned = store.meta('genesis');
    if (pinned === undefined) store.setMeta('genesis', genesisHash);
    else if (Buffer.compare(pinned, genesisHash) !== 0) {
      store.close();
      throw new BlockStoreError('STORE_MISMATCH', `${path} belongs to another genesis`);
    }
    return store;
  }

  close(): void {
    if (this.db.open) this.db.close();
  }

  private meta(key: string): Uint8Array | undefined {
    const row = this.sql('SELECT value FROM meta WHERE key = ?').get(key) as { value: Buffer } | undefined;
    return row === undefined ? undefined : new Uint8Array(row.value);
  }

  private setMeta(key: string, value: Uint8Array): void {
    this.sql('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value').run(key, value);
  }

  /** True once genesis state has been written (height 0 exists). */
  isInitialised(): boolean {
    return this.meta('app_hash') !== undefined;
  }

  /** Writes the genesis state and the set deciding height 1; idempotent for the same genesis. */
  initialise(writes: readonly StateWrite[], appHash: Uint8Array, validators: ValidatorSet): void {
    if (this.isInitialised()) return;
    this.db.transaction(() => {
      this.applyWrites(writes);
      this.sql('INSERT INTO validator_sets (height, set_bytes) VALUES (1, ?)').run(encodeValidatorSet(validators));
      this.setMeta('app_hash', appHash);
    })();
    this.cacheWrites(writes);
  }

  /** Highest saved height; 0 before the first block. */
  height(): number {
    const row = this.sql('SELECT MAX(height) AS h FROM blocks').get() as { h: number | null };
    return row.h ?? 0;
  }

  /** App hash after the last saved height (the genesis app hash at height 0). */
  appHash(): Uint8Array {
    const h = this.meta('app_hash');
    if (h === undefined) throw new BlockStoreError('STORE_CORRUPT', 'no app hash: store not initialised');
    return h;
  }

  save(s: SavedHeight): void {
    const height = s.block.header.height;
    this.db.transaction(() => {
      const expected = this.height() + 1;
      if (height !== expected) throw new BlockStoreError('STORE_MISMATCH', `saving height ${height}, expected ${expected}`);
      this.sql('INSERT INTO blocks (height, id, header, block, time) VALUES (?, ?, ?, ?, ?)')
        .run(height, s.blockId, encodeHeader(s.block.header), s.blockBytes, s.block.header.time);
      this.sql('INSERT INTO commits (height, commit_bytes) VALUES (?, ?)').run(height, encodeCommit(s.commit));
      this.sql('INSERT INTO validator_sets (height, set_bytes) VALUES (?, ?)').run(height + 1, encodeValidatorSet(s.nextValidators));
      const index = this.sql('INSERT OR IGNORE INTO txs (id, height, idx) VALUES (?, ?, ?)');
      s.txIds.forEach((id, i) => index.run(id, height, i));
      this.applyWrites(s.writes);
      this.setMeta('app_hash', s.block.header.appHash);
    })();
    this.cacheWrites(s.writes);
  }

  /** After a committed SQLite transaction: the cache follows what is now on disk. */
  private cacheWrites(writes: readonly StateWrite[]): void {
    for (const w of writes) {
      const key = stateCacheKey(w.key);
      if (this.stateCache.has(key)) this.stateCache.set(key, w.value === null ? null : w.value.slice());
    }
  }

  private applyWrites(writes: readonly StateWrite[]): void {
    const put = this.sql('INSERT INTO state (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value');
    const del = this.sql('DELETE FROM state WHERE key = ?');
    for (const w of writes) {
      if (w.value === null) del.run(w.key);
      else put.run(w.key, w.value);
    }
  }

  blockBytes(height: number): Uint8Array | undefined {
    const row = this.sql('SELECT block FROM blocks WHERE height = ?').get(height) as { block: Buffer } | undefined;
    return row === undefined ? undefined : new Uint8Array(row.block);
  }

  block(height: number): Block | undefined {
    const bytes = this.blockBytes(height);
    return bytes === undefined ? undefined : decodeBlock(bytes);
  }

  header(height: number): BlockHeader | undefined {
    const row = this.sql('SELECT header FROM blocks WHERE height = ?').get(height) as { header: Buffer } | undefined;
    return row === undefined ? undefined : decodeHeader(new Uint8Array(row.header));
  }

  blockId(height: number): Uint8Array | undefined {
    const row = this.sql('SELECT id FROM blocks WHERE height = ?').get(height) as { id: Buffer } | undefined;
    return row === undefined ? undefined : new Uint8Array(row.id);
  }

  /** The commit that decided `height` (as seen by this node). */
  commit(height: number): Commit | undefined {
    const row = this.sql('SELECT commit_bytes FROM commits WHERE height = ?').get(height) as { commit_bytes: Buffer } | undefined;
    return row === undefined ? undefined : decodeCommit(new Uint8Array(row.commit_bytes));
  }

  /** The set deciding `height` (known up to height() + 1). */
  validatorsAt(height: number): ValidatorSet | undefined {
    const row = this.sql('SELECT set_bytes FROM validator_sets WHERE height = ?').get(height) as { set_bytes: Buffer } | undefined;
    return row === undefined ? undefined : decodeValidatorSet(new Uint8Array(row.set_bytes));
  }

  /** Heights h < `below` whose block changed the set (the set deciding h + 1 differs from h's), ascending. */
  validatorSetChanges(below: number): number[] {
    const rows = this.sql(`SELECT a.height AS h FROM validator_sets a JOIN validator_sets b ON b.height = a.height + 1
      WHERE a.height < ? AND a.set_bytes != b.set_bytes ORDER BY a.height`).all(below) as { h: number }[];
    return rows.map((r) => r.h);
  }

  locateTx(txId: Uint8Array): TxLocation | undefined {
    const row = this.sql('SELECT height, idx FROM txs WHERE id = ?').get(txId) as { height: number; idx: number } | undefined;
    return row === undefined ? undefined : { height: row.height, index: row.idx };
  }

  get(key: Uint8Array): Uint8Array | undefined {
    const cacheKey = stateCacheKey(key);
    let value = this.stateCache.get(cacheKey);
    if (value === undefined) {
      const row = this.getState.get(key) as { value: Buffer } | undefined;
      value = row === undefined ? null : new Uint8Array(row.value);
      // Cleared rather than evicted one by one: cheap, and refilled within a block or two.
      if (this.stateCache.size >= STATE_CACHE_ENTRIES) this.stateCache.clear();
      this.stateCache.set(cacheKey, value);
    }
    // A copy: callers own what they get, as they did when every read came from SQLite.
    return value === null ? undefined : value.slice();
  }

  /** Materialised rather than iterated: better-sqlite3 refuses other statements while an iterator is open. */
  scan(prefix: Uint8Array, limit = Number.MAX_SAFE_INTEGER): Iterable<[Uint8Array, Uint8Array]> {
    const end = prefixEnd(prefix);
    const rows = (end === null
      ? this.sql('SELECT key, value FROM state WHERE key >= ? ORDER BY key LIMIT ?').all(prefix, limit)
      : this.sql('SELECT key, value FROM state WHERE key >= ? AND key < ? ORDER BY key LIMIT ?').all(prefix, end, limit)) as { key: Buffer; value: Buffer }[];
    return rows.map((row): [Uint8Array, Uint8Array] => [new Uint8Array(row.key), new Uint8Array(row.value)]);
  }
}
