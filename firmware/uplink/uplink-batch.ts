// Turns one address's oldest outbox entries into a signed uplink message, or says why it cannot be sent yet.
//
// A batch is only signed when the device holds a pool authorisation for the address that is valid
// now: a message signed with an expired or missing authorisation would be PUBACKed by the broker,
// removed from the outbox, and then refused by the gateway — the records would be lost.
import { CarchainError } from '../../protocol/errors.js';
import { checkAuthorisationWindow, poolAuthorisationAddress, type PoolAuthorisation } from '../../protocol/pool-authorisation.js';
import { decodeRecord, type SealedRecord } from '../../protocol/record.js';
import { createUplinkMessage, encodeUplinkMessage } from '../../protocol/uplink.js';
import type { OutboxEntry } from '../outbox/outbox.js';

/** What the device needs to sign for an address: the owner's authorisation for k_i, and k_i itself. */
export interface UplinkKeys {
  authorisation: PoolAuthorisation;
  privateKey: Uint8Array;
}

/** Looks up the keys for a pool address; null when the device has no authorisation for it (yet). */
export type KeyProvider = (address: string) => UplinkKeys | null;

export type UplinkBatch =
  | { kind: 'message'; address: string; ids: string[]; records: number; recordBytes: number; payload: Uint8Array }
  /** No usable authorisation: the records stay in the outbox and the address is skipped for a while. */
  | { kind: 'blocked'; address: string; records: number; reason: string }
  /** Rows that no longer decode (storage damage): they can never be sent and are dropped with a report. */
  | { kind: 'corrupt'; address: string; ids: string[]; reason: string };

/** `entries` are one address's records in seq order, as Outbox.peekBatch returns them (non-empty). */
export function buildUplinkBatch(entries: readonly OutboxEntry[], keys: KeyProvider, now: number): UplinkBatch {
  const address = entries[0]!.address;
  const records: SealedRecord[] = [];
  const corrupt: string[] = [];
  let reason = '';
  for (const entry of entries) {
    try {
      const record = decodeRecord(entry.bytes);
      if (record.address !== address) throw new Error(`decodes to address ${record.address}`);
      records.push(record);
    } catch (err) {
      corrupt.push(entry.id);
      reason = err instanceof Error ? err.message : String(err);
    }
  }
  if (corrupt.length > 0) return { kind: 'corrupt', address, ids: corrupt, reason };

  let found: UplinkKeys | null;
  try {
    found = keys(address);
  } catch (err) {
    return { kind: 'blocked', address, records: entries.length, reason: `key provider failed: ${String(err)}` };
  }
  if (found === null) return { kind: 'blocked', address, records: entries.length, reason: 'no pool authorisation for this address' };
  try {
    if (poolAuthorisationAddress(found.authorisation) !== address) throw new Error('the authorisation is for another address');
    checkAuthorisationWindow(found.authorisation, now);
    const payload = encodeUplinkMessage(createUplinkMessage(records, found.authorisation, found.privateKey));
    const recordBytes = entries.reduce((n, e) => n + e.bytes.length, 0);
    return { kind: 'message', address, ids: entries.map((e) => e.id), records: entries.length, recordBytes, payload };
  } catch (err) {
    const why = err instanceof CarchainError ? `${err.code}: ${err.message}` : err instanceof Error ? err.message : String(err);
    return { kind: 'blocked', address, records: entries.length, reason: why };
  }
}
