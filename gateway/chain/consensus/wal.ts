// Write-ahead log of consensus inputs: every input is made durable before the core sees it, so a
// restarted validator replays the height it was deciding and resumes in the same state.
//
// File format: a sequence of records `length u32 ‖ checksum[4] ‖ payload`, checksum = first 4
// bytes of sha256(payload). A torn or corrupt tail (crash mid-append) ends the log: it is cut off
// on open. Payload = kind u8 ‖ body (see docs/consensus.md). `startHeight` rewrites the file
// atomically with a single `start` record, so the log only ever holds one height.
import { closeSync, existsSync, fsyncSync, openSync, readFileSync, renameSync, truncateSync, writeSync } from 'node:fs';
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

export interface ConsensusWal {
  /** Appends and makes durable before returning. */
  append(entry: WalEntry): void;
  /** Replaces the whole log by `start(height)`, atomically. */
  startHeight(height: number): void;
  /** Every intact entry, oldest first. */
  entries(): WalEntry[];
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

  append(entry: WalEntry): void {
    this.data.push(frameRecord(encodeWalEntry(entry)));
  }

  startHeight(height: number): void {
    this.data = [frameRecord(encodeWalEntry({ kind: 'start', height }))];
  }

  entries(): WalEntry[] {
    return parseRecords(Buffer.concat(this.data)).entries;
  }
}

/** Append-only file, fsync'd after every record. */
export class FileWal implements ConsensusWal {
  private fd: number;

  private constructor(private readonly path: string) {
    this.fd = openSync(path, 'a');
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

  append(entry: WalEntry): void {
    const record = frameRecord(encodeWalEntry(entry));
    try {
      writeSync(this.fd, record);
      fsyncSync(this.fd);
    } catch (err) {
      throw new ConsensusError('STORAGE_FAILED', `wal ${this.path}: ${(err as Error).message}`, { cause: err, mayHaveSucceeded: true });
    }
  }

  startHeight(height: number): void {
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
      closeSync(old);
    } catch (err) {
      throw new ConsensusError('STORAGE_FAILED', `wal ${this.path}: ${(err as Error).message}`, { cause: err, mayHaveSucceeded: true });
    }
  }

  entries(): WalEntry[] {
    return parseRecords(new Uint8Array(readFileSync(this.path))).entries;
  }

  close(): void {
    closeSync(this.fd);
  }
}
