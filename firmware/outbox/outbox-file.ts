// The outbox's SQLite file: durability pragmas, one owning process, telling outboxes from other files, schema migrations.
//
// Durability: WAL with synchronous=FULL, so a transaction is on disk (WAL fsynced) when COMMIT returns.
// Ownership: locking_mode=EXCLUSIVE, taken by a write transaction at open, so a second process gets
// OUTBOX_LOCKED instead of two writers silently sharing the file (SqliteOutbox keeps its size counters in
// memory and relies on being the only writer). The OS drops the lock when the owner dies, even by kill -9.
// Identity: the header's application_id marks an outbox; user_version is the schema version.
import Database from 'better-sqlite3';
import { OutboxError } from './outbox.js';

/** 'CCOB' — CarChain OutBox; written in the SQLite header so other SQLite files are never mistaken for one. */
export const OUTBOX_APPLICATION_ID = 0x43434f42;

export interface Migration {
  /** The user_version after this step. */
  version: number;
  description: string;
  sql: string;
}

/** Applied in order, each file from its user_version up, in one transaction. Never edit a released step: add one. */
export const OUTBOX_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: 'records: seq order, unique record id, per-address and per-priority indexes',
    sql: `
      CREATE TABLE records (
        seq        INTEGER PRIMARY KEY AUTOINCREMENT,
        id         TEXT    NOT NULL UNIQUE,
        address    TEXT    NOT NULL,
        format     TEXT    NOT NULL,
        priority   INTEGER NOT NULL CHECK (priority IN (0, 1)),
        created_at INTEGER NOT NULL,
        size       INTEGER NOT NULL,
        bytes      BLOB    NOT NULL
      );
      CREATE INDEX records_by_address ON records (address, seq);
      CREATE INDEX records_by_priority ON records (priority, seq);`,
  },
  {
    version: 2,
    description: 'counters: eviction totals that survive restarts',
    sql: `
      CREATE TABLE counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
      INSERT INTO counters (name, value) VALUES ('evicted_records', 0), ('evicted_bytes', 0);`,
  },
];

export const OUTBOX_SCHEMA_VERSION = OUTBOX_MIGRATIONS[OUTBOX_MIGRATIONS.length - 1]!.version;

export interface OpenOutboxFileOptions {
  path: string;
  /** How long to wait for another process's lock before OUTBOX_LOCKED (default 2000 ms). */
  busyTimeoutMs?: number;
  /** Run PRAGMA quick_check at open and refuse a damaged file (default true). */
  quickCheck?: boolean;
  /** Migrate only up to this version (tests of the migration path); default OUTBOX_SCHEMA_VERSION. */
  targetVersion?: number;
}

/** Opens (creating if missing) an outbox file, checks it is one, and migrates it. Throws OutboxError. */
export function openOutboxFile(options: OpenOutboxFileOptions): Database.Database {
  const target = options.targetVersion ?? OUTBOX_SCHEMA_VERSION;
  let db: Database.Database;
  try {
    db = new Database(options.path, { timeout: options.busyTimeoutMs ?? 2000 });
  } catch (err) {
    // better-sqlite3 throws a plain TypeError for a missing directory; anything here is an open failure.
    const mapped = mapSqliteError(err, options.path);
    throw mapped instanceof OutboxError ? mapped : new OutboxError('OUTBOX_OPEN_FAILED', `${options.path}: ${describe(err)}`, { cause: err });
  }
  try {
    db.pragma('locking_mode = EXCLUSIVE');
    const mode = db.pragma('journal_mode = WAL', { simple: true });
    if (mode !== 'wal') throw new OutboxError('OUTBOX_OPEN_FAILED', `${options.path}: cannot switch to WAL (journal_mode is ${String(mode)})`);
    db.pragma('synchronous = FULL');
    // After a checkpoint the WAL is truncated to this size, so a burst does not leave a large file behind.
    db.pragma('journal_size_limit = 4194304');
    const version = checkIdentity(db, options.path);
    if (options.quickCheck ?? true) {
      const problems = runCheck(db, 'quick_check');
      if (problems.length > 0) throw new OutboxError('OUTBOX_CORRUPT', `${options.path}: quick_check failed: ${problems.slice(0, 5).join('; ')}`);
    }
    migrate(db, version, target);
    return db;
  } catch (err) {
    db.close();
    throw mapSqliteError(err, options.path);
  }
}

