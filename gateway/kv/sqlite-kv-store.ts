// The embedded KvStore: one SQLite file (better-sqlite3, WAL), one row per record id, ranges by BLOB (memcmp) order.
//
// Durability: WAL with synchronous=FULL by default — the WAL is fsynced at every COMMIT, so a record
// the gateway acknowledged over MQTT survives power loss. synchronous=NORMAL fsyncs only at checkpoints:
// much faster, still never corrupts the file, but the last commits can vanish on power loss (not on a
// process crash). All entries of one putIfAbsent are one IMMEDIATE transaction, so a batch costs one fsync.
// better-sqlite3 is synchronous: calls run to completion before their promise settles, so close()
// never has anything in flight to wait for.
import Database from 'better-sqlite3';
import { equalBytes } from '../../protocol/wire.js';
import { planRange, encodeCursor } from './kv-cursor.js';
import { KvError, checkEntry, checkGetKey, type KvEntry, type KvHealth, type KvStore, type PutOutcome, type RangeOptions, type RangePage } from './kv-store.js';

/** 'CCKV' in the SQLite header: a KV file is never mistaken for another SQLite file (and vice versa). */
export const KV_APPLICATION_ID = 0x43434b56;
const SCHEMA_VERSION = 1;

// A rowid table with a unique index rather than WITHOUT ROWID: values are sealed records of hundreds
// of bytes up to ~256 KiB, and SQLite advises WITHOUT ROWID only for small rows. The unique index on
// (address, encoded_key) serves the conflict check, get and range scans; BLOBs compare with memcmp.
const SCHEMA_SQL = `
  CREATE TABLE kv_records (
    address      TEXT    NOT NULL,
    encoded_key  BLOB    NOT NULL,
    record       BLOB    NOT NULL,
    origin_proof BLOB    NOT NULL,
    received_at  INTEGER NOT NULL,
    UNIQUE (address, encoded_key)
  );`;

export type SqliteSynchronous = 'FULL' | 'NORMAL';

export interface SqliteKvStoreOptions {
  path: string;
  /** FULL (default): durable at COMMIT. NORMAL: durable at checkpoint; survives crashes, not power loss. */
  synchronous?: SqliteSynchronous;
  /** Wait this long for another connection's write lock before KV_UNAVAILABLE (default 2000 ms). */
  busyTimeoutMs?: number;
}

interface Row {
  address: string;
  encoded_key: Buffer;
  record: Buffer;
  origin_proof: Buffer;
  received_at: number;
}

const asBuffer = (bytes: Uint8Array) => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);

export class SqliteKvStore implements KvStore {
  private readonly db: Database.Database;
  private readonly path: string;
  private readonly synchronous: SqliteSynchronous;
  private readonly sql: ReturnType<typeof prepareStatements>;
  private closed = false;

  static open(options: SqliteKvStoreOptions): SqliteKvStore {
    const synchronous = options.synchronous ?? 'FULL';
    if (synchronous !== 'FULL' && synchronous !== 'NORMAL') throw new KvError('KV_OPEN_FAILED', `synchronous must be FULL or NORMAL, got ${String(synchronous)}`);
    let db: Database.Database;
    try {
      db = new Database(options.path, { timeout: options.busyTimeoutMs ?? 2000 });
    } catch (err) {
      throw new KvError('KV_OPEN_FAILED', `${options.path}: ${describe(err)}`, { cause: err });
    }
    try {
      const mode = db.pragma('journal_mode = WAL', { simple: true });
      if (mode !== 'wal') throw new KvError('KV_OPEN_FAILED', `${options.path}: cannot switch to WAL (journal_mode is ${String(mode)})`);
      db.pragma(`synchronous = ${synchronous}`);
      migrate(db, options.path);
      return new SqliteKvStore(db, options.path, synchronous);
    } catch (err) {
      db.close();
      throw mapSqliteError(err, options.path);
    }
  }

  private constructor(db: Database.Database, path: string, synchronous: SqliteSynchronous) {
    this.db = db;
    this.path = path;
    this.synchronous = synchronous;
    this.sql = prepareStatements(db);
  }

  putIfAbsent(entries: readonly KvEntry[]): Promise<PutOutcome[]> {
    return this.run(() => {
      for (const entry of entries) checkEntry(entry);
      if (entries.length === 0) return [];
      return this.db.transaction(() => entries.map((e) => this.putOne(e))).immediate();
    });
  }

  private putOne(entry: KvEntry): PutOutcome {
    const key = asBuffer(entry.encodedKey);
    const inserted = this.sql.insert.run(entry.address, key, asBuffer(entry.record), asBuffer(entry.originProof), entry.receivedAt);
    if (inserted.changes === 1) return 'inserted';
    // Taken (possibly by an earlier entry of this same batch): same record bytes = duplicate.
    const stored = this.sql.record.get(entry.address, key) as { record: Buffer } | undefined;
    if (stored === undefined) throw new KvError('KV_BACKEND_ERROR', 'insert was ignored but no row holds the key');
    return equalBytes(stored.record, entry.record) ? 'duplicate' : 'conflict';
  }

