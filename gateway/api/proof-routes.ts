// Record proofs (record → leaf → batch root, anchor when known) and sealed batches over HTTP.
//
// The anchor is null until the chain client records a BatchAnchor for the batch (LeafLog.markAnchored);
// a proof is complete for a light client only once it is set.
import type { FastifyInstance } from 'fastify';
import type { LeafLookup, SealedBatch } from '../batches/leaf-log.js';
import { type ProofFile, recordProof } from '../chain/light/proof-file.js';
import { ApiError } from './api-errors.js';
import { batchSchema, bytesToHex, hexToBytes, recordProofSchema } from './api-schemas.js';
import type { GatewayApiDeps } from './gateway-api.js';

export interface AnchorJson {
  height: number;
  txId: string;
}

export interface ProofJson {
  recordId?: string;
  /** RFC 6962 leaf hash of the record bytes: SHA-256(0x00 ‖ record). */
  leafHash: string;
  batchId: number;
  leafIndex: number;
  treeSize: number;
  root: string;
  /** Inclusion path, leaf to root (RFC 9162 §2.1.3). */
  path: string[];
  anchor: AnchorJson | null;
}

export interface BatchJson {
  batchId: number;
  root: string;
  size: number;
  sealedAt: number;
  anchor: AnchorJson | null;
}

function anchorJson(anchor: SealedBatch['anchor']): AnchorJson | null {
  return anchor === null ? null : { height: anchor.height, txId: bytesToHex(anchor.txHash) };
}

/** The proof part of a lookup: null if unknown, {pending} if waiting for a batch. */
export function proofJson(found: LeafLookup): ProofJson | { pending: true } | null {
  if (found.state === 'unknown') return null;
  if (found.state === 'pending') return { pending: true };
  const l = found.location;
  return { leafHash: bytesToHex(l.leafHash), batchId: l.batchId, leafIndex: l.leafIndex, treeSize: l.size, root: bytesToHex(l.root), path: l.path.map(bytesToHex), anchor: anchorJson(l.anchor) };
}

export function registerProofRoutes(app: FastifyInstance, deps: GatewayApiDeps): void {
  app.get<{ Params: { recordId: string } }>('/v1/records/:recordId/proof', { schema: recordProofSchema }, async (req, reply) => {
    const { recordId } = req.params;
    const proof = proofJson(deps.batches.lookup(hexToBytes(recordId)));
    if (proof === null) throw new ApiError('NOT_FOUND', `record ${recordId} is not in this gateway's batch log`);
    if ('pending' in proof) return reply.code(202).send({ recordId, pending: true });
    return { recordId, ...proof };
  });

  // The self-contained proof file `carchain proof verify` checks offline: record → batch → BatchAnchor → headers → genesis.
  app.get<{ Params: { recordId: string } }>('/v1/records/:recordId/proof-file', { schema: recordProofSchema }, async (req, reply) => {
    const { recordId } = req.params;
    const found = deps.batches.lookup(hexToBytes(recordId));
    if (found.state === 'unknown') throw new ApiError('NOT_FOUND', `record ${recordId} is not in this gateway's batch log`);
    if (found.state === 'pending' || found.location.anchor === null) return reply.code(202).send({ recordId, pending: true });
    if (deps.chainTxProof === undefined) throw new ApiError('CHAIN_UNAVAILABLE', 'this gateway has no chain client');
    const l = found.location;
    let txProof: ProofFile;
    try {
      txProof = await deps.chainTxProof(bytesToHex(l.anchor!.txHash));
    } catch (cause) {
      throw new ApiError('CHAIN_UNAVAILABLE', `the chain did not give the anchor's proof: ${(cause as Error).message}`, { cause });
    }
    return recordProof(txProof, { leafHash: l.leafHash, recordId: hexToBytes(recordId), batchId: l.batchId, leafIndex: l.leafIndex, treeSize: l.size, path: l.path });
  });

  app.get<{ Params: { batchId: number } }>('/v1/batches/:batchId', { schema: batchSchema }, (req, reply) => {
    const batch = deps.batches.batch(req.params.batchId);
    if (batch === null) throw new ApiError('NOT_FOUND', `no sealed batch ${req.params.batchId}`);
    const body: BatchJson = { batchId: batch.batchId, root: bytesToHex(batch.root), size: batch.size, sealedAt: batch.sealedAt, anchor: anchorJson(batch.anchor) };
    return reply.send(body);
  });
}
