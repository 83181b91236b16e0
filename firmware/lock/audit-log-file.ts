// The lock's audit log on disk: append-only, u32 length ‖ entry per record, fsynced per entry, verified when opened.
import { closeSync, fsyncSync, openSync, readFileSync, ftruncateSync, writeSync, existsSync } from 'node:fs';
import { createAuditEntry, verifyAuditLog, decodeAuditEntry, type AuditEntry, type AuditFields } from '../../protocol/lock/audit.js';
import { LockError } from '../../protocol/lock/errors.js';

export class AuditLogFile {
  private fd: number;
  private last: { seq: number; hash: Uint8Array; time: number } | null;

  private constructor(
    readonly path: string,
    private readonly vidHash: Uint8Array,
    private readonly lockPrivateKey: Uint8Array,
    fd: number,
    last: { seq: number; hash: Uint8Array; time: number } | null,
  ) {
    this.fd = fd;
    this.last = last;
  }

  /**
   * Opens (or creates) the log and verifies every entry. A torn last record (power lost inside
   * an append) is cut off; anything else that fails to verify is AUDIT_INVALID — the lock does not
   * silently start a new chain over a tampered one.
   */
  static open(path: string, vidHash: Uint8Array, lockPrivateKey: Uint8Array, lockPublicKey: Uint8Array): AuditLogFile {
    const entries: Uint8Array[] = [];
    let validLength = 0;
    if (existsSync(path)) {
      const data = new Uint8Array(readFileSync(path));
      let offset = 0;
      while (data.length - offset >= 4) {
        const length = new DataView(data.buffer, data.byteOffset + offset, 4).getUint32(0);
        if (data.length - offset - 4 < length) break;
        entries.push(data.slice(offset + 4, offset + 4 + length));
        offset += 4 + length;
      }
      validLength = offset;
    }
    const { head } = verifyAuditLog(entries, lockPublicKey, vidHash);
    const fd = openSync(path, 'a+', 0o600);
    try {
      ftruncateSync(fd, validLength);
    } catch (cause) {
      closeSync(fd);
      throw new LockError('STORAGE_FAILED', `cannot truncate ${path}`, { cause });
    }
    const lastEntry = entries.length === 0 ? null : decodeAuditEntry(entries[entries.length - 1]!);
    return new AuditLogFile(path, vidHash, lockPrivateKey, fd, lastEntry === null ? null : { seq: lastEntry.seq, hash: head, time: lastEntry.time });
  }

  /** Time of the newest entry, 0 for an empty log: a lower bound for the trusted time floor. */
  get lastTime(): number {
    return this.last?.time ?? 0;
  }

  get head(): { seq: number; hash: Uint8Array } | null {
    return this.last === null ? null : { seq: this.last.seq, hash: this.last.hash };
  }

  append(fields: AuditFields): AuditEntry {
    const entry = createAuditEntry(this.last, this.vidHash, fields, this.lockPrivateKey);
    const record = new Uint8Array(4 + entry.bytes.length);
    new DataView(record.buffer).setUint32(0, entry.bytes.length);
    record.set(entry.bytes, 4);
    try {
      writeSync(this.fd, record);
      fsyncSync(this.fd);
    } catch (cause) {
      throw new LockError('STORAGE_FAILED', `cannot append to ${this.path}`, { cause });
    }
    this.last = { seq: entry.seq, hash: entry.hash, time: entry.time };
    return entry;
  }

  close(): void {
    closeSync(this.fd);
  }
}

/** Reads the raw entries of a log file (for verification by someone else, e.g. the owner's wallet). */
export function readAuditEntries(path: string): Uint8Array[] {
  const data = new Uint8Array(readFileSync(path));
  const out: Uint8Array[] = [];
  let offset = 0;
  while (data.length - offset >= 4) {
    const length = new DataView(data.buffer, data.byteOffset + offset, 4).getUint32(0);
    if (data.length - offset - 4 < length) break;
    out.push(data.slice(offset + 4, offset + 4 + length));
    offset += 4 + length;
  }
  return out;
}