  get(address: string, encodedKey: Uint8Array): Promise<KvEntry | null> {
    return this.run(() => {
      checkGetKey(address, encodedKey);
      const row = this.sql.get.get(address, asBuffer(encodedKey)) as Row | undefined;
      return row === undefined ? null : toEntry(row);
    });
  }

  range(address: string, start: Uint8Array, end: Uint8Array, options: RangeOptions): Promise<RangePage> {
    return this.run(() => {
      const plan = planRange(address, start, end, options);
      if (plan === null) return { entries: [], nextCursor: null };
      // One row more than asked tells whether another page exists, so the last page has a null cursor.
      const statement = plan.fromInclusive ? this.sql.rangeFrom : this.sql.rangeAfter;
      const rows = statement.all(address, asBuffer(plan.from), asBuffer(plan.end), plan.limit + 1) as Row[];
      const entries = rows.slice(0, plan.limit).map(toEntry);
      const nextCursor = rows.length > plan.limit ? encodeCursor(entries[entries.length - 1]!.encodedKey) : null;
      return { entries, nextCursor };
    });
  }

  health(): Promise<KvHealth> {
    return this.run(() => {
      const detail: Record<string, unknown> = { path: this.path, synchronous: this.synchronous, journalMode: 'wal' };
      try {
        detail.records = (this.sql.count.get() as { n: number }).n;
        return { backend: 'sqlite', ok: true, detail };
      } catch (err) {
        return { backend: 'sqlite', ok: false, detail: { ...detail, error: describe(err) } };
      }
    });
  }

  close(): Promise<void> {
    if (!this.closed) {
      this.closed = true;
      this.db.close();
    }
    return Promise.resolve();
  }

  /** Runs a synchronous body as a Promise, mapping SQLite errors; refuses calls after close(). */
  private run<T>(body: () => T): Promise<T> {
    if (this.closed) return Promise.reject(new KvError('KV_CLOSED', 'the KV store is closed'));
    try {
      return Promise.resolve(body());
    } catch (err) {
      return Promise.reject(mapSqliteError(err, this.path));
    }
  }
}

function prepareStatements(db: Database.Database) {
  const columns = 'address, encoded_key, record, origin_proof, received_at';
  return {
    insert: db.prepare(`INSERT INTO kv_records (${columns}) VALUES (?, ?, ?, ?, ?) ON CONFLICT (address, encoded_key) DO NOTHING`),
    record: db.prepare('SELECT record FROM kv_records WHERE address = ? AND encoded_key = ?'),
    get: db.prepare(`SELECT ${columns} FROM kv_records WHERE address = ? AND encoded_key = ?`),
    rangeFrom: db.prepare(`SELECT ${columns} FROM kv_records WHERE address = ? AND encoded_key >= ? AND encoded_key < ? ORDER BY encoded_key LIMIT ?`),
    rangeAfter: db.prepare(`SELECT ${columns} FROM kv_records WHERE address = ? AND encoded_key > ? AND encoded_key < ? ORDER BY encoded_key LIMIT ?`),
    count: db.prepare('SELECT count(*) AS n FROM kv_records'),
  };
}

function migrate(db: Database.Database, path: string): void {
  db.transaction(() => {
    const applicationId = Number(db.pragma('application_id', { simple: true }));
    const version = Number(db.pragma('user_version', { simple: true }));
    if (applicationId === KV_APPLICATION_ID) {
      if (version > SCHEMA_VERSION) throw new KvError('KV_OPEN_FAILED', `${path}: schema version ${version}, this gateway knows up to ${SCHEMA_VERSION}`);
      return;
    }
    const objects = (db.prepare('SELECT count(*) AS n FROM sqlite_schema').get() as { n: number }).n;
    if (applicationId !== 0 || objects !== 0) throw new KvError('KV_OPEN_FAILED', `${path}: a SQLite file that is not a KV store (application_id ${applicationId})`);
    db.exec(SCHEMA_SQL);
    db.pragma(`application_id = ${KV_APPLICATION_ID}`);
    db.pragma(`user_version = ${SCHEMA_VERSION}`);
  }).immediate();
}

function toEntry(row: Row): KvEntry {
  return {
    address: row.address,
    encodedKey: new Uint8Array(row.encoded_key),
    record: new Uint8Array(row.record),
    originProof: new Uint8Array(row.origin_proof),
    receivedAt: row.received_at,
  };
}

function mapSqliteError(err: unknown, path: string): Error {
  if (err instanceof KvError) return err;
  const code = typeof err === 'object' && err !== null && 'code' in err ? String(err.code) : '';
  // Lock contention, a full disk and I/O errors can clear up; the transaction was rolled back.
  if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED') || code.startsWith('SQLITE_FULL') || code.startsWith('SQLITE_IOERR')) {
    return new KvError('KV_UNAVAILABLE', `${path}: ${describe(err)}`, { cause: err, temporary: true });
  }
  if (code.startsWith('SQLITE_')) return new KvError('KV_BACKEND_ERROR', `${path}: ${describe(err)}`, { cause: err });
  return err instanceof Error ? err : new Error(String(err));
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
