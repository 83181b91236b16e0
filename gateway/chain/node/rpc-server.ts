// The node's HTTP RPC: status, blocks with commits, transaction submit (one or a batch, optionally awaiting commit), proofs, state queries.
//
// JSON with bytes as lowercase hex; errors are {error: {code, message, temporary}} with 4xx for bad
// requests and refused transactions, 503/504 for conditions that pass. Loopback by default.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CarchainError } from '../../../protocol/errors.js';
import { encodeCommit } from '../consensus/messages.js';
import { encodeValidatorSet } from '../consensus/validator-set.js';
import { type Block, blockIdOfHeader, encodeHeader } from '../block/block.js';
import { buildTxProof } from '../light/proof-builder.js';
import { MempoolError } from './mempool.js';
import { ADMISSION_SLICE_MS, type ChainNode } from './chain-node.js';
import { decodeTxBatch } from './tx-batch.js';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const MAX_BODY = 64 * 1024;
/** POST /txs: one HTTP exchange for many transactions (a gateway anchoring a backlog, the benchmark). */
export const MAX_BATCH_TXS = 2000;
const MAX_BATCH_BODY = 8 * 1024 * 1024;

export class RpcError extends CarchainError<'BAD_REQUEST' | 'NOT_FOUND' | 'TX_REJECTED' | 'MEMPOOL_FULL' | 'COMMIT_TIMEOUT' | 'FORBIDDEN'> {}

/** Extra routes: application queries (`/query/...`) and test-only admin endpoints. */
export type RouteHandler = (path: string, query: URLSearchParams, body: Uint8Array) => unknown;

export interface RpcServerOptions {
  node: ChainNode;
  host?: string;
  port?: number;
  /** Application state queries under /query/…; return undefined for 404. */
  queries?: RouteHandler;
  /** Test-mode admin routes under /admin/… (fault injection); absent in production. */
  admin?: RouteHandler;
}

export interface RpcServer {
  url: string;
  close(): Promise<void>;
}

function headerJson(b: Block): Record<string, unknown> {
  const h = b.header;
  return {
    chainId: h.chainId, height: h.height, time: h.time, proposer: h.proposer, lastBlockId: hex(h.lastBlockId),
    lastCommitHash: hex(h.lastCommitHash), txRoot: hex(h.txRoot), txCount: h.txCount, validatorsHash: hex(h.validatorsHash),
    nextValidatorsHash: hex(h.nextValidatorsHash), appHash: hex(h.appHash),
  };
}

export function statusOf(node: ChainNode): Record<string, unknown> {
  const height = node.height;
  const header = height > 0 ? node.store.header(height) : undefined;
  const set = node.validatorsAt(height + 1);
  return {
    chainId: node.chainId, address: node.address, height, decidingHeight: node.decidingHeight, round: node.round,
    lastBlockHash: height > 0 ? hex(node.store.blockId(height)!) : null, lastBlockTime: header?.time ?? null,
    appHash: hex(node.store.appHash()), validator: node.isValidator(),
    validators: set.validators.map((v) => ({ address: v.address, publicKey: hex(v.publicKey), power: v.power })),
    mempool: { txs: node.mempool.size, bytes: node.mempool.totalBytes },
  };
}

function parseHeight(node: ChainNode, query: URLSearchParams): number {
  const raw = query.get('height');
  if (raw === null || raw === 'latest') return node.height;
  if (!/^\d{1,15}$/.test(raw)) throw new RpcError('BAD_REQUEST', `height must be a positive integer, got ${JSON.stringify(raw)}`);
  return Number(raw);
}

function parseId(raw: string): Uint8Array {
  if (!/^[0-9a-f]{64}$/.test(raw)) throw new RpcError('BAD_REQUEST', 'a transaction id is 64 lowercase hex digits');
  return Uint8Array.from(Buffer.from(raw, 'hex'));
}

async function readBody(req: IncomingMessage, maxBytes = MAX_BODY): Promise<Uint8Array> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > maxBytes) throw new RpcError('BAD_REQUEST', `body larger than ${maxBytes} bytes`);
    chunks.push(chunk);
  }
  return new Uint8Array(Buffer.concat(chunks));
}

