// Wrapped keys of grants over HTTP: PUT up to 1000 per call, GET by record id, the grantee's listing; each asked of the GrantAuthority first.
import type { FastifyInstance } from 'fastify';
import { recordId as recordIdOf } from '../../protocol/record.js';
import { equalBytes } from '../../protocol/wire.js';
import { ApiError } from './api-errors.js';
import { DEFAULT_RANGE_LIMIT, bytesToHex, grantKeysGetSchema, grantKeysPutSchema, grantRecordsSchema, hexToBytes } from './api-schemas.js';
import type { GatewayApiDeps } from './gateway-api.js';
import { GrantKeyStore, type GrantedRecordRef, type StoredWrappedKey } from './grant-keys.js';

interface PutItem {
  recordId: string;
  wrappedKey: string;
  address?: string;
  key?: string;
}

/** The record reference a PUT item carries, checked against its id; null when it carries none. */
function refOf(item: PutItem): GrantedRecordRef | null {
  if (item.address === undefined && item.key === undefined) return null;
  if (item.address === undefined || item.key === undefined) throw new ApiError('BAD_BODY', `record ${item.recordId}: address and key go together`);
  const ref = { address: item.address, encodedKey: hexToBytes(item.key) };
  if (!equalBytes(recordIdOf(ref.address, ref.encodedKey), hexToBytes(item.recordId))) {
    throw new ApiError('BAD_BODY', `record ${item.recordId}: it is not the id of ${item.address}/${item.key}`);
  }
  return ref;
}

function storedJson(k: StoredWrappedKey): { recordId: string; wrappedKey: string; address?: string; key?: string } {
  return { recordId: bytesToHex(k.recordId), wrappedKey: bytesToHex(k.wrappedKey), ...(k.record === null ? {} : { address: k.record.address, key: bytesToHex(k.record.encodedKey) }) };
}

export function registerGrantRoutes(app: FastifyInstance, deps: GatewayApiDeps): void {
  const store = new GrantKeyStore(deps.kv, deps.now);
  const authorise = async (grantId: Uint8Array, recordIds: Uint8Array[], refs: (GrantedRecordRef | null)[]) => {
    if (!(await deps.grants.isAuthorised(grantId, recordIds, refs))) throw new ApiError('GRANT_REFUSED', 'the grant does not cover these records');
  };

  app.put<{ Params: { grantId: string }; Body: PutItem[] }>('/v1/grants/:grantId/keys', { schema: grantKeysPutSchema }, async (req) => {
    const grantId = hexToBytes(req.params.grantId);
    const keys = req.body.map((k) => ({ recordId: hexToBytes(k.recordId), wrappedKey: hexToBytes(k.wrappedKey), record: refOf(k) }));
    // An item without its reference may repeat one stored earlier for the same (grant, record).
    const unreferenced = keys.filter((k) => k.record === null);
    if (unreferenced.length > 0) {
      const stored = await store.getStored(grantId, unreferenced.map((k) => k.recordId));
      unreferenced.forEach((k, i) => (k.record = stored[i]?.record ?? null));
    }
    await authorise(grantId, keys.map((k) => k.recordId), keys.map((k) => k.record));
    const outcomes = await store.put(grantId, keys);
    const conflicts = req.body.filter((_, i) => outcomes[i] === 'conflict').map((k) => k.recordId);
    // Every other key is stored (putIfAbsent is per entry); the caller learns which ids were refused.
    if (conflicts.length > 0) throw new ApiError('CONFLICT', `a different wrapped key is already stored for ${conflicts.length} record(s): ${conflicts.slice(0, 5).join(', ')}`);
    return { grantId: req.params.grantId, stored: outcomes.filter((o) => o === 'stored').length, unchanged: outcomes.filter((o) => o === 'unchanged').length };
  });

  app.get<{ Params: { grantId: string }; Querystring: { recordId: string[] } }>('/v1/grants/:grantId/keys', { schema: grantKeysGetSchema }, async (req) => {
    const grantId = hexToBytes(req.params.grantId);
    const found = await store.getStored(grantId, req.query.recordId.map(hexToBytes));
    // Ids with nothing stored reveal nothing; the grant itself is still checked.
    const present = found.filter((k): k is StoredWrappedKey => k !== null);
    await authorise(grantId, present.map((k) => k.recordId), present.map((k) => k.record));
    return {
      grantId: req.params.grantId,
      keys: found.flatMap((k) => (k === null ? [] : [storedJson(k)])),
      missing: req.query.recordId.filter((_, i) => found[i] === null),
    };
  });

  app.get<{ Params: { grantId: string }; Querystring: { limit?: number; cursor?: string } }>('/v1/grants/:grantId/records', { schema: grantRecordsSchema }, async (req) => {
    const grantId = hexToBytes(req.params.grantId);
    const page = await store.list(grantId, req.query.limit ?? DEFAULT_RANGE_LIMIT, req.query.cursor);
    await authorise(grantId, page.keys.map((k) => k.recordId), page.keys.map((k) => k.record));
    return { grantId: req.params.grantId, records: page.keys.map(storedJson), nextCursor: page.nextCursor };
  });
}
