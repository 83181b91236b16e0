// Wrapped content keys of grants: stored beside the records in the KV layer, under a namespace no pool address can occupy.
//
// A grant's wrapped keys live under the pseudo-address 'G' + base58(grantId) with the record id as the
// key. Pool addresses are P2PKH (version 0x00), so their base58 always starts with '1' and never
// collides; in Redis Cluster each grant gets its own hash slot like an address does. A (grant, record)
// key is written once: the same bytes again are idempotent, different bytes are a conflict, as for records.
//
// Who may store or read them is the chain's Grant transaction; that check sits behind GrantAuthority.
// A record id is a hash, so the gateway cannot tell from it alone which record (format, day) it names:
// a PUT may carry each record's reference (pool address + encoded key, checked against the id), and
// the reference is kept with the wrapped key (in the entry's otherwise unused originProof field) for
// later GETs and for the grantee's listing (chain-grant-authority.ts uses it to check coverage).
import { base58Encode } from '../../protocol/base58check.js';
import { ByteReader, ByteWriter } from '../../protocol/wire.js';
import type { KvStore } from '../kv/kv-store.js';
import { ApiError } from './api-errors.js';

/** Where a granted record is filed: recordId = recordId(address, encodedKey) (protocol/record.ts). */
export interface GrantedRecordRef {
  address: string;
  encodedKey: Uint8Array;
}

export interface GrantAuthority {
  /**
   * True when the grant exists, is unexpired and covers every one of `recordIds`; false when the
   * chain says it does not. Throws ApiError CHAIN_UNAVAILABLE when it cannot tell. `records[i]` is
   * the reference of `recordIds[i]` when the gateway knows it (null otherwise).
   */
  isAuthorised(grantId: Uint8Array, recordIds: readonly Uint8Array[], records?: readonly (GrantedRecordRef | null)[]): Promise<boolean>;
}

/** The default of a gateway without a chain (chain.mode none): nothing can be checked, so everything is refused (503). */
export const chainlessGrantAuthority: GrantAuthority = {
  isAuthorised: () => Promise.reject(new ApiError('CHAIN_UNAVAILABLE', 'grant authorisation needs the chain, which this gateway is not connected to')),
};

/** Accepts every grant. For tests and local development only (`api.grants: permissive`). */
export const permissiveGrantAuthority: GrantAuthority = {
  isAuthorised: () => Promise.resolve(true),
};

export interface WrappedKey {
  recordId: Uint8Array;
  wrappedKey: Uint8Array;
  /** Stored beside the wrapped key when given. */
  record?: GrantedRecordRef | null;
}

export interface StoredWrappedKey {
  recordId: Uint8Array;
  wrappedKey: Uint8Array;
  record: GrantedRecordRef | null;
}

export type WrappedKeyOutcome = 'stored' | 'unchanged' | 'conflict';

export function grantNamespace(grantId: Uint8Array): string {
  return `G${base58Encode(grantId)}`;
}

export class GrantKeyStore {
  constructor(private readonly kv: KvStore, private readonly now: () => number = Date.now) {}

  async put(grantId: Uint8Array, keys: readonly WrappedKey[]): Promise<WrappedKeyOutcome[]> {
    const address = grantNamespace(grantId);
    const receivedAt = this.now();
    const outcomes = await this.kv.putIfAbsent(keys.map((k) => ({ address, encodedKey: k.recordId, record: k.wrappedKey, originProof: encodeRef(k.record ?? null), receivedAt })));
    return outcomes.map((o) => (o === 'inserted' ? 'stored' : o === 'duplicate' ? 'unchanged' : 'conflict'));
  }

  /** The wrapped key of each record id, or null where none is stored; in the order asked. */
  async get(grantId: Uint8Array, recordIds: readonly Uint8Array[]): Promise<(Uint8Array | null)[]> {
    const address = grantNamespace(grantId);
    return Promise.all(recordIds.map(async (id) => (await this.kv.get(address, id))?.record ?? null));
  }

  /** Like get, with the record reference stored beside each key (null where none was given). */
  async getStored(grantId: Uint8Array, recordIds: readonly Uint8Array[]): Promise<(StoredWrappedKey | null)[]> {
    const address = grantNamespace(grantId);
    return Promise.all(recordIds.map(async (id) => {
      const entry = await this.kv.get(address, id);
      return entry === null ? null : { recordId: Uint8Array.from(id), wrappedKey: entry.record, record: decodeRef(entry.originProof) };
    }));
  }

  /** One page of a grant's stored keys in record-id order (the grantee's listing). */
  async list(grantId: Uint8Array, limit: number, cursor?: string): Promise<{ keys: StoredWrappedKey[]; nextCursor: string | null }> {
    const page = await this.kv.range(grantNamespace(grantId), new Uint8Array(0), ALL_RECORD_IDS_END, { limit, ...(cursor === undefined ? {} : { cursor }) });
    return { keys: page.entries.map((e) => ({ recordId: e.encodedKey, wrappedKey: e.record, record: decodeRef(e.originProof) })), nextCursor: page.nextCursor };
  }
}

/** Past every 32-byte record id. */
const ALL_RECORD_IDS_END = new Uint8Array(33).fill(0xff);
const REF_VERSION = 1;

/** Empty = no reference; else u8 1 ‖ string address ‖ bytes encodedKey. */
function encodeRef(ref: GrantedRecordRef | null): Uint8Array {
  return ref === null ? new Uint8Array(0) : new ByteWriter().u8(REF_VERSION).string(ref.address).bytes(ref.encodedKey).finish();
}

function decodeRef(bytes: Uint8Array): GrantedRecordRef | null {
  if (bytes.length === 0) return null;
  try {
    const r = new ByteReader(bytes, 'grant record reference');
    if (r.u8() !== REF_VERSION) return null;
    const address = r.string(64, 'address');
    const encodedKey = Uint8Array.from(r.bytes(1024, 'encodedKey'));
    r.end();
    return { address, encodedKey };
  } catch {
    // Written by this module only; an unreadable one is treated as absent (the authority then refuses).
    return null;
  }
}
