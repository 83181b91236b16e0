// The light client: from a trusted genesis validator set, verify headers by their commits, then a transaction's and a record's inclusion.
//
// Trust model (docs/chain.md): a proof carries the headers at which the validator set changed, in
// order, then the target header. Each must be signed by > 2/3 of the power of the set the previous
// step trusted (genesis first), and hands on trust through its nextValidatorsHash. Sound while fewer
// than 1/3 of each such set's power is faulty — including validators that have since unbonded, which
// is why a proof is only as strong as the chain's unbonding rules (no long-range protection here).
// Pure: no I/O, no clock; everything arrives in the proof and the genesis.
import { CarchainError } from '../../../protocol/errors.js';
import { decodeTx, type DecodedTx } from '../../../protocol/chain/transactions.js';
import { decodeTxBody } from '../../../protocol/chain/tx-bodies.js';
import { leafHash, verifyInclusion } from '../../../protocol/merkle.js';
import { equalBytes } from '../../../protocol/wire.js';
import { type BlockHeader, blockIdOfHeader, decodeHeader } from '../block/block.js';
import { verifyCommitForId } from '../consensus/commit.js';
import { decodeCommit } from '../consensus/messages.js';
import { decodeValidatorSet, type ValidatorSet } from '../consensus/validator-set.js';
import { type ProofFile, PROOF_FORMAT } from './proof-file.js';

export type LightClientErrorCode = 'PROOF_MALFORMED' | 'WRONG_CHAIN' | 'UNTRUSTED_VALIDATORS' | 'BAD_COMMIT' | 'NOT_INCLUDED' | 'NOT_AN_ANCHOR' | 'ANCHOR_MISMATCH';

export class LightClientError extends CarchainError<LightClientErrorCode> {}

export interface TrustedGenesis {
  chainId: string;
  /** The set deciding height 1. */
  validators: ValidatorSet;
}

export interface VerifiedHeader {
  header: BlockHeader;
  blockId: Uint8Array;
}

export interface VerifiedProof {
  kind: ProofFile['kind'];
  header: BlockHeader;
  blockId: Uint8Array;
  tx: DecodedTx;
  /** For record proofs: the anchored batch. */
  batch?: { batchId: number; root: Uint8Array; leafCount: number; leafIndex: number; leafHash: Uint8Array };
}

function bytesOf(hexText: unknown, what: string): Uint8Array {
  if (typeof hexText !== 'string' || !/^([0-9a-f]{2})*$/.test(hexText)) throw new LightClientError('PROOF_MALFORMED', `${what} is not lowercase hex`);
  return Uint8Array.from(Buffer.from(hexText, 'hex'));
}

