// Write-ahead log of consensus inputs, so a restarted validator replays the height it was deciding
// and resumes in the same state.
//
// Durability follows CometBFT's WAL: every input is written before its effects leave the process
// (so a kill -9 loses nothing: the page cache survives the process), but it is fsync'd only when
// its effects sign something (a vote, a proposal) or decide. That fsync also flushes every input
// written before it, so after a power loss the log still holds all that led to each signature —
// in particular what locked this validator on a value. Received votes that caused nothing to be
// signed may be lost then; peers send them again. One fsync per received vote cost each validator
// more than a third of its fsyncs per height.
//
// File format: a sequence of records `length u32 ‖ checksum[4] ‖ payload`, checksum = first 4
// bytes of sha256(payload). A torn or corrupt tail (crash mid-append) ends the log: it is cut off
// on open. Payload = kind u8 ‖ body (see docs/consensus.md). `startHeight` appends a `start`
// record; the height being decided is what follows the last one. The file is rewritten atomically
// with a single `start` record once it outgrows COMPACT_BYTES.
import { closeSync, existsSync, fstatSync, fsyncSync, openSync, readFileSync, renameSync, truncateSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { sha256 } from '../../../protocol/hash.js';
import { ByteReader, ByteWriter, equalBytes } from '../../../protocol/wire.js';
import { ConsensusError } from './errors.js';
import { type Commit, decodeCommit, decodeProposal, decodeVote, encodeCommit, encodeProposal, encodeVote, MAX_VALUE_BYTES, type Proposal, type Vote } from './messages.js';
import type { TimeoutKind } from './timeouts.js';

export type WalEntry =
  | { kind: 'start'; height: number }
  | { kind: 'proposal'; proposal: Proposal }
  | { kind: 'vote'; vote: Vote }
  | { kind: 'timeout'; timeout: TimeoutKind; height: number; round: number }
  | { kind: 'commit'; value: Uint8Array; commit: Commit };

/** 'sync': durable (fsync'd, with everything before it) when append returns; 'write': handed to the OS only. */
export type WalDurability = 'sync' | 'write';

export interface ConsensusWal {
  /** Appends; see WalDurability (default 'sync'). */
  append(entry: WalEntry, durability?: WalDurability): void;
  /** Begins the log of `height`: what `entries` returns afterwards starts with `start(height)`. */
  startHeight(height: number): void;
  /** The intact entries of the newest height, its `start` record first, oldest first. */
  entries(): WalEntry[];
}

/** A log larger than this is rewritten with just the new height's `start` record. */
export const COMPACT_BYTES = 4 * 1024 * 1024;

/** The entries from the last `start` record on (all of them if there is none). */
function newestHeight(entries: WalEntry[]): WalEntry[] {
  let last = 0;
  entries.forEach((e, i) => {
    if (e.kind === 'start') last = i;
  });
  return entries.slice(last);
}

const KIND = { start: 1, proposal: 2, vote: 3, timeout: 4, commit: 5 } as const;
const TIMEOUT_KINDS: TimeoutKind[] = ['propose', 'prevote', 'precommit'];
const MAX_RECORD = MAX_VALUE_BYTES + 600_000;

export function encodeWalEntry(e: WalEntry): Uint8Array {
  const w = new ByteWriter().u8(KIND[e.kind]);
  switch (e.kind) {
    case 'start': return w.u64(e.height).finish();
    case 'proposal': return w.raw(encodeProposal(e.proposal)).finish();
    case 'vote': return w.raw(encodeVote(e.vote)).finish();
    case 'timeout': return w.u8(TIMEOUT_KINDS.indexOf(e.timeout)).u64(e.height).u32(e.round).finish();
    case 'commit': return w.bytes(e.value).raw(encodeCommit(e.commit)).finish();
  }
}

export function decodeWalEntry(bytes: Uint8Array): WalEntry {
  const r = new ByteReader(bytes, 'wal entry');
  const kind = r.u8();
  const rest = (): Uint8Array => r.take(r.remaining);
  switch (kind) {
    case KIND.start: {
      const height = r.u64Number('height');
      r.end();
      return { kind: 'start', height };
    }
    case KIND.proposal: return { kind: 'proposal', proposal: decodeProposal(rest()) };
    case KIND.vote: return { kind: 'vote', vote: decodeVote(rest()) };
    case KIND.timeout: {
      const timeout = TIMEOUT_KINDS[r.u8()];
      const height = r.u64Number('height');
      const round = r.u32();
      r.end();
      if (timeout === undefined) throw new ConsensusError('DECODE_FAILED', 'wal: unknown timeout kind');
      return { kind: 'timeout', timeout, height, round };
    }
    case KIND.commit: {
      const value = r.bytes(MAX_VALUE_BYTES, 'value').slice();
      return { kind: 'commit', value, commit: decodeCommit(rest()) };
    }
    default: throw new ConsensusError('DECODE_FAILED', `wal: unknown entry kind ${kind}`);
  }
}

export function frameRecord(payload: Uint8Array): Uint8Array {
  return new ByteWriter().u32(payload.length).raw(sha256(payload).subarray(0, 4)).raw(payload).finish();
}

/** Splits framed records; returns the intact entries and the byte length they cover. */
export function parseRecords(data: Uint8Array): { entries: WalEntry[]; validLength: number } {
  const entries: WalEntry[] = [];
  let offset = 0;
  while (data.length - offset >= 8) {
    const view = new DataView(data.buffer, data.byteOffset + offset, 8);
    const length = view.getUint32(0);
    if (length > MAX_RECORD || data.length - offset - 8 < length) break;
    const payload = data.subarray(offset + 8, offset + 8 + length);
    if (!equalBytes(sha256(payload).subarray(0, 4), data.subarray(offset + 4, offset + 8))) break;
    try {
      entries.push(decodeWalEntry(payload));
    } catch {
      break; // checksummed but undecodable: written by a different version; stop rather than guess
    }
    offset += 8 + length;
  }
  return { entries, validLength: offset };
}

/** In-memory WAL: the simulation keeps the object across "crashes" as if it were the disk. */
export class MemoryWal implements ConsensusWal {
  private data: Uint8Array[] = [];

  /** Durability means nothing in memory: every entry is kept. */
  append(entry: WalEntry, _durability?: WalDurability): void {
    this.data.push(frameRecord(encodeWalEntry(entry)));
  }

  startHeight(height: number): void {
    this.data = [frameRecord(encodeWalEntry({ kind: 'start', height }))];
  }

  entries(): WalEntry[] {
    return newestHeight(parseRecords(Buffer.concat(this.data)).entries);
  }
}

/** Append-only file; fsync'd on 'sync' appends; compacted by atomic rewrite. */
export class FileWal implements ConsensusWal {
  private fd: number;
  private size: number;

  private constructor(private readonly path: string) {
    this.fd = openSync(path, 'a');
    this.size = fstatSync(this.fd).size;
  }

  /** Opens (or creates) the log and cuts off a torn tail left by a crash. */
  static open(path: string): FileWal {
    try {
      if (existsSync(path)) {
        const data = new Uint8Array(readFileSync(path));
        const { validLength } = parseRecords(data);
        if (validLength !== data.length) truncateSync(path, validLength);
      }
      return new FileWal(path);
    } catch (err) {
      throw new ConsensusError('STORAGE_FAILED', `wal ${path}: ${(err as Error).message}`, { cause: err });
    }
  }

  append(entry: WalEntry, durability: WalDurability = 'sync'): void {
    const record = frameRecord(encodeWalEntry(entry));
    try {
      writeSync(this.fd, record);
      this.size += record.length;
      if (durability === 'sync') fsyncSync(this.fd);
    } catch (err) {
      throw new ConsensusError('STORAGE_FAILED', `wal ${this.path}: ${(err as Error).message}`, { cause: err, mayHaveSucceeded: true });
    }
  }

  /**
   * Appends `start(height)` without an fsync: if it is lost, the log ends in the previous height,
   * which `restore` ignores (it starts the new height afresh, as it would with no log).
   */
  startHeight(height: number): void {
    if (this.size < COMPACT_BYTES) {
      this.append({ kind: 'start', height }, 'write');
      return;
    }
    this.rewrite(height);
  }

  private rewrite(height: number): void {
    const tmp = `${this.path}.tmp`;
    try {
      const fd = openSync(tmp, 'w');
      try {
        writeSync(fd, frameRecord(encodeWalEntry({ kind: 'start', height })));
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      renameSync(tmp, this.path);
      const dir = openSync(dirname(this.path), 'r');
      try {
        fsyncSync(dir);
      } finally {
        closeSync(dir);
      }
      // The old descriptor points at the replaced file: swap only once the new one is in place.
      const old = this.fd;
      this.fd = openSync(this.path, 'a');
      this.size = fstatSync(this.fd).size;
      closeSync(old);
    } catch (err) {
      throw new ConsensusError('STORAGE_FAILED', `wal ${this.path}: ${(err as Error).message}`, { cause: err, mayHaveSucceeded: true });
    }
  }

  entries(): WalEntry[] {
    return newestHeight(parseRecords(new Uint8Array(readFileSync(this.path))).entries);
  }

  close(): void {
    closeSync(this.fd);
  }
}
