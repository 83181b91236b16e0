// The dongle's outbox on SQLite (better-sqlite3): bounded, durable at COMMIT, oldest-first per address, low priority evicted first.
//
// Full policy (docs/outbox-and-uplink.md): a batch that does not fit first evicts the oldest
// low-priority records (counted in stats, persisted, logged); if it still cannot fit because only
// high-priority records remain, the whole batch is refused with OUTBOX_FULL (temporary) and nothing
// changes — a high-priority record is never dropped, the producer keeps it and retries.
import type Database from 'better-sqlite3';
import { decodeAddress } from '../../protocol/address.js';
import { encodeRecord, recordFormat, recordId } from '../../protocol/record.js';
import { equalBytes } from '../../protocol/wire.js';
import { integrityProblems, mapSqliteError, openOutboxFile } from './outbox-file.js';
import {
  OutboxError,
  defaultPriority,
  type AddressStats,
  type EnqueueResult,
  type LogFn,
  type Outbox,
  type OutboxEntry,
  type OutboxItem,
  type OutboxPriority,
  type OutboxStats,
  type PeekOptions,
} from './outbox.js';

export const DEFAULT_MAX_RECORDS = 100_000;
export const DEFAULT_MAX_BYTES = 64 * 1024 * 1024;

export interface SqliteOutboxOptions {
  path: string;
  /** Bound on queued records (default 100,000). */
  maxRecords?: number;
  /** Bound on queued record bytes, SQLite overhead not included (default 64 MiB). */
  maxBytes?: number;
  /** Priority of a record whose OutboxItem gives none (default: defaultPriority by format). */
  priorityOf?: (format: string) => OutboxPriority;
  now?: () => number;
  log?: LogFn;
  busyTimeoutMs?: number;
  /** PRAGMA quick_check at open (default true). */
  quickCheckOnOpen?: boolean;
}

interface Prepared {
  id: string;
  address: string;
  format: string;
  priority: 0 | 1;
  bytes: Uint8Array;
}

interface Row {
  seq: number;
  id: string;
  address: string;
  format: string;
  priority: 0 | 1;
  created_at: number;
  size: number;
  bytes: Buffer;
}

/** What one enqueue transaction did; applied to the totals only after COMMIT. */
interface Committed extends EnqueueResult {
  insertedBytes: number;
  lowInserted: number;
  lowInsertedBytes: number;
}

/** In-memory mirror of what the file holds; rebuilt from the file at open, changed only after a COMMIT. */
interface Totals {
  records: number;
  bytes: number;
  lowRecords: number;
  lowBytes: number;
  evictedRecords: number;
  evictedBytes: number;
}

const LOW = 0;
const HIGH = 1;
const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex');

export class SqliteOutbox implements Outbox {
  private readonly db: Database.Database;
  private readonly maxRecords: number;
  private readonly maxBytes: number;
  private readonly priorityOf: (format: string) => OutboxPriority;
  private readonly now: () => number;
  private readonly log: LogFn;
  private readonly path: string;
  private readonly listeners = new Set<() => void>();
  private totals: Totals;
  private rejectedBatches = 0;
  private closed = false;
  private readonly sql: ReturnType<typeof prepareStatements>;

  static open(options: SqliteOutboxOptions): SqliteOutbox {
    const db = openOutboxFile({ path: options.path, busyTimeoutMs: options.busyTimeoutMs, quickCheck: options.quickCheckOnOpen });
    try {
      return new SqliteOutbox(db, options);
    } catch (err) {
      db.close();
      throw mapSqliteError(err, options.path);
    }
  }

  private constructor(db: Database.Database, options: SqliteOutboxOptions) {
    this.db = db;
    this.path = options.path;
    this.maxRecords = positiveInteger(options.maxRecords ?? DEFAULT_MAX_RECORDS, 'maxRecords');
    this.maxBytes = positiveInteger(options.maxBytes ?? DEFAULT_MAX_BYTES, 'maxBytes');
    this.priorityOf = options.priorityOf ?? defaultPriority;
    this.now = options.now ?? Date.now;
    this.log = options.log ?? (() => undefined);
    this.sql = prepareStatements(db);
    this.totals = this.loadTotals();
  }

