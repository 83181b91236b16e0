// Where a lock (or a wallet) finds a vehicle's current key set on the chain and the proof that it is final.
//
// The chain's state says which epoch is current and at which height it was committed; the proof is
// the transaction proof of that LockKeySet, found by looking through the block at that height.
import { ChainClientError, type ChainClient } from '../../gateway/chain/client/chain-client.js';
import type { ProofFile } from '../../gateway/chain/light/proof-file.js';
import { decodeLockKeySetBody } from '../../protocol/chain/tx-bodies.js';
import { decodeTx } from '../../protocol/chain/transactions.js';
import { LockError } from '../../protocol/lock/errors.js';
import { equalBytes, utf8 } from '../../protocol/wire.js';
import type { FinalKeySet } from './key-set-file.js';

interface LockKeySetJson {
  epoch: number;
  keySet: string;
  height: number;
  staleAfterTransfer: boolean;
}

export interface ChainKeySetInfo {
  epoch: number;
  keySet: Uint8Array;
  height: number;
  /** Published before the vehicle last changed owner: it names the previous owner; do not use it. */
  staleAfterTransfer: boolean;
}

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

/** The vehicle's current LockKeySet in the chain state, or null when it has none. */
export async function currentChainKeySet(client: ChainClient, vidHash: Uint8Array): Promise<ChainKeySetInfo | null> {
  let j: LockKeySetJson;
  try {
    j = await client.query<LockKeySetJson>(`lock-key-set/${hex(vidHash)}`);
  } catch (err) {
    if (err instanceof ChainClientError && err.code === 'NOT_FOUND') return null;
    throw err;
  }
  return { epoch: j.epoch, keySet: Uint8Array.from(Buffer.from(j.keySet, 'hex')), height: j.height, staleAfterTransfer: j.staleAfterTransfer };
}

/** The proof file of the LockKeySet transaction for (vidHash, epoch) committed at `height`. */
export async function lockKeySetProof(client: ChainClient, vidHash: Uint8Array, epoch: number, height: number): Promise<ProofFile> {
  const block = await client.block(height);
  for (const txHex of block.txs) {
    const tx = decodeTx(Uint8Array.from(Buffer.from(txHex, 'hex')));
    if (tx.type !== 'LockKeySet') continue;
    const body = decodeLockKeySetBody(tx.body);
    if (equalBytes(body.vidHash, vidHash) && body.epoch === epoch) return client.txProof(hex(tx.txId));
  }
  throw new LockError('PROOF_INVALID', `block ${height} holds no LockKeySet for epoch ${epoch} of this vehicle`);
}

/** The chain's current key set with its proof, when it is newer than `heldEpoch` and not stale after a transfer. */
export async function fetchNewerKeySet(client: ChainClient, vidHash: Uint8Array, heldEpoch: number): Promise<FinalKeySet | null> {
  const info = await currentChainKeySet(client, vidHash);
  if (info === null || info.epoch <= heldEpoch || info.staleAfterTransfer) return null;
  const proof = await lockKeySetProof(client, vidHash, info.epoch, info.height);
  return { keySet: info.keySet, proof: utf8(JSON.stringify(proof)), epoch: info.epoch };
}
