// Reads an owner's records from a gateway and trusts nothing it says: each record's id, origin proof and batch inclusion are checked before it is decrypted.
import type { KeyObject } from 'node:crypto';
import type { KvEntryJson } from '../../gateway/api/kv-routes.js';
import type { ProofJson } from '../../gateway/api/proof-routes.js';
import { CarchainError } from '../../protocol/errors.js';
import type { FormatDictionary } from '../../protocol/formats.js';
import type { KeyValue } from '../../protocol/key-encoding.js';
import { verifyInclusion } from '../../protocol/merkle.js';
import { decodeOriginProof, verifyOrigin } from '../../protocol/origin-proof.js';
import { decodeRecord, openRecord, recordId, recordLeafHash } from '../../protocol/record.js';
import type { RecordValue } from '../../protocol/record-value.js';
import { equalBytes } from '../../protocol/wire.js';

export type GatewayReadErrorCode = 'GATEWAY_UNREACHABLE' | 'GATEWAY_ERROR' | 'GATEWAY_BAD_RESPONSE';
export class GatewayReadError extends CarchainError<GatewayReadErrorCode> {}

/** How far the gateway's batch proof got: `anchored` = in a sealed batch whose BatchAnchor is on the chain. */
export type InclusionState = 'anchored' | 'sealed' | 'pending' | 'none';

export interface RecordVerification {
  /** The origin proof verified: the device key the owner authorised for this pool address signed the record. */
  origin: true;
  /** The Merkle path from the record's leaf to `batchRoot` verified (for `anchored`/`sealed`). */
  inclusion: InclusionState;
  batchId?: number;
  batchRoot?: string;
  anchorHeight?: number;
  anchorTxId?: string;
}

export interface VerifiedRecord {
  recordId: string;
  address: string;
  format: string;
  key: Record<string, KeyValue>;
  value: RecordValue;
  storedAt: number;
  verification: RecordVerification;
}

export interface RejectedRecord {
  recordId: string;
  address: string;
  reason: string;
}

const unhex = (s: string) => Uint8Array.from(Buffer.from(s, 'hex'));
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

/** Every entry of one pool address (optionally one format) with batch proofs, following cursors. */
export async function fetchAddressEntries(gatewayUrl: string, address: string, format?: string): Promise<KvEntryJson[]> {
  const entries: KvEntryJson[] = [];
  let cursor: string | null = null;
  do {
    const q: URLSearchParams = new URLSearchParams({ proofs: '1', limit: '500', ...(format !== undefined ? { format } : {}), ...(cursor !== null ? { cursor } : {}) });
    const page: { entries: KvEntryJson[]; nextCursor: string | null } = await getJson<{ entries: KvEntryJson[]; nextCursor: string | null }>(`${gatewayUrl}/v1/kv/${address}?${q.toString()}`);
    if (!Array.isArray(page.entries)) throw new GatewayReadError('GATEWAY_BAD_RESPONSE', `${gatewayUrl}: a getKVRange page without entries`);
    entries.push(...page.entries);
    cursor = page.nextCursor ?? null;
  } while (cursor !== null);
  return entries;
}

export async function getJson<T>(url: string): Promise<T> {
  let res: Response;
  try {
    res = await fetch(url, { signal: AbortSignal.timeout(30_000) });
  } catch (cause) {
    throw new GatewayReadError('GATEWAY_UNREACHABLE', `cannot reach ${new URL(url).origin}: ${(cause as Error).message}`, { temporary: true, cause });
  }
  const text = await res.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (cause) {
    throw new GatewayReadError('GATEWAY_BAD_RESPONSE', `${url}: not JSON (HTTP ${res.status})`, { cause });
  }
  if (!res.ok) {
    const e = (body as { error?: { code?: string; message?: string } }).error;
    throw new GatewayReadError('GATEWAY_ERROR', `${new URL(url).pathname}: ${e?.code ?? res.status} ${e?.message ?? ''}`.trim(), { temporary: res.status >= 500 });
  }
  return body as T;
}

/**
 * Checks one getKV entry and opens it with the owner's key. Throws (PROOF_INVALID, SIGNATURE_INVALID,
 * ENVELOPE_OPEN_FAILED, …) when anything does not hold; the caller reports such a record as rejected.
 */
export function verifyAndOpen(entry: KvEntryJson, formats: FormatDictionary, rsaPrivateKey: KeyObject): VerifiedRecord {
  const bytes = unhex(entry.record);
  const record = decodeRecord(bytes);
  if (record.address !== entry.address) throw new CarchainError('RECORD_MISFILED', `record is sealed for ${record.address}, served under ${entry.address}`);
  if (!equalBytes(record.encodedKey, unhex(entry.key))) throw new CarchainError('RECORD_MISFILED', 'the record\'s key is not the key it was served under');
  const id = hex(recordId(record.address, record.encodedKey));
  if (id !== entry.recordId) throw new CarchainError('RECORD_MISFILED', `record id ${entry.recordId} does not match the record (${id})`);
  // The authorisation must have been valid when the gateway accepted the record, not necessarily today.
  verifyOrigin(bytes, decodeOriginProof(unhex(entry.originProof)), entry.storedAt);
  const verification: RecordVerification = { origin: true, inclusion: 'none' };
  const proof = entry.proof;
  if (proof && 'pending' in proof) verification.inclusion = 'pending';
  else if (proof) {
    const p: ProofJson = proof;
    const leaf = recordLeafHash(bytes);
    if (hex(leaf) !== p.leafHash) throw new CarchainError('PROOF_INVALID', 'the batch proof is for another leaf');
    verifyInclusion(leaf, p.leafIndex, p.treeSize, p.path.map(unhex), unhex(p.root));
    Object.assign(verification, { inclusion: p.anchor ? 'anchored' : 'sealed', batchId: p.batchId, batchRoot: p.root });
    if (p.anchor) Object.assign(verification, { anchorHeight: p.anchor.height, anchorTxId: p.anchor.txId });
  }
  const opened = openRecord(record, formats, rsaPrivateKey);
  return { recordId: id, address: record.address, format: opened.format, key: opened.key, value: opened.value, storedAt: entry.storedAt, verification };
}

/** Verifies and opens a list of entries; anything that fails is kept aside with its reason, never silently dropped. */
export function verifyEntries(entries: readonly KvEntryJson[], formats: FormatDictionary, rsaPrivateKey: KeyObject): { records: VerifiedRecord[]; rejected: RejectedRecord[] } {
  const records: VerifiedRecord[] = [];
  const rejected: RejectedRecord[] = [];
  for (const entry of entries) {
    try {
      records.push(verifyAndOpen(entry, formats, rsaPrivateKey));
    } catch (err) {
      const code = err instanceof CarchainError ? `${err.code}: ` : '';
      rejected.push({ recordId: entry.recordId, address: entry.address, reason: `${code}${(err as Error).message}` });
    }
  }
  return { records, rejected };
}
