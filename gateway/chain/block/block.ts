// Chain blocks: header and body encoding, the block id a commit signs, and the transaction Merkle root.
//
// The consensus value of a height is the encoded block; its id (what votes and commits sign) is the
// hash of the header alone, so a header plus its commit proves a block without its transactions, and
// the header's txRoot then proves each transaction by an RFC 6962 inclusion path. Layouts: docs/chain.md.
import { base58checkEncode } from '../../../protocol/base58check.js';
import { decodeAddress, P2PKH_VERSION } from '../../../protocol/address.js';
import { ProtocolError } from '../../../protocol/errors.js';
import { taggedHash } from '../../../protocol/hash.js';
import { leafHash, merkleRoot, MerkleTree } from '../../../protocol/merkle.js';
import { ByteReader, ByteWriter, concatBytes, expectVersion } from '../../../protocol/wire.js';
import { ConsensusError } from '../consensus/errors.js';
import { type Commit, decodeCommit, encodeCommit, MAX_CHAIN_ID_LENGTH, MAX_VALUE_BYTES } from '../consensus/messages.js';

export const BLOCK_VERSION = 1;
export const HASH_BYTES = 32;
/** A block holds small transactions only; the consensus value limit bounds the whole block. */
export const MAX_BLOCK_TXS = 10_000;
export const MAX_TX_BYTES = 16 * 1024;
const HEADER_TAG = 'carchain/v1/block-header';
const MALFORMED_TAG = 'carchain/v1/malformed-block';
const COMMIT_TAG = 'carchain/v1/commit';
export const ZERO_HASH: Uint8Array = new Uint8Array(HASH_BYTES);

export interface BlockHeader {
  chainId: string;
  height: number;
  /** Proposer's clock, ms since the epoch; strictly increasing along the chain. */
  time: number;
  proposer: string;
  /** Id of the block at height − 1 (zeros at height 1). */
  lastBlockId: Uint8Array;
  /** commitHash of the commit for height − 1 carried in this block (zeros at height 1). */
  lastCommitHash: Uint8Array;
  /** RFC 6962 root over the transactions' bytes, in block order. */
  txRoot: Uint8Array;
  txCount: number;
  /** ValidatorSet.setHash() of the set deciding this height. */
  validatorsHash: Uint8Array;
  /** ... and of the set deciding height + 1, after this block's transactions. */
  nextValidatorsHash: Uint8Array;
  /** Application hash after executing this block's transactions. */
  appHash: Uint8Array;
}

export interface Block {
  header: BlockHeader;
  txs: Uint8Array[];
  /** The > 2/3 precommits that decided height − 1 (null at height 1). */
  lastCommit: Commit | null;
}

function fail(what: string, cause: unknown): never {
  if (cause instanceof ConsensusError) throw cause;
  const message = cause instanceof Error ? cause.message : String(cause);
  throw new ConsensusError('DECODE_FAILED', `${what}: ${message}`, { cause });
}

function addressFromBytes(hash: Uint8Array): string {
  return base58checkEncode(concatBytes(Uint8Array.of(P2PKH_VERSION), hash));
}

export function encodeHeader(h: BlockHeader): Uint8Array {
  if (!Number.isSafeInteger(h.height) || h.height < 1) throw new RangeError(`header height ${h.height}`);
  if (!Number.isSafeInteger(h.time) || h.time < 0) throw new RangeError(`header time ${h.time}`);
  return new ByteWriter()
    .u8(BLOCK_VERSION).string(h.chainId).u64(h.height).u64(h.time).fixed(decodeAddress(h.proposer), 20)
    .fixed(h.lastBlockId, HASH_BYTES).fixed(h.lastCommitHash, HASH_BYTES).fixed(h.txRoot, HASH_BYTES).u32(h.txCount)
    .fixed(h.validatorsHash, HASH_BYTES).fixed(h.nextValidatorsHash, HASH_BYTES).fixed(h.appHash, HASH_BYTES)
    .finish();
}

function readHeader(r: ByteReader): BlockHeader {
  expectVersion(r, BLOCK_VERSION, 'block header');
  const chainId = r.string(MAX_CHAIN_ID_LENGTH, 'chainId');
  const height = r.u64Number('height');
  if (height < 1) throw new ProtocolError('DECODE_INVALID', 'header height 0');
  const time = r.u64Number('time');
  const proposer = addressFromBytes(r.take(20));
  const lastBlockId = r.take(HASH_BYTES).slice();
  const lastCommitHash = r.take(HASH_BYTES).slice();
  const txRoot = r.take(HASH_BYTES).slice();
  const txCount = r.u32();
  const validatorsHash = r.take(HASH_BYTES).slice();
  const nextValidatorsHash = r.take(HASH_BYTES).slice();
  const appHash = r.take(HASH_BYTES).slice();
  return { chainId, height, time, proposer, lastBlockId, lastCommitHash, txRoot, txCount, validatorsHash, nextValidatorsHash, appHash };
}

