// Grants end to end for the wallet: the owner's Grant transaction and re-wrapped keys, listing and revocation; the grantee's read of what was shared.
//
// Owner side: createGrant commits a Grant on the chain, finds the covered records on the gateway (the
// pool address of every day in the range, each granted format), re-wraps each record's content key to
// the grantee's RSA key (ciphertexts untouched) and PUTs the wrapped keys with their record references.
// Which records are covered follows the gateway's rule (gateway/api/grant-coverage.ts), so the gateway
// accepts exactly what is offered. Grantee side: readShared lists the grant's records on the gateway,
// fetches each sealed record and opens it with the grantee's private key and its wrapped key.
import { createPrivateKey, type KeyObject } from 'node:crypto';
import type { HDKey } from '@scure/bip32';
import { coversRecord } from '../../gateway/api/grant-coverage.js';
import type { ChainGrantJson } from '../../gateway/api/chain-grant-authority.js';
import type { ChainClient } from '../../gateway/chain/client/chain-client.js';
import { builtinFormatDictionary } from '../../protocol/builtin-formats.js';
import { encodeGrantBody, isValidDay } from '../../protocol/chain/tx-bodies.js';
import { buildTx } from '../../protocol/chain/transactions.js';
import { rewrapContentKey } from '../../protocol/envelope.js';
import { CarchainError } from '../../protocol/errors.js';
import type { FormatDictionary } from '../../protocol/formats.js';
import type { KeyValue } from '../../protocol/key-encoding.js';
import { ownerIdentity, ownerRsaKeyPair, poolMaterialFor } from '../../protocol/owner-keys.js';
import { deductFrom, derivePoolAddresses } from '../../protocol/pools.js';
import { decodeRecord, openRecord, recordFormat } from '../../protocol/record.js';
import type { RecordValue } from '../../protocol/record-value.js';
import { rsaKeyFingerprint, rsaPublicKeyFromPem } from '../../protocol/rsa.js';

export type GrantFlowErrorCode = 'GRANT_REFUSED' | 'GRANT_UNKNOWN' | 'GATEWAY_UNREACHABLE' | 'GATEWAY_ERROR' | 'BAD_GRANT' | 'KEY_INVALID';

export class GrantFlowError extends CarchainError<GrantFlowErrorCode> {}

/** A Grant transaction may be included up to this long after it is signed. */
const TX_LIFETIME_MS = 10 * 60 * 1000;
/** Wrapped keys per PUT: ≈ 2.3 KB of JSON each, far below the gateway's 4 MiB body limit. */
const KEYS_PER_PUT = 500;
const PAGE = 1000;
/** getKV calls in flight while reading shared records. */
const FETCH_CONCURRENCY = 16;

export interface GrantRequest {
  root: HDKey;
  /** Which of the wallet's vehicles (pool account m/17219'/1'/index') and its pool size. */
  vehicle: { index: number; poolSize: number };
  /** P2PKH address of the grantee. */
  grantee: string;
  granteeRsaPublicKeyPem: string;
  /** UTC days YYYYMMDD, inclusive. */
  fromDay: number;
  toDay: number;
  formats: string[];
  resell?: boolean;
  /** ms since the epoch; 0 or absent = never. */
  expiresAt?: number;
}

export interface GrantContext {
  gatewayUrl: string;
  chain: Pick<ChainClient, 'status' | 'submit' | 'query'>;
  /** The dictionary the coverage rule decodes keys with (default: the built-in formats). */
  formats?: FormatDictionary;
  now?: () => number;
  /** Called after each PUT with how many keys are stored of how many. */
  progress?: (done: number, total: number) => void;
}

export interface CreatedGrant {
  grantId: string;
  height: number | null;
  /** Records whose wrapped keys the gateway now holds for the grantee. */
  records: number;
  /** Pool addresses searched (one per distinct day address). */
  addresses: number;
}

/** One shared record as the grantee reads it. */
export interface SharedRecord {
  recordId: string;
  address: string;
  format: string;
  key: Record<string, KeyValue>;
  value: RecordValue;
}

interface KvEntryJson {
  address: string;
  key: string;
  recordId: string;
  format: string | null;
  record: string;
  storedAt: number;
}

interface GrantKeyJson {
  recordId: string;
  wrappedKey: string;
  address?: string;
  key?: string;
}

const hex = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
const unhex = (s: string) => new Uint8Array(Buffer.from(s, 'hex'));