function guard<T>(what: string, code: LightClientErrorCode, f: () => T): T {
  try {
    return f();
  } catch (err) {
    if (err instanceof LightClientError) throw err;
    throw new LightClientError(code, `${what}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
}

/** Verifies the hops of a proof; returns the last (target) header. */
export function verifyHeaders(genesis: TrustedGenesis, hops: ProofFile['hops']): VerifiedHeader {
  if (!Array.isArray(hops) || hops.length === 0 || hops.length > 10_000) throw new LightClientError('PROOF_MALFORMED', 'hops: 1..10000 entries');
  let trusted = genesis.validators.setHash();
  let lastHeight = 0;
  let verified: VerifiedHeader | undefined;
  for (const [i, hop] of hops.entries()) {
    const headerBytes = bytesOf(hop.header, `hops[${i}].header`);
    const header = guard(`hops[${i}].header`, 'PROOF_MALFORMED', () => decodeHeader(headerBytes));
    const set = guard(`hops[${i}].validators`, 'PROOF_MALFORMED', () => decodeValidatorSet(bytesOf(hop.validators, `hops[${i}].validators`)));
    const commit = guard(`hops[${i}].commit`, 'PROOF_MALFORMED', () => decodeCommit(bytesOf(hop.commit, `hops[${i}].commit`)));
    if (header.chainId !== genesis.chainId) throw new LightClientError('WRONG_CHAIN', `hop ${i} is for chain ${JSON.stringify(header.chainId)}`);
    if (header.height <= lastHeight) throw new LightClientError('PROOF_MALFORMED', `hop ${i}: heights must increase`);
    if (!equalBytes(set.setHash(), trusted) || !equalBytes(header.validatorsHash, trusted)) {
      throw new LightClientError('UNTRUSTED_VALIDATORS', `hop ${i} (height ${header.height}) is signed by a set the previous step does not vouch for`);
    }
    const blockId = blockIdOfHeader(headerBytes);
    guard(`hop ${i} (height ${header.height})`, 'BAD_COMMIT', () => verifyCommitForId(set, genesis.chainId, header.height, blockId, commit));
    trusted = header.nextValidatorsHash;
    lastHeight = header.height;
    verified = { header, blockId };
  }
  return verified!;
}

/** Verifies a proof file completely. Throws LightClientError with the first reason it is not valid. */
export function verifyProof(genesis: TrustedGenesis, proof: ProofFile): VerifiedProof {
  if (proof === null || typeof proof !== 'object' || proof.format !== PROOF_FORMAT) throw new LightClientError('PROOF_MALFORMED', `not a ${PROOF_FORMAT} proof`);
  if (proof.chainId !== genesis.chainId) throw new LightClientError('WRONG_CHAIN', `proof is for chain ${JSON.stringify(proof.chainId)}, genesis for ${JSON.stringify(genesis.chainId)}`);
  const { header, blockId } = verifyHeaders(genesis, proof.hops);
  const txBytes = bytesOf(proof.tx?.bytes, 'tx.bytes');
  const path = guard('tx.path', 'PROOF_MALFORMED', () => (proof.tx.path).map((p, i) => bytesOf(p, `tx.path[${i}]`)));
  guard('transaction', 'NOT_INCLUDED', () => verifyInclusion(leafHash(txBytes), proof.tx.index, header.txCount, path, header.txRoot));
  const tx = guard('tx.bytes', 'PROOF_MALFORMED', () => decodeTx(txBytes));
  if (tx.chainId !== genesis.chainId) throw new LightClientError('WRONG_CHAIN', 'transaction is for another chain');
  if (proof.kind === 'tx') return { kind: 'tx', header, blockId, tx };
  if (proof.kind !== 'record' || proof.record === undefined) throw new LightClientError('PROOF_MALFORMED', `unknown proof kind ${JSON.stringify(proof.kind)}`);
  if (tx.type !== 'BatchAnchor') throw new LightClientError('NOT_AN_ANCHOR', `the transaction is a ${tx.type}, not a BatchAnchor`);
  const anchor = guard('BatchAnchor body', 'PROOF_MALFORMED', () => decodeTxBody('BatchAnchor', tx.body));
  if (anchor.type !== 'BatchAnchor') throw new LightClientError('NOT_AN_ANCHOR', 'not a BatchAnchor body');
  const r = proof.record;
  const leaf = r.recordBytes !== undefined ? leafHash(bytesOf(r.recordBytes, 'record.recordBytes')) : bytesOf(r.leafHash, 'record.leafHash');
  if (r.recordBytes !== undefined && r.leafHash !== undefined && !equalBytes(leaf, bytesOf(r.leafHash, 'record.leafHash'))) {
    throw new LightClientError('ANCHOR_MISMATCH', 'record bytes do not hash to the given leaf');
  }
  if (r.batchId !== anchor.body.batchId || r.treeSize !== anchor.body.leafCount) {
    throw new LightClientError('ANCHOR_MISMATCH', `proof is for batch ${r.batchId} of ${r.treeSize} leaves, the anchor for ${anchor.body.batchId} of ${anchor.body.leafCount}`);
  }
  const recordPath = guard('record.path', 'PROOF_MALFORMED', () => r.path.map((p, i) => bytesOf(p, `record.path[${i}]`)));
  guard('record', 'NOT_INCLUDED', () => verifyInclusion(leaf, r.leafIndex, r.treeSize, recordPath, anchor.body.root));
  return {
    kind: 'record', header, blockId, tx,
    batch: { batchId: anchor.body.batchId, root: anchor.body.root, leafCount: anchor.body.leafCount, leafIndex: r.leafIndex, leafHash: leaf },
  };
}
