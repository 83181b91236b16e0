// Builds transaction proofs from a node's block store: the validator-set-change headers up to the block, the block header, the tx path.
import { encodeHeader, txInclusionPath } from '../block/block.js';
import { encodeCommit } from '../consensus/messages.js';
import { encodeValidatorSet } from '../consensus/validator-set.js';
import type { BlockStore } from '../store/block-store.js';
import { type ProofFile, type ProofHop, PROOF_FORMAT } from './proof-file.js';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

function hopAt(store: BlockStore, height: number): ProofHop {
  const header = store.header(height);
  const commit = store.commit(height);
  const set = store.validatorsAt(height);
  if (header === undefined || commit === undefined || set === undefined) throw new Error(`store lacks height ${height}`);
  return { header: hex(encodeHeader(header)), commit: hex(encodeCommit(commit)), validators: hex(encodeValidatorSet(set)) };
}

/** The proof of a committed transaction, or undefined when the store does not hold it. */
export function buildTxProof(store: BlockStore, chainId: string, txId: Uint8Array): ProofFile | undefined {
  const at = store.locateTx(txId);
  if (at === undefined) return undefined;
  const block = store.block(at.height);
  if (block === undefined) return undefined;
  const hops = store.validatorSetChanges(at.height).map((h) => hopAt(store, h));
  hops.push(hopAt(store, at.height));
  return {
    format: PROOF_FORMAT, kind: 'tx', chainId, hops,
    tx: { bytes: hex(block.txs[at.index]!), index: at.index, path: txInclusionPath(block.txs, at.index).map(hex) },
  };
}