/** Returns the file's schema version (0 for a brand-new empty file); refuses anything that is not an outbox. */
function checkIdentity(db: Database.Database, path: string): number {
  const applicationId = Number(db.pragma('application_id', { simple: true }));
  const version = Number(db.pragma('user_version', { simple: true }));
  if (applicationId === OUTBOX_APPLICATION_ID) {
    if (version > OUTBOX_SCHEMA_VERSION) {
      throw new OutboxError('OUTBOX_SCHEMA_TOO_NEW', `${path}: schema version ${version}, this firmware knows up to ${OUTBOX_SCHEMA_VERSION}`);
    }
    return version;
  }
  const objects = (db.prepare('SELECT count(*) AS n FROM sqlite_schema').get() as { n: number }).n;
  if (applicationId === 0 && version === 0 && objects === 0) return 0;
  throw new OutboxError('OUTBOX_CORRUPT', `${path}: a SQLite file that is not an outbox (application_id ${applicationId}, ${objects} schema objects)`);
}

function migrate(db: Database.Database, from: number, to: number): void {
  // IMMEDIATE even when there is nothing to do: the write lock is what makes this process the owner.
  db.transaction(() => {
    if (from === 0) db.pragma(`application_id = ${OUTBOX_APPLICATION_ID}`);
    for (const step of OUTBOX_MIGRATIONS) {
      if (step.version <= from || step.version > to) continue;
      db.exec(step.sql);
      db.pragma(`user_version = ${step.version}`);
    }
  }).immediate();
}

function runCheck(db: Database.Database, pragma: 'quick_check' | 'integrity_check'): string[] {
  const rows = db.pragma(pragma) as Record<string, string>[];
  const messages = rows.map((row) => String(Object.values(row)[0]));
  return messages.length === 1 && messages[0] === 'ok' ? [] : messages;
}

/** PRAGMA integrity_check on an open connection: [] when the file is sound, else SQLite's findings. */
export function integrityProblems(db: Database.Database): string[] {
  return runCheck(db, 'integrity_check');
}

export interface OutboxFileCheck {
  ok: boolean;
  /** integrity_check findings, or why the file is not a readable outbox. */
  problems: string[];
  schemaVersion: number;
}

/**
 * Full integrity check of an outbox file that no process has open (e.g. after a crash, before the
 * firmware reopens it). Opens without the exclusive lock and without migrating; recovers the WAL.
 */
export function checkOutboxFile(path: string): OutboxFileCheck {
  let db: Database.Database;
  try {
    db = new Database(path, { fileMustExist: true, timeout: 2000 });
  } catch (err) {
    return { ok: false, problems: [describe(err)], schemaVersion: 0 };
  }
  try {
    const applicationId = Number(db.pragma('application_id', { simple: true }));
    const schemaVersion = Number(db.pragma('user_version', { simple: true }));
    if (applicationId !== OUTBOX_APPLICATION_ID) return { ok: false, problems: ['not an outbox (application_id)'], schemaVersion };
    const problems = integrityProblems(db);
    return { ok: problems.length === 0, problems, schemaVersion };
  } catch (err) {
    return { ok: false, problems: [describe(err)], schemaVersion: 0 };
  } finally {
    db.close();
  }
}

/** Maps better-sqlite3's SqliteError codes onto OutboxError; OutboxErrors pass through. */
export function mapSqliteError(err: unknown, path: string): unknown {
  if (err instanceof OutboxError) return err;
  const code = typeof err === 'object' && err !== null && 'code' in err ? String(err.code) : '';
  if (code === 'SQLITE_NOTADB' || code.startsWith('SQLITE_CORRUPT')) {
    return new OutboxError('OUTBOX_CORRUPT', `${path}: ${describe(err)}`, { cause: err });
  }
  if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED')) {
    return new OutboxError('OUTBOX_LOCKED', `${path}: held by another process`, { cause: err, temporary: true });
  }
  if (code.startsWith('SQLITE_FULL')) {
    return new OutboxError('OUTBOX_FULL', `${path}: the disk is full`, { cause: err, temporary: true });
  }
  if (code.startsWith('SQLITE_CANTOPEN') || code.startsWith('SQLITE_PERM') || code.startsWith('SQLITE_READONLY') || code.startsWith('SQLITE_IOERR')) {
    return new OutboxError('OUTBOX_OPEN_FAILED', `${path}: ${describe(err)}`, { cause: err });
  }
  return err;
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
