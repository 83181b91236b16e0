// Typed errors for the protocol layer: every rejection carries a stable `code` and a retry hint.

/**
 * Every code the protocol layer can raise. Codes are part of the public API: callers branch on
 * them and gateways count rejections by them, so a code is never renamed, only added.
 */
export const PROTOCOL_ERROR_CODES = [
  // decoding
  'DECODE_TRUNCATED', // input ends before the structure does
  'DECODE_TRAILING_BYTES', // bytes left over after a complete structure
  'DECODE_INVALID', // a field holds a value the format does not allow
  'DECODE_NON_CANONICAL', // a value is encoded in a non-minimal / non-canonical way
  'DECODE_TOO_LARGE', // a length or count exceeds the format's limit
  'UNSUPPORTED_VERSION', // a version byte this implementation does not know
  // keys, addresses, mnemonics
  'KEY_INVALID', // a public or private key is not a valid curve point / scalar / RSA key
  'ADDRESS_INVALID', // an address fails base58check, has the wrong version or length
  'CHECKSUM_MISMATCH', // a base58check checksum does not match
  'MNEMONIC_INVALID', // a BIP39 mnemonic has a bad word or checksum
  'PATH_INVALID', // a BIP32 derivation path is malformed
  // signatures
  'SIGNATURE_MALFORMED', // not a well-formed signature encoding (DER or compact)
  'SIGNATURE_HIGH_S', // s > n/2: rejected to rule out malleability
  'SIGNATURE_INVALID', // well-formed but does not verify
  'DOMAIN_INVALID', // an unknown or malformed domain tag
  // address pools and authorisations
  'POOL_INVALID', // pool material is inconsistent (size, seed length)
  'DATE_INVALID', // not a valid UTC calendar date
  'AUTH_EXPIRED', // a pool authorisation is past its validity window
  'AUTH_NOT_YET_VALID', // a pool authorisation is not yet valid
  'AUTH_MISMATCH', // authorisation is for another address or device key
  'AUTH_INVALID', // an authorisation's own fields are inconsistent (empty window, bad times)
  // envelopes
  'ENVELOPE_OPEN_FAILED', // RSA unwrap or AES-GCM authentication failed
  'ENVELOPE_AAD_MISMATCH', // the envelope is bound to another slot
  // records and formats
  'FORMAT_UNKNOWN', // the format name is not in the dictionary
  'FORMAT_INVALID', // a format definition is itself malformed
  'KEY_SCHEMA_MISMATCH', // a record key does not match its format's key schema
  'VALUE_SCHEMA_MISMATCH', // a record value does not match its format's columns
  // uplink messages and Merkle proofs
  'MESSAGE_INVALID', // an uplink message is structurally valid but inconsistent
  'PROOF_INVALID', // a Merkle inclusion / consistency proof does not verify
] as const;

export type ProtocolErrorCode = (typeof PROTOCOL_ERROR_CODES)[number];

export interface CarchainErrorOptions {
  /** True when the same call may succeed if retried later (timeouts, busy resources). */
  temporary?: boolean;
  /** True when an operation that failed may nevertheless have taken effect (e.g. a lost ack). */
  mayHaveSucceeded?: boolean;
  cause?: unknown;
}

/** Base class of every error this project throws on purpose. */
export class CarchainError<C extends string = string> extends Error {
  readonly code: C;
  readonly temporary: boolean;
  readonly mayHaveSucceeded: boolean;

  constructor(code: C, message: string, options: CarchainErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.temporary = options.temporary ?? false;
    this.mayHaveSucceeded = options.mayHaveSucceeded ?? false;
  }
}

/** An input was rejected by the protocol layer. Never temporary: the same bytes fail the same way. */
export class ProtocolError extends CarchainError<ProtocolErrorCode> {
  constructor(code: ProtocolErrorCode, message: string, options: Omit<CarchainErrorOptions, 'temporary'> = {}) {
    super(code, message, { ...options, temporary: false });
  }
}

export function isProtocolError(err: unknown, code?: ProtocolErrorCode): err is ProtocolError {
  return err instanceof ProtocolError && (code === undefined || err.code === code);
}
