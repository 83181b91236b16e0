// The chain's deterministic state machine: executeBlock (apply a block's txs, app hash, next validator set) and checkTx (mempool admission).
//
// Determinism: the result depends only on (state, prevAppHash, ctx.chainId/height/time, the sets
// ctx returns, txs). No clock, randomness or iteration over unordered maps reaches the writes:
// overlays sort by key. Each tx runs on its own overlay that is merged only when it succeeds.
import { decodeTx, expiryProblem, isTxSignatureValid, type DecodedTx, type TxType } from '../../../protocol/chain/transactions.js';
import { decodeTxBody, type TxBody } from '../../../protocol/chain/tx-bodies.js';
import { ProtocolError } from '../../../protocol/errors.js';
import { hash160, sha256 } from '../../../protocol/hash.js';
import { ByteReader } from '../../../protocol/wire.js';
import { computeAppHash } from './app-hash.js';
import { AppError, isRejectionCode, reject, type AppRejectionCode } from './errors.js';
import {
  applyBatchAnchor,
  applyDeviceReset,
  applyDeviceSetup,
  applyFormatRegister,
  applyGrant,
  applyLockKeySet,
  applyVehicleTransfer,
  applyWriteGrant,
} from './registry-handlers.js';
import { applyEvidence, applyStake, applyUnstake, readValidators, totalPower } from './staking-handlers.js';
import { INDEX_VALUE, keys, saveHeight, TABLE, type ValidatorRecord } from './state-layout.js';
import { StateOverlay, type StateReader, type StateWrite } from './state.js';
import type { BlockContext, BlockTally, TxScope } from './tx-scope.js';

export type { BlockContext } from './tx-scope.js';

export interface TxResult {
  /** sha256(signBytes); for bytes that do not decode as a tx, sha256 of the raw bytes. */
  txId: Uint8Array;
  /** null only when the envelope does not decode. */
  type: TxType | null;
  ok: boolean;
  code?: AppRejectionCode;
  reason?: string;
  /** The envelope's expiry (ms) whenever it decoded: the mempool drops the tx after it. */
  expiresAt?: number;
}

export interface BlockExecution {
  results: TxResult[];
  /** Sorted by key, one write per key; value null = delete. */
  writes: StateWrite[];
  appHash: Uint8Array;
  /** The set for height + 1, canonical order (hash160 of the key). */
  nextValidators: { publicKey: Uint8Array; power: number }[];
  validatorsChanged: boolean;
}

function checkContext(ctx: BlockContext): void {
  if (!Number.isSafeInteger(ctx.height) || ctx.height < 1) throw new RangeError(`block height must be ≥ 1, got ${ctx.height}`);
  if (!Number.isSafeInteger(ctx.time) || ctx.time < 0) throw new RangeError(`block time must be a safe integer ≥ 0`);
}

function dispatch(s: TxScope, decoded: TxBody): void {
  switch (decoded.type) {
    case 'FormatRegister':
      return applyFormatRegister(s, decoded.body);
    case 'DeviceSetup':
      return applyDeviceSetup(s, decoded.body);
    case 'DeviceReset':
      return applyDeviceReset(s, decoded.body);
    case 'VehicleTransfer':
      return applyVehicleTransfer(s, decoded.body);
    case 'LockKeySet':
      return applyLockKeySet(s, decoded.body);
    case 'Grant':
      return applyGrant(s, decoded.body);
    case 'WriteGrant':
      return applyWriteGrant(s, decoded.body);
    case 'BatchAnchor':
      return applyBatchAnchor(s, decoded.body);
    case 'Stake':
      return applyStake(s, decoded.body);
    case 'Unstake':
      return applyUnstake(s, decoded.body);
    case 'Evidence':
      return applyEvidence(s, decoded.body);
  }
}