  enqueue(records: readonly OutboxItem[]): EnqueueResult {
    this.assertOpen();
    const prepared = records.map((item) => this.prepare(item));
    let result: Committed;
    try {
      result = this.db.transaction(() => this.enqueueInTransaction(prepared)).immediate();
    } catch (err) {
      const mapped = mapSqliteError(err, this.path);
      if (mapped instanceof OutboxError && mapped.code === 'OUTBOX_FULL') {
        this.rejectedBatches++;
        this.log('warn', 'outbox full: batch refused', { reason: mapped.message, records: prepared.length, queued: this.totals.records, queuedBytes: this.totals.bytes });
      }
      throw mapped;
    }
    // Committed: now the in-memory totals may follow.
    const t = this.totals;
    t.records += result.inserted - result.evictedRecords;
    t.bytes += result.insertedBytes - result.evictedBytes;
    t.lowRecords += result.lowInserted - result.evictedRecords;
    t.lowBytes += result.lowInsertedBytes - result.evictedBytes;
    t.evictedRecords += result.evictedRecords;
    t.evictedBytes += result.evictedBytes;
    if (result.evictedRecords > 0) {
      this.log('warn', 'outbox full: evicted oldest low-priority records', { evictedRecords: result.evictedRecords, evictedBytes: result.evictedBytes, totalEvicted: t.evictedRecords });
    }
    if (result.inserted > 0) this.notify();
    return { ids: result.ids, inserted: result.inserted, duplicates: result.duplicates, evictedRecords: result.evictedRecords, evictedBytes: result.evictedBytes };
  }

  private prepare(item: OutboxItem): Prepared {
    // Refuse what the uplink could never send: every stored row must decode again (decodeRecord checks the address too).
    decodeAddress(item.address);
    const bytes = encodeRecord(item);
    const format = recordFormat(item);
    const priority = item.priority ?? this.priorityOf(format);
    if (priority !== 'high' && priority !== 'low') throw new TypeError(`priority must be 'high' or 'low', got ${String(priority)}`);
    return { id: hex(recordId(item.address, item.encodedKey)), address: item.address, format, priority: priority === 'high' ? HIGH : LOW, bytes };
  }

  private enqueueInTransaction(prepared: Prepared[]): Committed {
    const fresh: Prepared[] = [];
    const seen = new Map<string, Uint8Array>();
    // Low-priority rows this very batch repeats: making room for the batch must not evict its own records.
    const spared = new Map<number, number>();
    let duplicates = 0;
    for (const p of prepared) {
      const stored = seen.has(p.id) ? undefined : this.sql.existing.get(p.id);
      const existing = seen.get(p.id) ?? stored?.bytes;
      if (existing !== undefined) {
        if (!equalBytes(existing, p.bytes)) {
          throw new OutboxError('OUTBOX_CONFLICT', `record ${p.id} is already queued with different bytes`);
        }
        if (stored !== undefined && stored.priority === LOW) spared.set(stored.seq, stored.size);
        duplicates++;
        continue;
      }
      seen.set(p.id, p.bytes);
      fresh.push(p);
    }
    const insertedBytes = fresh.reduce((n, p) => n + p.bytes.length, 0);
    if (fresh.length > this.maxRecords || insertedBytes > this.maxBytes) {
      throw new OutboxError('OUTBOX_BATCH_TOO_LARGE', `a batch of ${fresh.length} records / ${insertedBytes} bytes exceeds the outbox limits (${this.maxRecords} / ${this.maxBytes})`);
    }
    const { evictedRecords, evictedBytes } = this.evictFor(this.totals.records + fresh.length - this.maxRecords, this.totals.bytes + insertedBytes - this.maxBytes, spared);
    const createdAt = this.now();
    let lowInserted = 0;
    let lowInsertedBytes = 0;
    for (const p of fresh) {
      this.sql.insert.run(p.id, p.address, p.format, p.priority, createdAt, p.bytes.length, p.bytes);
      if (p.priority === LOW) {
        lowInserted++;
        lowInsertedBytes += p.bytes.length;
      }
    }
    return { ids: prepared.map((p) => p.id), inserted: fresh.length, insertedBytes, duplicates, evictedRecords, evictedBytes, lowInserted, lowInsertedBytes };
  }

