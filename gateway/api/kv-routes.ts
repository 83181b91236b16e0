// getKV and getKVRange over HTTP: one stored record by (address, encoded key), and ordered pages of an address's records.
import type { FastifyInstance } from 'fastify';
import { isAddress } from '../../protocol/address.js';
import { INF_MAX, INF_MIN, MAX_ENCODED_KEY_BYTES, encodeKeyBound, readKeyFormat } from '../../protocol/key-encoding.js';
import { recordId } from '../../protocol/record.js';
import { compareBytes } from '../../protocol/wire.js';
import { encodeCursor } from '../kv/kv-cursor.js';
import type { KvEntry } from '../kv/kv-store.js';
import { ApiError } from './api-errors.js';
import { DEFAULT_RANGE_LIMIT, bytesToHex, hexToBytes, kvGetSchema, kvRangeSchema } from './api-schemas.js';
import type { GatewayApiDeps } from './gateway-api.js';
import { proofJson, type ProofJson } from './proof-routes.js';

export interface KvEntryJson {
  address: string;
  /** Hex of the encoded record key. */
  key: string;
  recordId: string;
  /** The format name every encoded key starts with (null if the key is not a record key). */
  format: string | null;
  /** Hex of the encoded sealed record (ciphertext; the wallet decrypts). */
  record: string;
  originProof: string;
  /** Milliseconds since the epoch when this gateway stored the record. */
  storedAt: number;
  proof?: ProofJson | { pending: true } | null;
}

/**
 * A page stops early once its records reach this many hex characters, so `limit` × 256 KiB records
 * cannot build a response of hundreds of MiB; nextCursor then continues after the last one returned.
 */
export const MAX_PAGE_HEX_CHARS = 16 * 1024 * 1024;

/** Above every encoded key: a key is at most MAX_ENCODED_KEY_BYTES, this bound one byte longer, all 0xff. */
const END_OF_KEYS = new Uint8Array(MAX_ENCODED_KEY_BYTES + 1).fill(0xff);

export function registerKvRoutes(app: FastifyInstance, deps: GatewayApiDeps): void {
  app.get<{ Params: { address: string; key: string } }>('/v1/kv/:address/:key', { schema: kvGetSchema }, async (req) => {
    checkPoolAddress(req.params.address);
    const entry = await deps.kv.get(req.params.address, hexToBytes(req.params.key));
    if (entry === null) throw new ApiError('NOT_FOUND', `no record under ${req.params.address}/${req.params.key}`);
    return entryJson(entry);
  });

  app.get<{ Params: { address: string }; Querystring: { start?: string; end?: string; limit?: number; cursor?: string; format?: string; proofs?: '0' | '1' } }>(
    '/v1/kv/:address',
    { schema: kvRangeSchema },
    async (req) => {
      const { address } = req.params;
      checkPoolAddress(address);
      const q = req.query;
      let start = q.start === undefined ? new Uint8Array(0) : hexToBytes(q.start);
      let end = q.end === undefined ? END_OF_KEYS : hexToBytes(q.end);
      if (compareBytes(start, end) > 0) throw new ApiError('BAD_RANGE', 'start is after end');
      if (q.format !== undefined) {
        // The format narrows the range to its own keys (every encoded key starts with its format name).
        const span = formatSpan(deps, q.format);
        if (compareBytes(span.start, start) > 0) start = span.start;
        if (compareBytes(span.end, end) < 0) end = span.end;
        if (compareBytes(start, end) > 0) end = start;
      }
      const page = await deps.kv.range(address, start, end, { limit: q.limit ?? DEFAULT_RANGE_LIMIT, ...(q.cursor === undefined ? {} : { cursor: q.cursor }) });
      const entries: KvEntryJson[] = [];
      let chars = 0;
      let nextCursor = page.nextCursor;
      for (const entry of page.entries) {
        if (entries.length > 0 && chars + 2 * entry.record.length > MAX_PAGE_HEX_CHARS) {
          nextCursor = encodeCursor(page.entries[entries.length - 1]!.encodedKey);
          break;
        }
        chars += 2 * entry.record.length;
        const json = entryJson(entry);
        if (q.proofs === '1') json.proof = proofJson(deps.batches.lookup(recordId(entry.address, entry.encodedKey)));
        entries.push(json);
      }
      return { address, entries, nextCursor };
    },
  );
}

function checkPoolAddress(address: string): void {
  if (!isAddress(address)) throw new ApiError('BAD_ADDRESS', `${address} is not a P2PKH pool address (bad checksum or version)`);
}

function formatSpan(deps: GatewayApiDeps, name: string): { start: Uint8Array; end: Uint8Array } {
  const formats = deps.formats();
  if (!formats.has(name)) throw new ApiError('FORMAT_UNKNOWN', `format ${JSON.stringify(name)} is not in the dictionary`);
  const schema = formats.get(name).key;
  const first = schema[0];
  if (first === undefined) {
    const only = encodeKeyBound(name, schema, {});
    return { start: only, end: Uint8Array.of(...only, 0) };
  }
  return { start: encodeKeyBound(name, schema, { [first.name]: INF_MIN }), end: encodeKeyBound(name, schema, { [first.name]: INF_MAX }) };
}

export function entryJson(entry: KvEntry): KvEntryJson {
  let format: string | null;
  try {
    format = readKeyFormat(entry.encodedKey);
  } catch {
    format = null;
  }
  return {
    address: entry.address,
    key: bytesToHex(entry.encodedKey),
    recordId: bytesToHex(recordId(entry.address, entry.encodedKey)),
    format,
    record: bytesToHex(entry.record),
    originProof: bytesToHex(entry.originProof),
    storedAt: entry.receivedAt,
  };
}