/** Envelope checks in a fixed order: chain, expiry window, replay, signature, body. */
function admit(block: StateOverlay, ctx: BlockContext, tx: DecodedTx): TxBody {
  if (tx.chainId !== ctx.chainId) reject('WRONG_CHAIN', `tx for chain ${JSON.stringify(tx.chainId)}, this is ${JSON.stringify(ctx.chainId)}`);
  const window = expiryProblem(tx.expiresAt, ctx.time);
  if (window !== null) reject(window, `expiresAt ${tx.expiresAt} vs block time ${ctx.time}`);
  if (block.get(keys.txId(tx.txId)) !== undefined) reject('REPLAY', 'this tx was already committed');
  const cacheKey = ctx.verifiedSignatures === undefined ? '' : Buffer.concat([tx.txId, tx.signature]).toString('base64');
  if (ctx.verifiedSignatures?.has(cacheKey) !== true) {
    if (!isTxSignatureValid(tx)) reject('BAD_SIGNATURE', 'tx signature does not verify under the signer key');
    ctx.verifiedSignatures?.add(cacheKey);
  }
  try {
    return decodeTxBody(tx.type, tx.body);
  } catch (err) {
    if (err instanceof ProtocolError) reject('DECODE_FAILED', `${tx.type} body: ${err.message}`);
    throw err;
  }
}

/** The only handlers that read or change the block tally (Stake, Unstake, Evidence). */
const TALLY_TYPES: ReadonlySet<TxType> = new Set<TxType>(['Stake', 'Unstake', 'Evidence']);

function decodeCached(ctx: BlockContext, bytes: Uint8Array): DecodedTx {
  const cached = ctx.decodedTxs?.get(bytes);
  if (cached !== undefined) return cached;
  const tx = decodeTx(bytes);
  ctx.decodedTxs?.set(bytes, tx);
  return tx;
}

/** Runs one tx on a child overlay of `block`; merges its writes only when it succeeds. */
function runTx(block: StateOverlay, ctx: BlockContext, tally: BlockTally, bytes: Uint8Array): TxResult {
  let tx: DecodedTx;
  try {
    tx = decodeCached(ctx, bytes);
  } catch (err) {
    if (err instanceof ProtocolError) return { txId: sha256(bytes), type: null, ok: false, code: 'DECODE_FAILED', reason: err.message };
    throw err;
  }
  const txOverlay = new StateOverlay(block);
  // Other handlers never touch the tally, so only these need it restored when they fail.
  const tallyBefore = TALLY_TYPES.has(tx.type) ? { ...tally } : null;
  try {
    const body = admit(block, ctx, tx);
    dispatch({ state: txOverlay, ctx, tx, signerHash: hash160(tx.signer), tally }, body);
    txOverlay.set(keys.txId(tx.txId), saveHeight(tx.expiresAt));
    txOverlay.set(keys.txExpiry(tx.expiresAt, tx.txId), INDEX_VALUE);
  } catch (err) {
    if (tallyBefore !== null) Object.assign(tally, tallyBefore);
    if (err instanceof AppError && isRejectionCode(err.code)) return { txId: tx.txId, type: tx.type, ok: false, code: err.code, reason: err.message, expiresAt: tx.expiresAt };
    throw err;
  }
  txOverlay.mergeInto(block);
  return { txId: tx.txId, type: tx.type, ok: true, expiresAt: tx.expiresAt };
}

/**
 * Replay ids pruned per block at most. Bounded so a block never scans an unbounded table; ids left
 * over are pruned by later blocks and are harmless meanwhile (their txs are refused as EXPIRED).
 */
export const MAX_PRUNED_TX_IDS_PER_BLOCK = 4096;

/**
 * Ids looked at first when pruning. Most blocks find nothing or a few ids to prune, and the store
 * materialises a scan, so reading MAX_PRUNED_TX_IDS_PER_BLOCK rows every block cost more than
 * executing its transactions; the full bound is read only when this many are all stale.
 */
const PRUNE_PROBE = 64;

