// The durable outbox seam: sealed records wait here, committed to disk, until the broker has acknowledged them.
//
// Contract (what the uplink and the record producers rely on):
// - `enqueue()` is all-or-nothing and returns only after the transaction has committed. A record is
//   "taken" by the device exactly when `enqueue()` has returned; before that the producer still owns it.
// - `peekBatch()` never removes anything: records leave only through `remove()`, which the uplink
//   calls after the broker's PUBACK. A crash between PUBACK and `remove()` re-sends a record
//   (at-least-once); the gateway's (address, key) de-duplication absorbs that.
// - The calls are synchronous on purpose: SQLite (better-sqlite3) commits synchronously, so "returned"
//   and "committed" are the same moment and there is nothing to cancel. Callers on the event loop
//   should keep batches small (one transaction costs one fsync, see docs/outbox-and-uplink.md).
// - After `close()` every call throws OUTBOX_CLOSED.
import { CarchainError, type CarchainErrorOptions } from '../../protocol/errors.js';
import type { SealedRecord } from '../../protocol/record.js';

export type OutboxErrorCode =
  | 'OUTBOX_CONFLICT' // same record id already queued with different bytes
  | 'OUTBOX_FULL' // no room even after evicting every low-priority record (temporary: retry after the uplink drains)
  | 'OUTBOX_BATCH_TOO_LARGE' // one enqueue() exceeds the outbox's total limits; it can never fit
  | 'OUTBOX_CORRUPT' // not a SQLite file, not an outbox, or an integrity check failed
  | 'OUTBOX_SCHEMA_TOO_NEW' // written by a newer firmware whose schema this one does not know
  | 'OUTBOX_LOCKED' // another process holds the outbox (temporary)
  | 'OUTBOX_OPEN_FAILED' // the file cannot be opened or created (permissions, missing directory)
  | 'OUTBOX_CLOSED'; // used after close()

export class OutboxError extends CarchainError<OutboxErrorCode> {
  constructor(code: OutboxErrorCode, message: string, options: CarchainErrorOptions = {}) {
    super(code, message, options);
  }
}

/** Low-priority records may be evicted when the outbox is full; high-priority ones never are. */
export type OutboxPriority = 'high' | 'low';

/** A sealed record to enqueue; `priority` defaults to the outbox's per-format rule. */
export type OutboxItem = SealedRecord & { priority?: OutboxPriority };

/** Formats whose records are expendable telemetry: evicted first when the outbox is full. */
export const LOW_PRIORITY_FORMATS: ReadonlySet<string> = new Set(['obd-snapshot']);

/** Default rule: periodic snapshots are low priority; trips, DTCs, maintenance, sightings, VINs are high. */
export function defaultPriority(format: string): OutboxPriority {
  return LOW_PRIORITY_FORMATS.has(format) ? 'low' : 'high';
}

export interface OutboxEntry {
  /** Insertion order (SQLite AUTOINCREMENT: never reused, even after removals). */
  seq: number;
  /** Hex of recordId(address, encodedKey). */
  id: string;
  address: string;
  format: string;
  priority: OutboxPriority;
  /** When it was enqueued, ms since the epoch (the outbox's clock). */
  createdAt: number;
  /** encodeRecord() of the sealed record. */
  bytes: Uint8Array;
}

export interface EnqueueResult {
  /** Ids of every given record, in the given order (duplicates included). */
  ids: string[];
  /** Newly stored records. */
  inserted: number;
  /** Records already queued with identical bytes (no-ops). */
  duplicates: number;
  /** Low-priority records evicted to make room for this batch. */
  evictedRecords: number;
  evictedBytes: number;
}

export interface PeekOptions {
  /** At most this many records (≥ 1). */
  maxRecords: number;
  /** At most this many record bytes, except that the first record is always returned even if larger. */
  maxBytes: number;
  /** Skip records of these addresses (e.g. no authorisation on the device yet). */
  excludeAddresses?: ReadonlySet<string>;
  /** Skip these record ids (e.g. already in flight). */
  excludeIds?: ReadonlySet<string>;
}

export interface AddressStats {
  address: string;
  records: number;
  bytes: number;
  oldestCreatedAt: number;
}

export interface OutboxStats {
  records: number;
  bytes: number;
  highRecords: number;
  lowRecords: number;
  /** Age of the oldest queued record in ms, or null when empty. */
  oldestAgeMs: number | null;
  byAddress: AddressStats[];
  /** Low-priority records evicted by the full policy, over the file's lifetime (persisted). */
  evictedRecords: number;
  evictedBytes: number;
  /** enqueue() calls refused with OUTBOX_FULL since this outbox was opened. */
  rejectedBatches: number;
  limits: { maxRecords: number; maxBytes: number };
}

export interface Outbox {
  enqueue(records: readonly OutboxItem[]): EnqueueResult;
  /** The oldest records of one address (the address of the oldest eligible record), in seq order. */
  peekBatch(options: PeekOptions): OutboxEntry[];
  /** Removes records by id after they were acknowledged; unknown ids are ignored. Returns how many went. */
  remove(ids: readonly string[]): number;
  stats(): OutboxStats;
  /** Calls `listener` after every committed enqueue that inserted something; returns the unsubscribe function. */
  onEnqueue(listener: () => void): () => void;
  close(): void;
}

/** Structured log sink (level, message, fields); the runtime maps it onto its logger. */
export type LogFn = (level: 'debug' | 'info' | 'warn' | 'error', message: string, fields?: Record<string, unknown>) => void;