  /**
   * Deletes the oldest low-priority records (except `spared`, seq → size) until `overRecords` and
   * `overBytes` are both covered, or throws OUTBOX_FULL without deleting anything.
   */
  private evictFor(overRecords: number, overBytes: number, spared: ReadonlyMap<number, number>): { evictedRecords: number; evictedBytes: number } {
    if (overRecords <= 0 && overBytes <= 0) return { evictedRecords: 0, evictedBytes: 0 };
    const sparedBytes = [...spared.values()].reduce((a, b) => a + b, 0);
    if (this.totals.lowRecords - spared.size < overRecords || this.totals.lowBytes - sparedBytes < overBytes) {
      throw new OutboxError('OUTBOX_FULL', `outbox full (${this.totals.records} records, ${this.totals.bytes} bytes; limits ${this.maxRecords} / ${this.maxBytes}) and not enough low-priority records to evict`, { temporary: true });
    }
    let evictedBytes = 0;
    const victims: number[] = [];
    for (const row of this.sql.oldestLow.iterate()) {
      if (spared.has(row.seq)) continue;
      victims.push(row.seq);
      evictedBytes += row.size;
      if (victims.length >= overRecords && evictedBytes >= overBytes) break;
    }
    this.sql.deleteSeqs.run(JSON.stringify(victims));
    this.sql.addCounter.run(victims.length, 'evicted_records');
    this.sql.addCounter.run(evictedBytes, 'evicted_bytes');
    return { evictedRecords: victims.length, evictedBytes };
  }

  peekBatch(options: PeekOptions): OutboxEntry[] {
    this.assertOpen();
    const maxRecords = positiveInteger(options.maxRecords, 'maxRecords');
    const maxBytes = positiveInteger(options.maxBytes, 'maxBytes');
    const excludedIds = JSON.stringify([...(options.excludeIds ?? [])]);
    const first = this.sql.firstAddress.get(JSON.stringify([...(options.excludeAddresses ?? [])]), excludedIds);
    if (first === undefined) return [];
    const entries: OutboxEntry[] = [];
    let bytes = 0;
    for (const row of this.sql.batch.all(first.address, excludedIds, maxRecords)) {
      if (entries.length > 0 && bytes + row.size > maxBytes) break;
      bytes += row.size;
      entries.push({
        seq: row.seq,
        id: row.id,
        address: row.address,
        format: row.format,
        priority: row.priority === HIGH ? 'high' : 'low',
        createdAt: row.created_at,
        bytes: new Uint8Array(row.bytes.buffer, row.bytes.byteOffset, row.bytes.byteLength),
      });
    }
    return entries;
  }

  remove(ids: readonly string[]): number {
    this.assertOpen();
    if (ids.length === 0) return 0;
    const removed = this.db.transaction(() => this.sql.remove.all(JSON.stringify(ids))).immediate();
    for (const row of removed) {
      this.totals.records--;
      this.totals.bytes -= row.size;
      if (row.priority === LOW) {
        this.totals.lowRecords--;
        this.totals.lowBytes -= row.size;
      }
    }
    return removed.length;
  }

  stats(): OutboxStats {
    this.assertOpen();
    const byAddress: AddressStats[] = this.sql.byAddress.all().map((r) => ({ address: r.address, records: r.n, bytes: r.bytes, oldestCreatedAt: r.oldest }));
    const oldest = byAddress.length === 0 ? null : Math.min(...byAddress.map((a) => a.oldestCreatedAt));
    const t = this.totals;
    return {
      records: t.records,
      bytes: t.bytes,
      highRecords: t.records - t.lowRecords,
      lowRecords: t.lowRecords,
      oldestAgeMs: oldest === null ? null : Math.max(0, this.now() - oldest),
      byAddress,
      evictedRecords: t.evictedRecords,
      evictedBytes: t.evictedBytes,
      rejectedBatches: this.rejectedBatches,
      limits: { maxRecords: this.maxRecords, maxBytes: this.maxBytes },
    };
  }

