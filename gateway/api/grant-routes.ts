// Wrapped keys of grants over HTTP: PUT up to 1000 per call, GET by record id; both asked of the GrantAuthority first.
import type { FastifyInstance } from 'fastify';
import { ApiError } from './api-errors.js';
import { bytesToHex, grantKeysGetSchema, grantKeysPutSchema, hexToBytes } from './api-schemas.js';
import type { GatewayApiDeps } from './gateway-api.js';
import { GrantKeyStore } from './grant-keys.js';

export function registerGrantRoutes(app: FastifyInstance, deps: GatewayApiDeps): void {
  const store = new GrantKeyStore(deps.kv, deps.now);
  const authorise = async (grantId: Uint8Array, recordIds: Uint8Array[]) => {
    if (!(await deps.grants.isAuthorised(grantId, recordIds))) throw new ApiError('GRANT_REFUSED', 'the grant does not cover these records');
  };

  app.put<{ Params: { grantId: string }; Body: { recordId: string; wrappedKey: string }[] }>('/v1/grants/:grantId/keys', { schema: grantKeysPutSchema }, async (req) => {
    const grantId = hexToBytes(req.params.grantId);
    const keys = req.body.map((k) => ({ recordId: hexToBytes(k.recordId), wrappedKey: hexToBytes(k.wrappedKey) }));
    await authorise(grantId, keys.map((k) => k.recordId));
    const outcomes = await store.put(grantId, keys);
    const conflicts = req.body.filter((_, i) => outcomes[i] === 'conflict').map((k) => k.recordId);
    // Every other key is stored (putIfAbsent is per entry); the caller learns which ids were refused.
    if (conflicts.length > 0) throw new ApiError('CONFLICT', `a different wrapped key is already stored for ${conflicts.length} record(s): ${conflicts.slice(0, 5).join(', ')}`);
    return { grantId: req.params.grantId, stored: outcomes.filter((o) => o === 'stored').length, unchanged: outcomes.filter((o) => o === 'unchanged').length };
  });

  app.get<{ Params: { grantId: string }; Querystring: { recordId: string[] } }>('/v1/grants/:grantId/keys', { schema: grantKeysGetSchema }, async (req) => {
    const grantId = hexToBytes(req.params.grantId);
    const ids = req.query.recordId.map(hexToBytes);
    await authorise(grantId, ids);
    const found = await store.get(grantId, ids);
    return {
      grantId: req.params.grantId,
      keys: req.query.recordId.flatMap((recordId, i) => (found[i] ? [{ recordId, wrappedKey: bytesToHex(found[i]) }] : [])),
      missing: req.query.recordId.filter((_, i) => !found[i]),
    };
  });
}
