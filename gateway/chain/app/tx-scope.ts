// What a transaction handler sees while it runs: its own overlay, the block context, the decoded tx, block-wide tallies.
import type { DecodedTx } from '../../../protocol/chain/transactions.js';
import type { ValidatorSet } from '../consensus/validator-set.js';
import type { StateOverlay } from './state.js';

export interface BlockContext {
  chainId: string;
  height: number;
  /** Block time, ms since the epoch. */
  time: number;
  /** The set deciding this height. */
  validators: ValidatorSet;
  /** Historical sets (for Evidence); undefined when unknown. */
  validatorsAt(height: number): ValidatorSet | undefined;
  /**
   * Transactions whose envelope signature this node already verified (mempool admission), so a
   * block does not verify them again. A signature's validity depends only on the bytes, so skipping
   * it for identical bytes cannot change a result.
   */
  verifiedSignatures?: VerifiedSignatures;
  /**
   * Transactions this node already decoded, by their exact bytes: a tx is checked at admission and
   * executed in a trial block, a proposal check and the commit, and decoding (key validation, address)
   * costs as much as executing a BatchAnchor. Decoding depends only on the bytes, so reusing it for
   * identical bytes cannot change a result.
   */
  decodedTxs?: DecodedTxs;
}

export interface VerifiedSignatures {
  has(key: string): boolean;
  add(key: string): void;
}

export interface DecodedTxs {
  get(bytes: Uint8Array): DecodedTx | undefined;
  set(bytes: Uint8Array, tx: DecodedTx): void;
}

/**
 * Tallies that span the txs of one block, so handlers need not rescan the validator table. Restored
 * to its previous value when a tx fails; checkTx starts from the committed state.
 */
export interface BlockTally {
  /** Total validator power in the state at the start of the block. */
  readonly startTotalPower: number;
  /** Power removed by Unstake txs so far in this block. */
  unstakedPower: number;
  /** Validators and their total power in the state as of the txs applied so far. */
  validatorCount: number;
  totalPower: number;
}

export interface TxScope {
  state: StateOverlay;
  ctx: BlockContext;
  tx: DecodedTx;
  /** hash160 of the signer's key (the payload of its address). */
  signerHash: Uint8Array;
  tally: BlockTally;
}