  onEnqueue(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  /** PRAGMA integrity_check: [] when sound. Reads the whole file; for tests and maintenance, not the hot path. */
  integrityCheck(): string[] {
    this.assertOpen();
    return integrityProblems(this.db);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.listeners.clear();
    this.db.close();
  }

  get isOpen(): boolean {
    return !this.closed;
  }

  private notify(): void {
    for (const listener of [...this.listeners]) {
      try {
        listener();
      } catch (err) {
        this.log('error', 'outbox enqueue listener threw', { error: String(err) });
      }
    }
  }

  private loadTotals(): Totals {
    const totals: Totals = { records: 0, bytes: 0, lowRecords: 0, lowBytes: 0, evictedRecords: 0, evictedBytes: 0 };
    for (const row of this.sql.totals.all()) {
      totals.records += row.n;
      totals.bytes += row.bytes;
      if (row.priority === LOW) {
        totals.lowRecords = row.n;
        totals.lowBytes = row.bytes;
      }
    }
    for (const { name, value } of this.sql.counters.all()) {
      if (name === 'evicted_records') totals.evictedRecords = value;
      if (name === 'evicted_bytes') totals.evictedBytes = value;
    }
    return totals;
  }

  private assertOpen(): void {
    if (this.closed) throw new OutboxError('OUTBOX_CLOSED', `outbox ${this.path} is closed`);
  }
}

function prepareStatements(db: Database.Database) {
  return {
    existing: db.prepare<[string], { seq: number; priority: 0 | 1; size: number; bytes: Buffer }>('SELECT seq, priority, size, bytes FROM records WHERE id = ?'),
    insert: db.prepare('INSERT INTO records (id, address, format, priority, created_at, size, bytes) VALUES (?, ?, ?, ?, ?, ?, ?)'),
    oldestLow: db.prepare<[], { seq: number; size: number }>('SELECT seq, size FROM records WHERE priority = 0 ORDER BY seq'),
    deleteSeqs: db.prepare('DELETE FROM records WHERE seq IN (SELECT value FROM json_each(?))'),
    addCounter: db.prepare('UPDATE counters SET value = value + ? WHERE name = ?'),
    counters: db.prepare<[], { name: string; value: number }>('SELECT name, value FROM counters'),
    totals: db.prepare<[], { priority: 0 | 1; n: number; bytes: number }>('SELECT priority, count(*) AS n, coalesce(sum(size), 0) AS bytes FROM records GROUP BY priority'),
    firstAddress: db.prepare<[string, string], { address: string }>(
      'SELECT address FROM records WHERE address NOT IN (SELECT value FROM json_each(?)) AND id NOT IN (SELECT value FROM json_each(?)) ORDER BY seq LIMIT 1',
    ),
    batch: db.prepare<[string, string, number], Row>(
      'SELECT seq, id, address, format, priority, created_at, size, bytes FROM records WHERE address = ? AND id NOT IN (SELECT value FROM json_each(?)) ORDER BY seq LIMIT ?',
    ),
    remove: db.prepare<[string], { priority: 0 | 1; size: number }>('DELETE FROM records WHERE id IN (SELECT value FROM json_each(?)) RETURNING priority, size'),
    byAddress: db.prepare<[], { address: string; n: number; bytes: number; oldest: number }>(
      'SELECT address, count(*) AS n, sum(size) AS bytes, min(created_at) AS oldest FROM records GROUP BY address ORDER BY min(seq)',
    ),
  };
}

function positiveInteger(value: number, name: string): number {
  if (!Number.isSafeInteger(value) || value < 1) throw new RangeError(`${name} must be a positive integer, got ${value}`);
  return value;
}
