// Why the chain application refused a transaction (a closed set of codes), and its error class.
import { CarchainError, type CarchainErrorOptions } from '../../../protocol/errors.js';

/**
 * Every reason a tx can be refused, by checkTx or inside executeBlock. Codes are public API (the
 * wallet shows them, nodes count them): a code is never renamed, only added. Meanings are in
 * docs/chain-transactions.md §Rejection codes.
 */
export const APP_REJECTION_CODES = [
  'DECODE_FAILED', // envelope or body is not well-formed
  'WRONG_CHAIN', // chainId differs from this chain's
  'BAD_SIGNATURE', // tx signature, or a signature inside the body, does not verify
  'EXPIRED', // expiresAt < block time
  'TOO_FAR_IN_FUTURE', // expiresAt > block time + MAX_TX_LIFETIME_MS
  'REPLAY', // this txId was already committed (and has not expired yet)
  'STATEMENT_STALE', // a DeviceSetup/DeviceReset statement's time is more than 1 h from block time
  'UNKNOWN_FORMAT', // a format name that is not in the dictionary
  'FORMAT_EXISTS', // a built-in format: it has no maintainer and can never change
  'NOT_MAINTAINER', // a new version of a format from someone who is not its maintainer
  'VERSION_NOT_INCREASING', // a format version ≤ the registered one
  'FORMAT_KEY_CHANGED', // a new format version changes the key schema
  'NOT_OWNER', // signer is not the vehicle's (or the statement's) owner
  'ALREADY_CLAIMED', // the device is linked to a vehicle, or the vehicle already has a device
  'UNKNOWN_VEHICLE', // no vehicle with this vidHash
  'UNKNOWN_DEVICE', // the device is not linked to any vehicle
  'SAME_OWNER', // a transfer to the current owner
  'EPOCH_NOT_INCREASING', // a lock key set epoch ≤ the stored one
  'KEY_SET_INVALID', // the keySet bytes are not an owner-signed key set (protocol/lock/key-set.ts) for this vehicle and epoch
  'GRANT_EXPIRED', // a grant whose own expiresAt (≠ 0) is not after block time
  'UNKNOWN_GRANT', // a revocation of a grant id that does not exist (of that kind)
  'NOT_GRANTOR', // a revocation by someone other than the grant's grantor
  'ALREADY_REVOKED', // the referenced grant is already revoked
  'NOT_ANCHORER', // BatchAnchor signer is neither a validator nor a genesis anchorer
  'DUPLICATE_BATCH', // (signer, batchId) already anchored
  'INSUFFICIENT_BALANCE', // Stake of more than the account balance
  'INSUFFICIENT_STAKE', // Unstake of more than the bonded stake
  'TOO_MANY_VALIDATORS', // a Stake that would make the set exceed 1024 validators
  'POWER_OVERFLOW', // a Stake that would make the total power exceed 2^50
  'WOULD_HALT', // empty set, or ≥ 1/3 of the power leaving by Unstake in one block
  'INVALID_EVIDENCE', // votes that do not prove equivocation
  'STALE_EVIDENCE', // evidence for a height older than EVIDENCE_MAX_AGE or with no known set
  'ALREADY_SLASHED', // this validator was already slashed for this height
] as const;

export type AppRejectionCode = (typeof APP_REJECTION_CODES)[number];

/** Codes that are not a tx's fault: a corrupt stored value, an invalid genesis document. */
export type AppErrorCode = AppRejectionCode | 'STATE_CORRUPT' | 'INVALID_GENESIS';

const REJECTIONS: ReadonlySet<string> = new Set(APP_REJECTION_CODES);

export class AppError extends CarchainError<AppErrorCode> {
  constructor(code: AppErrorCode, message: string, options: CarchainErrorOptions = {}) {
    super(code, message, options);
  }
}

export function isRejectionCode(code: string): code is AppRejectionCode {
  return REJECTIONS.has(code);
}

/** Throws a rejection: used by tx handlers, turned into a TxResult by the state machine. */
export function reject(code: AppRejectionCode, reason: string): never {
  throw new AppError(code, reason);
}
