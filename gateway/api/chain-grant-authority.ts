// GrantAuthority from the chain's committed Grant state, read over the chain RPC's /query/grant route, with a short cache.
//
// A call is authorised when the grant exists, is not revoked, has not expired at `now`, and covers
// every record (grant-coverage.ts): the record reference the gateway holds for the id hashes to that
// id, the record is in this gateway's KV store, and its format and day fall within the grant's terms.
// A record id without a reference cannot be judged, so it is refused. When the chain cannot be asked,
// the answer is ApiError CHAIN_UNAVAILABLE (503, temporary), never a guess.
import { ChainClientError, type ChainClient } from '../chain/client/chain-client.js';
import type { FormatDictionary } from '../../protocol/formats.js';
import { recordId as recordIdOf } from '../../protocol/record.js';
import { equalBytes } from '../../protocol/wire.js';
import type { GrantInfo } from '../chain/app/queries.js';
import type { KvStore } from '../kv/kv-store.js';
import { ApiError } from './api-errors.js';
import { bytesToHex } from './api-schemas.js';
import { coversRecord } from './grant-coverage.js';
import type { GrantAuthority, GrantedRecordRef } from './grant-keys.js';

/** The /query/grant/<id> answer: the application's GrantInfo as JSON (bytes in hex). */
export type ChainGrantJson = Omit<GrantInfo, 'grantId' | 'granteeRsaFingerprint'> & { grantId: string; granteeRsaFingerprint: string };

export interface ChainGrantAuthorityOptions {
  chain: Pick<ChainClient, 'query'>;
  kv: Pick<KvStore, 'get'>;
  formats: () => FormatDictionary;
  /** Clock for expiry (ms). */
  now?: () => number;
  /**
   * How long a grant read from the chain is reused (default 2000 ms): a revocation takes effect at
   * the gateway at most this long after it commits. Unknown grants are not cached, so a grant is
   * usable as soon as its transaction commits.
   */
  cacheTtlMs?: number;
  /** Bound on cached grants (default 10,000); the oldest entries go first. */
  cacheSize?: number;
}

export const DEFAULT_GRANT_CACHE_TTL_MS = 2000;

export class ChainGrantAuthority implements GrantAuthority {
  private readonly cache = new Map<string, { grant: ChainGrantJson; until: number }>();
  private readonly now: () => number;
  private readonly ttlMs: number;
  private readonly cacheSize: number;

  constructor(private readonly o: ChainGrantAuthorityOptions) {
    this.now = o.now ?? Date.now;
    this.ttlMs = o.cacheTtlMs ?? DEFAULT_GRANT_CACHE_TTL_MS;
    this.cacheSize = o.cacheSize ?? 10_000;
  }

  async isAuthorised(grantId: Uint8Array, recordIds: readonly Uint8Array[], records: readonly (GrantedRecordRef | null)[] = []): Promise<boolean> {
    const grant = await this.grant(grantId);
    if (grant === null) return false;
    const now = this.now();
    if (grant.revokedAt !== 0 || (grant.expiresAt !== 0 && grant.expiresAt <= now)) return false;
    const refs: GrantedRecordRef[] = [];
    for (const [i, id] of recordIds.entries()) {
      const ref = records[i];
      if (ref === null || ref === undefined || !equalBytes(recordIdOf(ref.address, ref.encodedKey), id)) return false;
      refs.push(ref);
    }
    const formats = this.o.formats();
    const entries = await Promise.all(refs.map((ref) => this.o.kv.get(ref.address, ref.encodedKey)));
    return entries.every((entry, i) => entry !== null && coversRecord(grant, formats, refs[i]!.encodedKey, entry.receivedAt));
  }

  /** The committed grant, or null when the chain has none with this id. */
  async grant(grantId: Uint8Array): Promise<ChainGrantJson | null> {
    const id = bytesToHex(grantId);
    // The cache TTL runs on wall time even when `now` is injected for expiry checks.
    const cached = this.cache.get(id);
    if (cached !== undefined && cached.until > Date.now()) return cached.grant;
    let grant: ChainGrantJson;
    try {
      grant = parseGrant(await this.o.chain.query<unknown>(`grant/${id}`));
    } catch (err) {
      if (err instanceof ChainClientError && err.code === 'NOT_FOUND') return null;
      if (err instanceof ApiError) throw err;
      throw new ApiError('CHAIN_UNAVAILABLE', `the chain could not be asked about grant ${id}: ${(err as Error).message}`, { cause: err });
    }
    if (this.ttlMs > 0) {
      this.cache.delete(id);
      this.cache.set(id, { grant, until: Date.now() + this.ttlMs });
      if (this.cache.size > this.cacheSize) this.cache.delete(this.cache.keys().next().value!);
    }
    return grant;
  }
}

function parseGrant(json: unknown): ChainGrantJson {
  const g = json as Partial<ChainGrantJson> | null;
  const ints = (...v: unknown[]) => v.every((x) => Number.isSafeInteger(x));
  if (g === null || typeof g !== 'object' || !Array.isArray(g.formats) || !g.formats.every((f) => typeof f === 'string') || !ints(g.fromDay, g.toDay, g.expiresAt, g.revokedAt, g.height)) {
    throw new ApiError('CHAIN_UNAVAILABLE', 'the chain answered a grant query with something that is not a grant');
  }
  return g as ChainGrantJson;
}
