// The self-contained proof file a light client verifies offline: headers with commits, the transaction, and for records the batch path.
//
// JSON, bytes as lowercase hex, so that it can be mailed, stored beside a record or printed. Layout
// and verification steps: docs/chain.md ("Proofs").
export const PROOF_FORMAT = 'carchain-proof/1';

export interface ProofHop {
  /** Encoded block header. */
  header: string;
  /** Encoded commit (> 2/3 precommits) for that header's block id. */
  commit: string;
  /** Encoded validator set that signed it (its hash is the header's validatorsHash). */
  validators: string;
}

export interface ProofFile {
  format: typeof PROOF_FORMAT;
  kind: 'tx' | 'record';
  chainId: string;
  /** Headers where the validator set changed, ascending, then the header holding the transaction. */
  hops: ProofHop[];
  tx: { bytes: string; index: number; path: string[] };
  record?: {
    /** The record's bytes (optional: the leaf hash alone suffices to prove inclusion). */
    recordBytes?: string;
    leafHash?: string;
    recordId?: string;
    batchId: number;
    leafIndex: number;
    treeSize: number;
    path: string[];
  };
}

export interface RecordBatchPath {
  recordBytes?: Uint8Array;
  leafHash: Uint8Array;
  recordId?: Uint8Array;
  batchId: number;
  leafIndex: number;
  treeSize: number;
  path: Uint8Array[];
}

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

/** Extends a transaction proof (of a BatchAnchor) to a record proof. */
export function recordProof(txProof: ProofFile, batch: RecordBatchPath): ProofFile {
  return {
    ...txProof, kind: 'record',
    record: {
      ...(batch.recordBytes !== undefined ? { recordBytes: hex(batch.recordBytes) } : {}),
      leafHash: hex(batch.leafHash),
      ...(batch.recordId !== undefined ? { recordId: hex(batch.recordId) } : {}),
      batchId: batch.batchId, leafIndex: batch.leafIndex, treeSize: batch.treeSize, path: batch.path.map(hex),
    },
  };
}
