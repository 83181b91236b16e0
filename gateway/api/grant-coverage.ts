// Whether a Grant's terms cover a record, judged from what a gateway sees without decrypting: the format and time key of the encoded key, and when the record was stored.
//
// The rule (docs/gateway.md, "Grant authority"), shared by the gateway's ChainGrantAuthority and the
// owner's grant flow so that the owner only offers what the gateway will accept:
// - format: the encoded key's format name (its first element) is one of the grant's formats;
// - day: the record's day is in [fromDay, toDay]. A record's day is the UTC date of its time key field
//   (the first key field named TIME or START_TIME of type uint, a `YYYYMMDDhhmmss` value as every
//   built-in format with a time uses; a trip belongs to its start, as in the pool rule), and for a
//   format without one (carvio, VIN_CODE, …) the UTC date the gateway stored the record;
// - vehicle: a Grant names no vehicle or address (pools are never on the chain), so nothing is
//   checked here; only the owner can produce wrapped keys that open a record.
import { isValidDay } from '../../protocol/chain/tx-bodies.js';
import type { FormatDictionary } from '../../protocol/formats.js';
import { decodeRecordKey, readKeyFormat } from '../../protocol/key-encoding.js';
import { utcDay } from '../../protocol/pools.js';

/** Key fields whose value dates a record, in order of preference. */
export const RECORD_DAY_FIELDS = ['TIME', 'START_TIME'] as const;

export interface GrantCoverageTerms {
  fromDay: number;
  toDay: number;
  formats: readonly string[];
}

/** The record's day as YYYYMMDD (see the rule above); storedAt in ms. */
export function recordDay(formats: FormatDictionary, encodedKey: Uint8Array, storedAt: number): number {
  const format = readKeyFormat(encodedKey);
  if (formats.has(format)) {
    const schema = formats.get(format).key;
    const field = schema.find((f) => f.type === 'uint' && (RECORD_DAY_FIELDS as readonly string[]).includes(f.name));
    if (field !== undefined) {
      const value = decodeRecordKey(schema, encodedKey).key[field.name];
      if (typeof value === 'number' || typeof value === 'bigint') {
        const day = Number(BigInt(value) / 1_000_000n);
        if (isValidDay(day)) return day;
      }
    }
  }
  return Number(utcDay(storedAt));
}

/** The format and day parts of the rule; false (not an error) for a key that does not decode. */
export function coversRecord(terms: GrantCoverageTerms, formats: FormatDictionary, encodedKey: Uint8Array, storedAt: number): boolean {
  let format: string;
  let day: number;
  try {
    format = readKeyFormat(encodedKey);
    day = recordDay(formats, encodedKey, storedAt);
  } catch {
    return false;
  }
  return terms.formats.includes(format) && day >= terms.fromDay && day <= terms.toDay;
}
