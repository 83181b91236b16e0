// Wrapped content keys of grants: stored beside the records in the KV layer, under a namespace no pool address can occupy.
//
// A grant's wrapped keys live under the pseudo-address 'G' + base58(grantId) with the record id as the
// key. Pool addresses are P2PKH (version 0x00), so their base58 always starts with '1' and never
// collides; in Redis Cluster each grant gets its own hash slot like an address does. A (grant, record)
// key is written once: the same bytes again are idempotent, different bytes are a conflict, as for records.
//
// Who may store or read them is the chain's Grant transaction; that check sits behind GrantAuthority.
import { base58Encode } from '../../protocol/base58check.js';
import type { KvStore } from '../kv/kv-store.js';
import { ApiError } from './api-errors.js';

export interface GrantAuthority {
  /**
   * True when the grant exists, is unexpired and covers every one of `recordIds`; false when the
   * chain says it does not. Throws ApiError CHAIN_UNAVAILABLE when it cannot tell.
   */
  isAuthorised(grantId: Uint8Array, recordIds: readonly Uint8Array[]): Promise<boolean>;
}

/** The default until the chain client exists: nothing can be checked, so everything is refused (503). */
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
    const outcomes = await this.kv.putIfAbsent(keys.map((k) => ({ address, encodedKey: k.recordId, record: k.wrappedKey, originProof: new Uint8Array(0), receivedAt })));
    return outcomes.map((o) => (o === 'inserted' ? 'stored' : o === 'duplicate' ? 'unchanged' : 'conflict'));
  }

  /** The wrapped key of each record id, or null where none is stored; in the order asked. */
  async get(grantId: Uint8Array, recordIds: readonly Uint8Array[]): Promise<(Uint8Array | null)[]> {
    const address = grantNamespace(grantId);
    return Promise.all(recordIds.map(async (id) => (await this.kv.get(address, id))?.record ?? null));
  }
}