/** Every UTC day from..to (YYYYMMDD numbers), inclusive. */
export function daysBetween(fromDay: number, toDay: number): number[] {
  if (!isValidDay(fromDay) || !isValidDay(toDay) || fromDay > toDay) throw new GrantFlowError('BAD_GRANT', `days ${fromDay}..${toDay}: valid YYYYMMDD days, from ≤ to`);
  const toDate = (d: number) => Date.UTC(Math.floor(d / 10000), (Math.floor(d / 100) % 100) - 1, d % 100);
  const out: number[] = [];
  for (let t = toDate(fromDay); t <= toDate(toDay); t += 86_400_000) {
    const d = new Date(t);
    out.push(d.getUTCFullYear() * 10000 + (d.getUTCMonth() + 1) * 100 + d.getUTCDate());
  }
  return out;
}

/** Owner side: Grant tx (committed), then the covered records' keys re-wrapped and stored on the gateway. */
export async function createGrant(req: GrantRequest, ctx: GrantContext): Promise<CreatedGrant> {
  const now = ctx.now ?? Date.now;
  const formats = ctx.formats ?? builtinFormatDictionary();
  const days = daysBetween(req.fromDay, req.toDay);
  let granteeKey: KeyObject;
  try {
    granteeKey = rsaPublicKeyFromPem(req.granteeRsaPublicKeyPem);
  } catch (cause) {
    throw new GrantFlowError('KEY_INVALID', `the grantee's RSA public key: ${(cause as Error).message}`, { cause });
  }
  let body: Uint8Array;
  try {
    body = encodeGrantBody({
      kind: 'grant', grantee: req.grantee, granteeRsaFingerprint: rsaKeyFingerprint(granteeKey), fromDay: req.fromDay, toDay: req.toDay,
      formats: req.formats, resell: req.resell ?? false, expiresAt: req.expiresAt ?? 0, revokes: null,
    });
  } catch (cause) {
    throw new GrantFlowError('BAD_GRANT', (cause as Error).message, { cause });
  }
  const identity = ownerIdentity(req.root);
  const { chainId } = await ctx.chain.status();
  const tx = buildTx({ type: 'Grant', chainId, signerPriv: identity.privateKey, expiresAt: now() + TX_LIFETIME_MS, body });
  const committed = await ctx.chain.submit(tx.bytes, { waitForCommit: true });
  const grantId = hex(tx.txId);

  // Several days may share a pool address (N addresses for every day), so each address is read once.
  const material = poolMaterialFor(req.root, req.vehicle.index, req.vehicle.poolSize);
  const pool = derivePoolAddresses(material);
  const addresses = [...new Set(days.map((d) => deductFrom(pool, String(d), material.userSeed)))];
  const terms = { fromDay: req.fromDay, toDay: req.toDay, formats: [...new Set(req.formats)] };
  const covered: KvEntryJson[] = [];
  for (const address of addresses) {
    for (const format of terms.formats) {
      for await (const entry of kvRange(ctx.gatewayUrl, address, format)) {
        if (coversRecord(terms, formats, unhex(entry.key), entry.storedAt)) covered.push(entry);
      }
    }
  }

  const owner = ownerRsaKeyPair(req.root);
  let stored = 0;
  for (let i = 0; i < covered.length; i += KEYS_PER_PUT) {
    const chunk = covered.slice(i, i + KEYS_PER_PUT).map((entry) => {
      const sealed = decodeRecord(unhex(entry.record));
      const slot = { address: sealed.address, format: recordFormat(sealed), encodedKey: sealed.encodedKey };
      const wrappedKey = rewrapContentKey(owner.privateKey, slot, sealed.envelope.wrappedKey, granteeKey);
      return { recordId: entry.recordId, wrappedKey: hex(wrappedKey), address: entry.address, key: entry.key };
    });
    await gatewayJson(ctx.gatewayUrl, `/v1/grants/${grantId}/keys`, { method: 'PUT', body: JSON.stringify(chunk) });
    stored += chunk.length;
    ctx.progress?.(stored, covered.length);
  }
  return { grantId, height: committed.height ?? null, records: stored, addresses: addresses.length };
}

/** The grants this wallet made (revoked ones included), from the chain's state, with whether each is in force at `now`. */
export async function listGrants(root: HDKey, chain: Pick<ChainClient, 'query'>, now = Date.now()): Promise<(ChainGrantJson & { active: boolean })[]> {
  const grants = await chain.query<ChainGrantJson[]>('grants', { grantor: ownerIdentity(root).address });
  return grants.map((g) => ({ ...g, active: g.revokedAt === 0 && (g.expiresAt === 0 || g.expiresAt > now) }));
}

/** Revokes one of this wallet's grants; resolves once the revocation is committed. */
export async function revokeGrant(root: HDKey, grantId: string, chain: Pick<ChainClient, 'status' | 'submit'>, now = Date.now()): Promise<{ grantId: string; txId: string; height: number | null }> {
  if (!/^[0-9a-f]{64}$/.test(grantId)) throw new GrantFlowError('BAD_GRANT', `grant id ${JSON.stringify(grantId)}: 64 lowercase hex digits`);
  const { chainId } = await chain.status();
  const tx = buildTx({ type: 'Grant', chainId, signerPriv: ownerIdentity(root).privateKey, expiresAt: now + TX_LIFETIME_MS, body: encodeGrantBody({ kind: 'revoke', revokes: unhex(grantId) }) });
  const committed = await chain.submit(tx.bytes, { waitForCommit: true });
  return { grantId, txId: hex(tx.txId), height: committed.height ?? null };
}