export function decodeHeader(bytes: Uint8Array): BlockHeader {
  try {
    const r = new ByteReader(bytes, 'block header');
    const h = readHeader(r);
    r.end();
    return h;
  } catch (err) {
    return fail('block header', err);
  }
}

/** What commits sign: taggedHash('carchain/v1/block-header', header bytes). */
export function blockIdOfHeader(header: BlockHeader | Uint8Array): Uint8Array {
  return taggedHash(HEADER_TAG, header instanceof Uint8Array ? header : encodeHeader(header));
}

export function commitHash(commit: Commit | null): Uint8Array {
  return commit === null ? ZERO_HASH.slice() : taggedHash(COMMIT_TAG, encodeCommit(commit));
}

export function txRootOf(txs: readonly Uint8Array[]): Uint8Array {
  return merkleRoot(txs.map((tx) => leafHash(tx)));
}

/** Inclusion path of txs[index] under txRootOf(txs). */
export function txInclusionPath(txs: readonly Uint8Array[], index: number): Uint8Array[] {
  return new MerkleTree(txs.map((tx) => leafHash(tx))).inclusionProof(index);
}

/** version ‖ header (length-prefixed) ‖ count ‖ txs (each length-prefixed) ‖ flag ‖ [commit]. */
export function encodeBlock(b: Block): Uint8Array {
  if (b.txs.length > MAX_BLOCK_TXS) throw new RangeError(`block has ${b.txs.length} txs, limit ${MAX_BLOCK_TXS}`);
  const w = new ByteWriter().u8(BLOCK_VERSION).bytes(encodeHeader(b.header)).varint(b.txs.length);
  for (const tx of b.txs) {
    if (tx.length > MAX_TX_BYTES) throw new RangeError(`tx of ${tx.length} bytes, limit ${MAX_TX_BYTES}`);
    w.bytes(tx);
  }
  if (b.lastCommit === null) w.u8(0);
  else w.u8(1).bytes(encodeCommit(b.lastCommit));
  const out = w.finish();
  if (out.length > MAX_VALUE_BYTES) throw new RangeError(`block is ${out.length} bytes, limit ${MAX_VALUE_BYTES}`);
  return out;
}

export function decodeBlock(bytes: Uint8Array): Block {
  try {
    const r = new ByteReader(bytes, 'block');
    expectVersion(r, BLOCK_VERSION, 'block');
    const header = decodeHeader(r.bytes(1024, 'header'));
    const count = r.count(MAX_BLOCK_TXS, 'txs');
    const txs: Uint8Array[] = [];
    for (let i = 0; i < count; i++) txs.push(r.bytes(MAX_TX_BYTES, 'tx').slice());
    const flag = r.u8();
    if (flag > 1) throw new ProtocolError('DECODE_INVALID', `lastCommit flag ${flag}`);
    const lastCommit = flag === 1 ? decodeCommit(r.bytes(MAX_VALUE_BYTES, 'lastCommit')) : null;
    r.end();
    return { header, txs, lastCommit };
  } catch (err) {
    return fail('block', err);
  }
}

/**
 * The consensus value id of encoded block bytes: the header's id, read without decoding the body.
 * Bytes that are not a block still get a deterministic id (in another tag space) so that the core
 * can track and refuse them like any invalid value.
 */
export function blockIdOfValue(value: Uint8Array): Uint8Array {
  try {
    const r = new ByteReader(value, 'block');
    expectVersion(r, BLOCK_VERSION, 'block');
    return blockIdOfHeader(r.bytes(1024, 'header'));
  } catch {
    return taggedHash(MALFORMED_TAG, value);
  }
}

/** Structural checks that need no state: counts and roots match the body. Throws DECODE_FAILED / INVALID_VALUE. */
export function checkBlockBody(b: Block): void {
  const bad = (why: string): never => {
    throw new ConsensusError('INVALID_VALUE', `block ${b.header.height}: ${why}`);
  };
  if (b.header.txCount !== b.txs.length) bad(`header counts ${b.header.txCount} txs, body has ${b.txs.length}`);
  if (Buffer.compare(txRootOf(b.txs), b.header.txRoot) !== 0) bad('txRoot does not match the transactions');
  if (Buffer.compare(commitHash(b.lastCommit), b.header.lastCommitHash) !== 0) bad('lastCommitHash does not match the carried commit');
  if ((b.header.height === 1) !== (b.lastCommit === null)) bad('only height 1 has no last commit');
}
