// Typed errors of the car-lock handshake, key sets, sessions and the lock itself: one code per reason to refuse.
import { CarchainError, type CarchainErrorOptions } from '../errors.js';

/**
 * Every reason the lock or the wallet refuses something. Codes are public API (the wallet shows
 * them, the audit log records them), so they are only ever added, never renamed.
 */
export const LOCK_ERROR_CODES = [
  'BAD_FRAME', // bytes are not a well-formed message of the expected type (length, version, field)
  'BAD_POINT', // an ephemeral or long-term key is not a valid secp256k1 point (off curve, infinity, bad encoding)
  'BAD_SIGNATURE', // a signature is malformed, high-S, under another tag, or does not verify
  'DECRYPT_FAILED', // an encrypted frame does not authenticate under the expected key and nonce
  'UNEXPECTED_MESSAGE', // a message arrived in a state that does not accept it (e.g. a second HELLO)
  'REPLAY', // a message or challenge that belongs to another (earlier) exchange
  'CHALLENGE_EXPIRED', // AUTH arrived more than the challenge lifetime after the CHALLENGE
  'SESSION_EXPIRED', // the session is older than its lifetime, or was closed by a key-set rotation
  'COMMAND_EXPIRED', // the command's expiry is past, or it is issued in the future beyond the allowed skew
  'COMMAND_EXPIRY_TOO_LONG', // a command valid for longer than 30 s
  'COUNTER_INVALID', // a counter that is not above the last one, or at its maximum (no wrap)
  'WRONG_VEHICLE', // the message or key set is for another vehicle
  'WRONG_LOCK_KEY', // a key set naming another lock key, or a lock whose key is not the one expected
  'EPOCH_NOT_INCREASING', // a key set with a lower epoch than the lock holds
  'KEYSET_CONFLICT', // a different key set at the epoch the lock already holds
  'KEYSET_INVALID', // a key set whose own fields are inconsistent (order, windows, sizes)
  'NO_KEYSET', // the lock has no key set yet (or is waiting for the one it committed to)
  'PROOF_INVALID', // a finality proof is missing, malformed or forged
  'UNKNOWN_KEY', // a key that is not in the current key set
  'KEY_REVOKED', // a key listed as revoked in the current key set
  'DELEGATION_NOT_YET_VALID', // a delegate before its notBefore
  'DELEGATION_EXPIRED', // a delegate after its notAfter
  'PERMISSION_DENIED', // a delegate asking for a command outside its permissions
  'STALE_PROOF', // a delegate while the cached finality proof is older than the staleness bound
  'CLOCK_BELOW_FLOOR', // the local clock is below the trusted time floor: delegates refused
  'RATE_LIMITED', // too many failures from this key or source: back off
  'BLOCKED', // too many failures overall: only an owner-signed unblock reopens the lock
  'ACTUATOR_FAILED', // the lock hardware did not carry out the command
  'TRANSPORT_CLOSED', // the link closed or timed out before an answer arrived
  'STORAGE_FAILED', // the lock's persistent state or audit log could not be read or written
  'AUDIT_INVALID', // an audit log entry does not verify or does not chain
] as const;

export type LockErrorCode = (typeof LOCK_ERROR_CODES)[number];

const CODES: ReadonlySet<string> = new Set(LOCK_ERROR_CODES);

export function isLockErrorCode(code: string): code is LockErrorCode {
  return CODES.has(code);
}

export class LockError extends CarchainError<LockErrorCode> {
  constructor(code: LockErrorCode, message: string, options: CarchainErrorOptions = {}) {
    super(code, message, { temporary: code === 'RATE_LIMITED' || code === 'TRANSPORT_CLOSED', ...options });
  }
}

export function isLockError(err: unknown, code?: LockErrorCode): err is LockError {
  return err instanceof LockError && (code === undefined || err.code === code);
}
