// The lock's audit log entries: hash-chained, signed by the lock key, verifiable by anyone holding the lock's public key.
//
// Entry: version u8 = 1 ‖ seq u64 ‖ time u64 ‖ prevHash[32] ‖ epoch u64 ‖ event string ‖ key flag u8
// (‖ key[33]) ‖ detail string ‖ signature[64] = sign(DOMAIN.lockAudit, everything before it, lock key).
// entryHash = taggedHash('carchain/v1/lock/audit-entry', entry). The first prevHash is
// taggedHash('carchain/v1/lock/audit-genesis', vidHash), so a log cannot be moved to another car.
// The head hash can be anchored on the chain; then no entry before it can be dropped or rewritten.
import { ProtocolError } from '../errors.js';
import { taggedHash } from '../hash.js';
import { DOMAIN, sign, SIGNATURE_LENGTH, verify } from '../signature.js';
import { ByteReader, ByteWriter, equalBytes, expectVersion } from '../wire.js';
import { LockError } from './errors.js';

export const AUDIT_VERSION = 1;
const MAX_EVENT = 32;
const MAX_DETAIL = 128;

export interface AuditFields {
  time: number;
  epoch: number;
  /** e.g. 'command', 'auth-failed', 'keyset', 'blocked', 'unblocked'. */
  event: string;
  publicKey: Uint8Array | null;
  /** e.g. 'unlock ok', 'start PERMISSION_DENIED'. */
  detail: string;
}

export interface AuditEntry extends AuditFields {
  seq: number;
  prevHash: Uint8Array;
  signature: Uint8Array;
  bytes: Uint8Array;
  hash: Uint8Array;
}

export function auditGenesis(vidHash: Uint8Array): Uint8Array {
  return taggedHash('carchain/v1/lock/audit-genesis', vidHash);
}

function entryHash(bytes: Uint8Array): Uint8Array {
  return taggedHash('carchain/v1/lock/audit-entry', bytes);
}

function body(seq: number, prevHash: Uint8Array, f: AuditFields): Uint8Array {
  const w = new ByteWriter().u8(AUDIT_VERSION).u64(seq).u64(f.time).fixed(prevHash, 32).u64(f.epoch).string(f.event.slice(0, MAX_EVENT));
  if (f.publicKey === null) w.u8(0);
  else w.u8(1).fixed(f.publicKey, 33);
  return w.string(f.detail.slice(0, MAX_DETAIL)).finish();
}

/** The entry after `previous` (null for the first), signed with the lock's private key. */
export function createAuditEntry(previous: { seq: number; hash: Uint8Array } | null, vidHash: Uint8Array, fields: AuditFields, lockPrivateKey: Uint8Array): AuditEntry {
  const seq = previous === null ? 1 : previous.seq + 1;
  const prevHash = previous === null ? auditGenesis(vidHash) : previous.hash;
  const unsigned = body(seq, prevHash, fields);
  const signature = sign(DOMAIN.lockAudit, unsigned, lockPrivateKey);
  const bytes = new ByteWriter().raw(unsigned).fixed(signature, SIGNATURE_LENGTH).finish();
  return decodeAuditEntry(bytes);
}

export function decodeAuditEntry(bytes: Uint8Array): AuditEntry {
  try {
    const r = new ByteReader(bytes, 'audit entry');
    expectVersion(r, AUDIT_VERSION, 'audit entry');
    const seq = r.u64Number('seq');
    const time = r.u64Number('time');
    const prevHash = r.take(32).slice();
    const epoch = r.u64Number('epoch');
    const event = r.string(MAX_EVENT * 4, 'event');
    const flag = r.u8();
    if (flag > 1) throw new ProtocolError('DECODE_INVALID', `audit entry: key flag ${flag}`);
    const publicKey = flag === 1 ? r.take(33).slice() : null;
    const detail = r.string(MAX_DETAIL * 4, 'detail');
    const signature = r.take(SIGNATURE_LENGTH).slice();
    r.end();
    const own = bytes.slice();
    return { seq, time, prevHash, epoch, event, publicKey, detail, signature, bytes: own, hash: entryHash(own) };
  } catch (err) {
    if (err instanceof ProtocolError) throw new LockError('AUDIT_INVALID', err.message, { cause: err });
    throw err;
  }
}

/**
 * Verifies a whole log: every signature under the lock key, seq 1, 2, 3…, each prevHash the hash
 * of the entry before (the first the genesis of this vehicle). Returns the head hash to compare
 * with an anchored one. AUDIT_INVALID names the first bad entry.
 */
export function verifyAuditLog(entries: readonly Uint8Array[], lockPublicKey: Uint8Array, vidHash: Uint8Array): { head: Uint8Array; count: number } {
  let prev = auditGenesis(vidHash);
  for (let i = 0; i < entries.length; i++) {
    const e = decodeAuditEntry(entries[i]!);
    if (e.seq !== i + 1) throw new LockError('AUDIT_INVALID', `entry ${i + 1} has seq ${e.seq}`);
    if (!equalBytes(e.prevHash, prev)) throw new LockError('AUDIT_INVALID', `entry ${i + 1} does not chain to the entry before`);
    try {
      verify(DOMAIN.lockAudit, e.bytes.subarray(0, e.bytes.length - SIGNATURE_LENGTH), e.signature, lockPublicKey);
    } catch (err) {
      if (err instanceof ProtocolError) throw new LockError('AUDIT_INVALID', `entry ${i + 1}: ${err.message}`, { cause: err });
      throw err;
    }
    prev = e.hash;
  }
  return { head: prev, count: entries.length };
}
