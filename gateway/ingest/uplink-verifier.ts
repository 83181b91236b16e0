// Gateway-side check of one uplink message: decode, limits, formats, pool authorisation (cached), signature → store-ready records.
//
// Pure apart from its bounded cache: takes `now`, returns either the accepted records (with their
// origin proofs and leaf hashes) or one rejection reason. A message is all-or-nothing: its signature
// covers every record, so one bad record means the device is broken or hostile.
import { CarchainError } from '../../protocol/errors.js';
import type { FormatDictionary } from '../../protocol/formats.js';
import { encodeOriginProofWith, originProofs } from '../../protocol/origin-proof.js';
import { checkAuthorisationWindow, verifyPoolAuthorisation, encodePoolAuthorisation } from '../../protocol/pool-authorisation.js';
import { checkRecordKey, recordId } from '../../protocol/record.js';
import { decodeUplinkMessage, verifyUplinkMessage, MAX_UPLINK_MESSAGE_BYTES } from '../../protocol/uplink.js';

/** Every reason a message can be refused; gateways count rejections by these. */
export const REJECTION_REASONS = [
  'too-large',
  'malformed',
  'unsupported-version',
  'unknown-format',
  'bad-key',
  'not-authorised',
  'authorisation-expired',
  'bad-signature',
  'topic-mismatch',
] as const;
export type RejectionReason = (typeof REJECTION_REASONS)[number];

export interface VerifiedRecord {
  id: Uint8Array;
  address: string;
  encodedKey: Uint8Array;
  record: Uint8Array;
  originProof: Uint8Array;
  leafHash: Uint8Array;
}

export type VerificationResult =
  | { ok: true; address: string; records: VerifiedRecord[] }
  | { ok: false; reason: RejectionReason; detail: string };

export interface UplinkVerifierOptions {
  formats: () => FormatDictionary;
  /** Verified authorisations remembered (LRU); each costs one ECDSA verify to learn. */
  cacheSize?: number;
}

export class UplinkVerifier {
  /** Key: hex of the encoded authorisation (so a changed window or key is a different entry). */
  private readonly verified = new Map<string, true>();
  private readonly cacheSize: number;

  constructor(private readonly options: UplinkVerifierOptions) {
    this.cacheSize = options.cacheSize ?? 10_000;
  }

  verify(bytes: Uint8Array, now: number): VerificationResult {
    if (bytes.length > MAX_UPLINK_MESSAGE_BYTES) return { ok: false, reason: 'too-large', detail: `${bytes.length} bytes` };
    try {
      const message = decodeUplinkMessage(bytes);
      const formats = this.options.formats();
      for (const record of message.decodedRecords) checkRecordKey(record, formats);
      const encodedAuthorisation = encodePoolAuthorisation(message.authorisation);
      const cacheKey = Buffer.from(encodedAuthorisation).toString('hex');
      const cached = this.verified.has(cacheKey);
      if (cached) {
        checkAuthorisationWindow(message.authorisation, now);
      } else {
        try {
          verifyPoolAuthorisation(message.authorisation, { now });
        } catch (err) {
          // A forged or broken authorisation is an authorisation problem, not a message signature one.
          if (err instanceof CarchainError && /^(SIGNATURE_|KEY_INVALID)/.test(String(err.code))) {
            return { ok: false, reason: 'not-authorised', detail: `pool authorisation: ${err.message}` };
          }
          throw err;
        }
        this.remember(cacheKey);
      }
      const { leafHashes, tree } = verifyUplinkMessage(message, { now, authorisationChecked: true });
      const proofs = originProofs(message, tree);
      return {
        ok: true,
        address: message.address,
        records: message.decodedRecords.map((record, i) => ({
          id: recordId(record.address, record.encodedKey),
          address: record.address,
          encodedKey: record.encodedKey,
          record: message.records[i]!,
          originProof: encodeOriginProofWith(proofs[i]!, encodedAuthorisation),
          leafHash: leafHashes[i]!,
        })),
      };
    } catch (err) {
      if (err instanceof CarchainError) return { ok: false, reason: reasonFor(String(err.code)), detail: err.message };
      throw err;
    }
  }

  private remember(key: string): void {
    this.verified.set(key, true);
    if (this.verified.size > this.cacheSize) this.verified.delete(this.verified.keys().next().value!);
  }
}

function reasonFor(code: string): RejectionReason {
  switch (code) {
    case 'UNSUPPORTED_VERSION':
      return 'unsupported-version';
    case 'DECODE_TOO_LARGE':
      return 'too-large';
    case 'FORMAT_UNKNOWN':
      return 'unknown-format';
    case 'KEY_SCHEMA_MISMATCH':
      return 'bad-key';
    case 'AUTH_EXPIRED':
    case 'AUTH_NOT_YET_VALID':
      return 'authorisation-expired';
    case 'AUTH_MISMATCH':
    case 'AUTH_INVALID':
    case 'MESSAGE_INVALID': // a record filed under an address the message's authorisation does not cover
      return 'not-authorised';
    case 'SIGNATURE_INVALID':
    case 'SIGNATURE_HIGH_S':
    case 'SIGNATURE_MALFORMED':
    case 'KEY_INVALID':
      return 'bad-signature';
    default:
      return 'malformed';
  }
}