/** A tx arrives as raw bytes (application/octet-stream) or as JSON {"tx": "<hex>"}. */
function txFromBody(req: IncomingMessage, body: Uint8Array): Uint8Array {
  if ((req.headers['content-type'] ?? '').startsWith('application/json')) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(Buffer.from(body).toString('utf8'));
    } catch {
      throw new RpcError('BAD_REQUEST', 'body is not JSON');
    }
    const tx = (parsed as { tx?: unknown }).tx;
    if (typeof tx !== 'string' || !/^([0-9a-f]{2})+$/.test(tx)) throw new RpcError('BAD_REQUEST', 'expected {"tx": "<hex>"}');
    return Uint8Array.from(Buffer.from(tx, 'hex'));
  }
  if (body.length === 0) throw new RpcError('BAD_REQUEST', 'empty body');
  return body;
}

/** A batch arrives as JSON {"txs": ["<hex>", …]} or as application/octet-stream: count varint ‖ (varint length ‖ tx)*. */
function txsFromBody(req: IncomingMessage, body: Uint8Array, maxTxBytes: number): Uint8Array[] {
  let txs: Uint8Array[];
  if ((req.headers['content-type'] ?? '').startsWith('application/json')) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(Buffer.from(body).toString('utf8'));
    } catch {
      throw new RpcError('BAD_REQUEST', 'body is not JSON');
    }
    const list = (parsed as { txs?: unknown }).txs;
    if (!Array.isArray(list) || !list.every((tx) => typeof tx === 'string' && /^([0-9a-f]{2})+$/.test(tx))) {
      throw new RpcError('BAD_REQUEST', 'expected {"txs": ["<hex>", …]}');
    }
    txs = (list as string[]).map((tx) => Uint8Array.from(Buffer.from(tx, 'hex')));
  } else {
    try {
      txs = decodeTxBatch(body, maxTxBytes);
    } catch (err) {
      throw new RpcError('BAD_REQUEST', `not a transaction batch: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  if (txs.length === 0) throw new RpcError('BAD_REQUEST', 'empty batch');
  if (txs.length > MAX_BATCH_TXS) throw new RpcError('BAD_REQUEST', `batch of ${txs.length} txs, limit ${MAX_BATCH_TXS}`);
  return txs;
}

/**
 * Every tx of a batch is admitted or refused on its own: one result per tx, in order, errors as in
 * POST /tx. Admission yields to the event loop every ADMISSION_SLICE_MS so consensus messages wait
 * no longer for a big batch than for gossip.
 */
async function submitBatch(node: ChainNode, txs: readonly Uint8Array[], waitMs: number | null): Promise<Record<string, unknown>[]> {
  const results: { txId?: Uint8Array; error?: CarchainError<string> }[] = [];
  let until = performance.now() + ADMISSION_SLICE_MS;
  for (const tx of txs) {
    if (performance.now() > until) {
      await new Promise((resolve) => setImmediate(resolve));
      until = performance.now() + ADMISSION_SLICE_MS;
    }
    try {
      results.push({ txId: node.submit(tx).txId });
    } catch (err) {
      if (!(err instanceof CarchainError)) throw err;
      results.push({ error: err as CarchainError<string> });
    }
  }
  return Promise.all(results.map(async (r) => {
    if (r.txId === undefined) return errorBody(r.error!);
    if (waitMs === null) return { txId: hex(r.txId) };
    try {
      const at = await node.waitForTx(r.txId, waitMs);
      return { txId: hex(r.txId), height: at.height, index: at.index };
    } catch (err) {
      if (err instanceof CarchainError) return { txId: hex(r.txId), ...errorBody(err as CarchainError<string>) };
      throw err;
    }
  }));
}

function blockJson(node: ChainNode, height: number): Record<string, unknown> {
  const block = node.store.block(height);
  const commit = node.store.commit(height);
  if (block === undefined || commit === undefined) throw new RpcError('NOT_FOUND', `no block at height ${height}`);
  return {
    blockId: hex(blockIdOfHeader(block.header)), header: headerJson(block), headerHex: hex(encodeHeader(block.header)),
    txs: block.txs.map(hex), commit: {
      height: commit.height, round: commit.round, valueId: hex(commit.valueId),
      precommits: commit.precommits.map((v) => ({ validator: v.validator, signature: hex(v.signature) })),
    },
    commitHex: hex(encodeCommit(commit)), validatorsHex: hex(encodeValidatorSet(node.validatorsAt(height))),
  };
}

async function route(o: RpcServerOptions, req: IncomingMessage, url: URL): Promise<[number, unknown]> {
  const node = o.node;
  const path = url.pathname;
  const q = url.searchParams;
  if (req.method === 'GET' && path === '/status') return [200, statusOf(node)];
  if (req.method === 'GET' && path === '/block') return [200, blockJson(node, parseHeight(node, q))];
  if (req.method === 'GET' && path === '/validators') {
    const height = parseHeight(node, q) + (q.has('height') ? 0 : 1);
    const set = node.store.validatorsAt(height);
    if (set === undefined) throw new RpcError('NOT_FOUND', `no validator set for height ${height}`);
    return [200, { height, validators: set.validators.map((v) => ({ address: v.address, publicKey: hex(v.publicKey), power: v.power })) }];
  }
  if (req.method === 'POST' && path === '/tx') {
    const tx = txFromBody(req, await readBody(req));
    const { txId } = node.submit(tx);
    if (q.get('wait') !== 'commit') return [202, { txId: hex(txId) }];
    const timeoutMs = Math.min(Number(q.get('timeoutMs') ?? 30_000) || 30_000, 120_000);
    const at = await node.waitForTx(txId, timeoutMs);
    return [200, { txId: hex(txId), height: at.height, index: at.index }];
  }
  if (req.method === 'POST' && path === '/txs') {
    const txs = txsFromBody(req, await readBody(req, MAX_BATCH_BODY), node.mempool.maxTxBytes);
    const waitMs = q.get('wait') === 'commit' ? Math.min(Number(q.get('timeoutMs') ?? 30_000) || 30_000, 120_000) : null;
    return [200, { results: await submitBatch(node, txs, waitMs) }];
  }
  const txMatch = /^\/tx\/([^/]+)$/.exec(path);
  if (req.method === 'GET' && txMatch !== null) {
    const id = parseId(txMatch[1]!);
    const at = node.store.locateTx(id);
    if (at === undefined) return [node.mempool.has(id) ? 202 : 404, node.mempool.has(id) ? { txId: hex(id), pending: true } : errorBody(new RpcError('NOT_FOUND', 'unknown transaction'))];
    return [200, { txId: hex(id), height: at.height, index: at.index }];
  }
  const proofMatch = /^\/proof\/tx\/([^/]+)$/.exec(path);
  if (req.method === 'GET' && proofMatch !== null) {
    const proof = buildTxProof(node.store, node.chainId, parseId(proofMatch[1]!));
    if (proof === undefined) throw new RpcError('NOT_FOUND', 'unknown or uncommitted transaction');
    return [200, proof];
  }
  if (path.startsWith('/query/') && o.queries !== undefined) {
    const result = await o.queries(path.slice('/query/'.length), q, new Uint8Array());
    if (result === undefined) throw new RpcError('NOT_FOUND', `nothing at ${path}`);
    return [200, result];
  }
  if (path.startsWith('/admin/') && o.admin !== undefined) {
    return [200, await o.admin(path.slice('/admin/'.length), q, await readBody(req))];
  }
  throw new RpcError('NOT_FOUND', `no route ${req.method ?? ''} ${path}`);
}

function errorBody(err: CarchainError): { error: Record<string, unknown> } {
  const extra = err instanceof MempoolError && err.verdict !== undefined ? { reason: err.verdict.code, detail: err.verdict.reason } : {};
  return { error: { code: err.code, message: err.message, temporary: err.temporary, ...extra } };
}

function statusFor(err: CarchainError): number {
  switch (err.code) {
    case 'NOT_FOUND': return 404;
    case 'MEMPOOL_FULL': return 503;
    case 'COMMIT_TIMEOUT': return 504;
    case 'NODE_STOPPED': return 503;
    case 'FORBIDDEN': return 403;
    default: return 400;
  }
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

export async function startRpcServer(o: RpcServerOptions): Promise<RpcServer> {
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    route(o, req, url).then(([status, body]) => send(res, status, body), (err: unknown) => {
      if (err instanceof CarchainError) {
        const e = err as CarchainError<string>;
        send(res, statusFor(e), errorBody(e));
      } else send(res, 500, { error: { code: 'INTERNAL', message: err instanceof Error ? err.message : String(err), temporary: true } });
    });
  });
  server.keepAliveTimeout = 5000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port ?? 0, o.host ?? '127.0.0.1', () => resolve());
  });
  const addr = server.address() as AddressInfo;
  return {
    url: `http://${addr.address}:${addr.port}`,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}