/** Grantee side: every record shared under the grant, decrypted with the grantee's RSA private key (PKCS#8 or PKCS#1 PEM). */
export async function readShared(o: { grantId: string; granteeRsaPrivateKeyPem: string; formats?: FormatDictionary }, gatewayUrl: string): Promise<SharedRecord[]> {
  if (!/^[0-9a-f]{64}$/.test(o.grantId)) throw new GrantFlowError('BAD_GRANT', `grant id ${JSON.stringify(o.grantId)}: 64 lowercase hex digits`);
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(o.granteeRsaPrivateKeyPem);
  } catch (cause) {
    throw new GrantFlowError('KEY_INVALID', `the grantee's RSA private key: ${(cause as Error).message}`, { cause });
  }
  if (privateKey.asymmetricKeyType !== 'rsa') throw new GrantFlowError('KEY_INVALID', `the grantee's key is ${String(privateKey.asymmetricKeyType)}, not RSA`);
  const formats = o.formats ?? builtinFormatDictionary();
  const out: SharedRecord[] = [];
  let cursor: string | null = null;
  do {
    const qs: string = `?limit=${PAGE}${cursor === null ? '' : `&cursor=${cursor}`}`;
    const page = (await gatewayJson(gatewayUrl, `/v1/grants/${o.grantId}/records${qs}`)) as { records: GrantKeyJson[]; nextCursor: string | null };
    // A key stored without its record reference cannot be placed (the owner's flow always sends it).
    const placed = page.records.filter((k): k is Required<GrantKeyJson> => k.address !== undefined && k.key !== undefined);
    for (let i = 0; i < placed.length; i += FETCH_CONCURRENCY) {
      const batch = placed.slice(i, i + FETCH_CONCURRENCY);
      const entries = await Promise.all(batch.map((k) => gatewayJson(gatewayUrl, `/v1/kv/${k.address}/${k.key}`) as Promise<KvEntryJson>));
      batch.forEach((k, j) => {
        const sealed = decodeRecord(unhex(entries[j]!.record));
        // The envelope is bound to (address, key): a record from another slot would not open.
        const opened = openRecord(sealed, formats, privateKey, unhex(k.wrappedKey));
        out.push({ recordId: k.recordId, address: sealed.address, format: opened.format, key: opened.key, value: opened.value });
      });
    }
    cursor = page.nextCursor;
  } while (cursor !== null);
  return out;
}

async function* kvRange(gatewayUrl: string, address: string, format: string): AsyncGenerator<KvEntryJson> {
  let cursor: string | null = null;
  do {
    const qs: string = `?format=${encodeURIComponent(format)}&limit=${PAGE}${cursor === null ? '' : `&cursor=${cursor}`}`;
    const page = (await gatewayJson(gatewayUrl, `/v1/kv/${address}${qs}`)) as { entries: KvEntryJson[]; nextCursor: string | null };
    yield* page.entries;
    cursor = page.nextCursor;
  } while (cursor !== null);
}

/** One gateway call: JSON in and out; the gateway's error codes become GrantFlowErrors (503 → temporary). */
async function gatewayJson(gatewayUrl: string, path: string, init: { method?: string; body?: string } = {}): Promise<unknown> {
  const url = `${gatewayUrl.replace(/\/$/, '')}${path}`;
  let res: Response;
  try {
    res = await fetch(url, { method: init.method ?? 'GET', ...(init.body !== undefined ? { body: init.body, headers: { 'content-type': 'application/json' } } : {}), signal: AbortSignal.timeout(30_000) });
  } catch (cause) {
    throw new GrantFlowError('GATEWAY_UNREACHABLE', `cannot reach the gateway at ${gatewayUrl}: ${(cause as Error).message}`, { temporary: true, cause });
  }
  const json = (await res.json().catch(() => null)) as { error?: { code?: string; message?: string; temporary?: boolean } } | null;
  if (res.ok && json !== null) return json;
  const e = json?.error ?? {};
  const message = `${init.method ?? 'GET'} ${path}: ${e.code ?? `HTTP ${res.status}`}: ${e.message ?? 'no error body'}`;
  if (e.code === 'GRANT_REFUSED') throw new GrantFlowError('GRANT_REFUSED', message);
  throw new GrantFlowError('GATEWAY_ERROR', message, { temporary: e.temporary === true || res.status >= 500 });
}
