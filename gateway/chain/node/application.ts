// The node's view of the chain application (gateway/chain/app/): execute a block, admit a transaction.
//
// Kept as a narrow structural interface so that the node, the mempool and their tests depend on what
// they call, not on the application's internals.
import type { BlockContext } from '../app/tx-scope.js';
import type { StateReader, StateWrite } from '../store/block-store.js';

/** The application's own block context (time, height, validator sets, signature cache). */
export type { BlockContext } from '../app/tx-scope.js';

export interface TxVerdict {
  txId: Uint8Array;
  ok: boolean;
  code?: string;
  reason?: string;
  /** ms; set when the tx decoded. */
  expiresAt?: number;
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
