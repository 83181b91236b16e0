// The gateway's HTTP API (fastify): query routes under /v1, status routes, one error shape, request counters.
//
// Every error is `{error: {code, message, temporary?}}` with a stable code (api-errors.ts); 503 +
// temporary when the KV backend (or, for grants, the chain) is unavailable. Bytes are lowercase hex.
import Fastify, { type FastifyError, type FastifyInstance } from 'fastify';
import type { AddressInfo } from 'node:net';
import type { FormatDictionary } from '../../protocol/formats.js';
import { MAX_ENCODED_KEY_BYTES } from '../../protocol/key-encoding.js';
import type { LeafLog } from '../batches/leaf-log.js';
import type { ProofFile } from '../chain/light/proof-file.js';
import type { KvStore } from '../kv/kv-store.js';
import type { LogFn } from '../log.js';
import { ApiError, errorBody, toApiError } from './api-errors.js';
import { MAX_GRANT_KEYS_PER_CALL, validationError } from './api-schemas.js';
import { HttpRequestCounters, prometheus, type GatewayStats } from './gateway-status.js';
import { registerGrantRoutes } from './grant-routes.js';
import { chainlessGrantAuthority, type GrantAuthority } from './grant-keys.js';
import { registerKvRoutes } from './kv-routes.js';
import { registerProofRoutes } from './proof-routes.js';
import { registerDashboardRoutes } from './dashboard-routes.js';
import type { DeviceActivity } from './device-activity.js';
import type { ChainReader } from './validator-liveness.js';

export interface GatewayApiDeps {
  kv: KvStore;
  /** The batch log's read side. */
  batches: Pick<LeafLog, 'lookup' | 'batch'>;
  formats: () => FormatDictionary;
  stats: () => Promise<GatewayStats>;
  /** Decides PUT/GET of grant keys; default: chainlessGrantAuthority (refuses with 503 CHAIN_UNAVAILABLE). */
  grants: GrantAuthority;
  now: () => number;
  log: LogFn;
  /** The chain's proof of an anchoring transaction (absent: no chain, proof files are 503 CHAIN_UNAVAILABLE). */
  chainTxProof?: (txId: string) => Promise<ProofFile>;
  /** The chain the dashboard reads height, validators and liveness from (absent: no chain panel). */
  chain?: ChainReader;
  /** What the gateway knows about connected devices, for the dashboard. */
  devices?: () => DeviceActivity;
}

export interface GatewayApiOptions extends Partial<Pick<GatewayApiDeps, 'grants' | 'now' | 'log'>>, Omit<GatewayApiDeps, 'grants' | 'now' | 'log'> {}

export interface GatewayApiServer {
  url: string;
  app: FastifyInstance;
  close(): Promise<void>;
}

/** A wrapped key is ≤ 2 KiB of hex; 1000 of them with their ids fit comfortably in 4 MiB. */
const BODY_LIMIT = Math.max(4 * 1024 * 1024, MAX_GRANT_KEYS_PER_CALL * 2300);

/** find-my-way refuses longer path parameters with 414; a key one byte too long must still reach the schema (BAD_KEY). */
const PARAM_LIMIT = 2 * (MAX_ENCODED_KEY_BYTES + 16);

export function buildGatewayApi(options: GatewayApiOptions): FastifyInstance {
  const deps: GatewayApiDeps = { grants: chainlessGrantAuthority, now: Date.now, log: () => undefined, ...options };
  const app = Fastify({ logger: false, bodyLimit: BODY_LIMIT, routerOptions: { ignoreTrailingSlash: true, maxParamLength: PARAM_LIMIT } });
  const http = new HttpRequestCounters();

  app.setErrorHandler((err: FastifyError, _req, reply) => {
    const apiError = err.validation ? validationError(err.validation, err.validationContext) : toApiError(err);
    if (apiError.code === 'INTERNAL') deps.log('error', 'api request failed', { error: String(err), stack: err.stack });
    return reply.code(apiError.status).send(errorBody(apiError));
  });
  app.setNotFoundHandler((req, reply) => reply.code(404).send(errorBody(new ApiError('NOT_FOUND', `${req.method} ${req.url.split('?')[0]} is not a gateway route`))));
  app.addHook('onResponse', (req, reply, done) => {
    http.count(req.method, req.routeOptions.url ?? 'unmatched', reply.statusCode);
    done();
  });

  registerKvRoutes(app, deps);
  registerProofRoutes(app, deps);
  registerGrantRoutes(app, deps);
  registerDashboardRoutes(app, { stats: deps.stats, chain: deps.chain, devices: deps.devices, now: deps.now, log: deps.log });

  app.get('/stats', () => deps.stats());
  app.get('/health', async (_req, reply) => {
    let s: GatewayStats;
    try {
      s = await deps.stats();
    } catch (err) {
      const apiError = toApiError(err);
      return reply.code(503).send({ ok: false, ...errorBody(apiError) });
    }
    const ok = s.kv.ok && s.ingest.connected;
    return reply.code(ok ? 200 : 503).send({ ok, kv: s.kv, mqtt: s.ingest.connected });
  });
  app.get('/metrics', async (_req, reply) => {
    const s = await deps.stats();
    return reply.type('text/plain; version=0.0.4').send(prometheus(s, http));
  });
  return app;
}

/** Builds the API and listens on host:port (0 = any free port). */
export async function startGatewayApi(options: GatewayApiOptions, listen: { host: string; port: number }): Promise<GatewayApiServer> {
  const app = buildGatewayApi(options);
  await app.listen({ host: listen.host, port: listen.port });
  const address = app.server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return { url: `http://${host}:${address.port}`, app, close: () => app.close() };
}
