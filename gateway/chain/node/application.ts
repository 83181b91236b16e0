// The node's view of the chain application (gateway/chain/app/): execute a block, admit a transaction.
//
// Kept as a narrow structural interface so that the node, the mempool and their tests depend on what
// they call, not on the application's internals.
import type { ValidatorSet } from '../consensus/validator-set.js';
import type { StateReader, StateWrite } from '../store/block-store.js';

export interface BlockContext {
  chainId: string;
  height: number;
  /** Block time, ms since the epoch. */
  time: number;
  validators: ValidatorSet;
  validatorsAt(height: number): ValidatorSet | undefined;
  /** Signatures already verified by this node (see SignatureCache). */
  verifiedSignatures?: { has(key: string): boolean; add(key: string): void };
}

export interface TxVerdict {
  txId: Uint8Array;
  ok: boolean;
  code?: string;
  reason?: string;
}

export interface BlockExecution {
  results: TxVerdict[];
  writes: StateWrite[];
  appHash: Uint8Array;
  nextValidators: { publicKey: Uint8Array; power: number }[];
  validatorsChanged: boolean;
}

export interface ChainApplication {
  executeBlock(state: StateReader, prevAppHash: Uint8Array, ctx: BlockContext, txs: readonly Uint8Array[]): BlockExecution;
  checkTx(state: StateReader, ctx: BlockContext, tx: Uint8Array): TxVerdict;
}