/** Deletes replay ids whose expiry is before block time, oldest first: such txs are refused as EXPIRED anyway. */
function pruneExpiredTxIds(block: StateOverlay, time: number): void {
  const collect = (limit: number): { stale: Uint8Array[]; complete: boolean } => {
    const stale: Uint8Array[] = [];
    for (const [key] of block.scan(keys.txExpiryPrefix(), limit)) {
      const r = new ByteReader(key.subarray(1), 'tx expiry key');
      const expiresAt = r.u64Number('expiresAt');
      if (expiresAt >= time) return { stale, complete: true };
      stale.push(key);
    }
    return { stale, complete: stale.length < limit };
  };
  // Same keys as one scan of MAX_PRUNED_TX_IDS_PER_BLOCK: the probe is a prefix of it, used only when it ends the run.
  const probe = collect(PRUNE_PROBE);
  const stale = probe.complete ? probe.stale : collect(MAX_PRUNED_TX_IDS_PER_BLOCK).stale;
  for (const key of stale) {
    block.delete(key);
    block.delete(keys.txId(key.subarray(9)));
  }
}

/** A tally read from the state only when a staking handler asks: reading it scans the validator table, and checkTx runs per transaction. */
function lazyTally(state: StateReader): BlockTally {
  let loaded: BlockTally | undefined;
  const get = (): BlockTally => (loaded ??= tallyOf(readValidators(state)));
  return {
    get startTotalPower() {
      return get().startTotalPower;
    },
    // Written back (unchanged) when runTx restores the tally of a failed staking tx.
    set startTotalPower(v: number) {
      (get() as { startTotalPower: number }).startTotalPower = v;
    },
    get unstakedPower() {
      return get().unstakedPower;
    },
    set unstakedPower(v: number) {
      get().unstakedPower = v;
    },
    get validatorCount() {
      return get().validatorCount;
    },
    set validatorCount(v: number) {
      get().validatorCount = v;
    },
    get totalPower() {
      return get().totalPower;
    },
    set totalPower(v: number) {
      get().totalPower = v;
    },
  };
}

function tallyOf(validators: readonly ValidatorRecord[]): BlockTally {
  const total = totalPower(validators);
  return { startTotalPower: total, unstakedPower: 0, validatorCount: validators.length, totalPower: total };
}

function validatorsWritten(writes: readonly StateWrite[]): boolean {
  return writes.some((w) => w.key[0] === TABLE.validator);
}

/**
 * Applies `txs` in order at ctx.height on top of `state`. Failing txs are reported in `results` and
 * leave no writes; a block is valid only if every result is ok (the proposer filters with checkTx
 * and a trial executeBlock). Throws only for programmer errors or corrupt state (AppError STATE_CORRUPT).
 */
export function executeBlock(state: StateReader, prevAppHash: Uint8Array, ctx: BlockContext, txs: readonly Uint8Array[]): BlockExecution {
  checkContext(ctx);
  const block = new StateOverlay(state);
  const before = readValidators(state);
  pruneExpiredTxIds(block, ctx.time);
  const tally = tallyOf(before);
  const results = txs.map((bytes) => runTx(block, ctx, tally, bytes));
  const writes = block.writes();
  const after = readValidators(block);
  const validatorsChanged =
    validatorsWritten(writes) &&
    (after.length !== before.length ||
      after.some((v, i) => v.power !== before[i]!.power || !Buffer.from(v.publicKey).equals(before[i]!.publicKey)));
  return {
    results,
    writes,
    appHash: computeAppHash(prevAppHash, ctx.height, writes),
    nextValidators: after.map((v) => ({ publicKey: v.publicKey, power: v.power })),
    validatorsChanged,
  };
}

/**
 * Mempool admission: the full check of one tx (signature, expiry, replay, state preconditions)
 * against committed state, with ctx describing the next height (time = now). Writes nothing.
 */
export function checkTx(state: StateReader, ctx: BlockContext, tx: Uint8Array): TxResult {
  checkContext(ctx);
  return runTx(new StateOverlay(state), ctx, lazyTally(state), tx);
}
