// RFC 6962 / RFC 9162 Merkle trees: hashing, roots, inclusion and consistency proofs, their verification and wire form.
//
// Layout of this file: hashing primitives, then the tree builder (proof generation), then the
// RFC 9162 verifiers, then the InclusionProof wire format. docs/protocol/merkle.md is the spec.
//
// Error policy (see the doc, §Errors):
// - Builders and encoders (`merkleRoot`, `MerkleTree`, `nodeHash`, `encodeInclusionProof`) get
//   their inputs from our own code, so a bad input is a programmer error: TypeError for a wrong JS
//   type, RangeError for a hash that is not 32 bytes or an index/size out of range.
// - Verifiers get untrusted proofs, roots and sizes, so every bad value — wrong hash length, index
//   or size out of range or unrepresentable, wrong proof length, mismatching hashes — is a
//   ProtocolError('PROOF_INVALID'). Only a wrong JS type (not a Uint8Array, not a number, not an
//   array) is a TypeError there.
import { ProtocolError } from './errors.js';
import { sha256 } from './hash.js';
import { ByteReader, ByteWriter, equalBytes, expectVersion } from './wire.js';

/** Every hash in the tree is a SHA-256 digest. */
export const HASH_LENGTH = 32;
/** Version byte of the InclusionProof wire format. */
export const INCLUSION_PROOF_VERSION = 1;
/** Upper bound on the path count in the wire format. Trees up to 2^53-1 leaves need at most 53. */
export const MAX_PROOF_PATH = 64;

const LEAF_PREFIX = Uint8Array.of(0x00);
const NODE_PREFIX = Uint8Array.of(0x01);
// Kept private so that a caller mutating the exported constant cannot change what we compute.
const EMPTY_ROOT = sha256(new Uint8Array(0));

/** MTH({}) = SHA-256 of the empty string (RFC 6962 §2.1). A copy: mutating it affects nothing here. */
export const EMPTY_TREE_ROOT: Uint8Array = EMPTY_ROOT.slice();

/** RFC 6962 leaf hash: SHA-256(0x00 ‖ data). `data` may have any length. */
export function leafHash(data: Uint8Array): Uint8Array {
  requireBytes(data, 'leaf data');
  return sha256(LEAF_PREFIX, data);
}

/** RFC 6962 interior node hash: SHA-256(0x01 ‖ left ‖ right). Both children must be 32 bytes (RangeError). */
export function nodeHash(left: Uint8Array, right: Uint8Array): Uint8Array {
  requireHashArg(left, 'left child');
  requireHashArg(right, 'right child');
  return sha256(NODE_PREFIX, left, right);
}

/** MTH over entries that are already leaf hashes (32 bytes each). `[]` gives EMPTY_TREE_ROOT. */
export function merkleRoot(leafHashes: readonly Uint8Array[]): Uint8Array {
  let level = checkedLeafHashes(leafHashes);
  if (level.length === 0) return EMPTY_ROOT.slice();
  while (level.length > 1) level = parentLevel(level);
  return level[0]!.slice();
}

/**
 * An in-memory RFC 6962 tree. All levels are built once (n-1 node hashes), after which every
 * proof is O(log n) look-ups. Level l, index j covers leaves [j·2^l, min((j+1)·2^l, n)); a lone
 * last node is promoted unchanged, which yields exactly the RFC 6962 split at the largest power
 * of two k < n (checked against a recursive reference in the tests).
 */
export class MerkleTree {
  readonly size: number;
  private readonly levels: Uint8Array[][];

  constructor(leafHashes: readonly Uint8Array[]) {
    // Copies, so later mutation of the caller's buffers cannot desynchronise the cached levels.
    let level: Uint8Array[] = checkedLeafHashes(leafHashes).map((h) => h.slice());
    this.size = level.length;
    this.levels = [level];
    while (level.length > 1) {
      level = parentLevel(level);
      this.levels.push(level);
    }
  }

  /** MTH(D[0:size]); EMPTY_TREE_ROOT for an empty tree. A fresh copy on every read. */
  get root(): Uint8Array {
    if (this.size === 0) return EMPTY_ROOT.slice();
    return this.levels[this.levels.length - 1]![0]!.slice();
  }

  /** PATH(index, D[0:size]) of RFC 6962 §2.1.1, leaf-side first. RangeError unless 0 ≤ index < size. */
  inclusionProof(index: number): Uint8Array[] {
    requireCount(index, 'index');
    if (index >= this.size) throw new RangeError(`index ${index} is outside a tree of size ${this.size}`);
    const path: Uint8Array[] = [];
    let position = index;
    for (let l = 0; l < this.levels.length - 1; l++) {
      const level = this.levels[l]!;
      const sibling = position % 2 === 0 ? position + 1 : position - 1;
      // No sibling means this node is the promoted last one: it contributes nothing at this level.
      if (sibling < level.length) path.push(level[sibling]!.slice());
      position = Math.floor(position / 2);
    }
    return path;
  }

  /**
   * PROOF(oldSize, D[0:size]) of RFC 6962 §2.1.2. `[]` when oldSize == size. RangeError unless
   * 1 ≤ oldSize ≤ size: RFC 9162 defines no proof from the empty tree (see verifyConsistency).
   */
  consistencyProof(oldSize: number): Uint8Array[] {
    requireCount(oldSize, 'oldSize');
    if (oldSize < 1 || oldSize > this.size) {
      throw new RangeError(`oldSize ${oldSize} must be in [1, ${this.size}]`);
    }
    // SUBPROOF(m, D[start:end], complete) unrolled: each step appends one sibling, innermost last,
    // so the nodes are collected outermost-first and reversed at the end.
    const outerFirst: Uint8Array[] = [];
    let m = oldSize;
    let start = 0;
    let end = this.size;
    let complete = true; // "b" in the RFC: D[start:end] is still the whole old tree's prefix side
    while (m !== end - start) {
      const k = largestPowerOfTwoBelow(end - start);
      if (m <= k) {
        outerFirst.push(this.subtreeHash(start + k, end));
        end = start + k;
      } else {
        outerFirst.push(this.subtreeHash(start, start + k));
        start += k;
        m -= k;
        complete = false;
      }
    }
    // SUBPROOF(m, D[m], true) = {}; SUBPROOF(m, D[m], false) = {MTH(D[m])}.
    if (!complete) outerFirst.push(this.subtreeHash(start, end));
    return outerFirst.reverse();
  }

  /**
   * MTH(D[start:end]) for a node of this tree. Every such node starts at a multiple of 2^l where
   * 2^l is the smallest power of two ≥ its width, so it sits at level l, index start/2^l.
   */
  private subtreeHash(start: number, end: number): Uint8Array {
    const l = ceilLog2(end - start);
    return this.levels[l]![start / 2 ** l]!.slice();
  }
}

/** PATH(index, D[0:n]) for a list of leaf hashes. Builds the whole tree: use MerkleTree for many proofs. */
export function inclusionProof(leafHashes: readonly Uint8Array[], index: number): Uint8Array[] {
  return new MerkleTree(leafHashes).inclusionProof(index);
}

/** PROOF(oldSize, D[0:n]) for a list of leaf hashes. Builds the whole tree: use MerkleTree for many proofs. */
export function consistencyProof(leafHashes: readonly Uint8Array[], oldSize: number): Uint8Array[] {
  return new MerkleTree(leafHashes).consistencyProof(oldSize);
}

/**
 * Number of hashes in PATH(index, D[0:treeSize]): the `inner` nodes below the point where the
 * paths to `index` and to the last leaf diverge, plus one `border` node for each 1 bit of index
 * above it. RangeError unless 0 ≤ index < treeSize ≤ 2^53-1.
 */
export function inclusionProofLength(index: number, treeSize: number): number {
  requireCount(index, 'index');
  requireCount(treeSize, 'treeSize');
  if (index >= treeSize) throw new RangeError(`index ${index} is outside a tree of size ${treeSize}`);
  // BigInt because JS bitwise operators truncate to 32 bits.
  const i = BigInt(index);
  const inner = bitLength(i ^ BigInt(treeSize - 1));
  return inner + popCount(i >> BigInt(inner));
}

/**
 * Number of hashes in PROOF(oldSize, D[0:newSize]). RangeError unless 1 ≤ oldSize ≤ newSize.
 * It is the inclusion path of leaf oldSize-1 less the levels under the old tree's last complete
 * subtree, plus that subtree's hash itself unless it is the whole old tree (oldSize a power of 2).
 */
export function consistencyProofLength(oldSize: number, newSize: number): number {
  requireCount(oldSize, 'oldSize');
  requireCount(newSize, 'newSize');
  if (oldSize < 1 || oldSize > newSize) throw new RangeError(`need 1 ≤ oldSize ≤ newSize, got ${oldSize}, ${newSize}`);
  if (oldSize === newSize) return 0;
  const shift = trailingZeros(oldSize);
  return inclusionProofLength(oldSize - 1, newSize) - shift + (isPowerOfTwo(oldSize) ? 0 : 1);
}

/**
 * The root that `proof` yields for `leafHash` at `index` in a tree of `treeSize` leaves
 * (RFC 9162 §2.1.3.2 steps 1–4). Throws PROOF_INVALID for any input no tree could produce:
 * index ≥ treeSize (so any index in an empty tree), a wrong proof length, a hash that is not 32 bytes.
 */
export function rootFromInclusionProof(
  leafHash: Uint8Array,
  index: number,
  treeSize: number,
  proof: readonly Uint8Array[],
): Uint8Array {
  requireBytes(leafHash, 'leaf hash');
  const path = requireProofHashes(proof);
  requireUntrustedCount(index, 'leaf index');
  requireUntrustedCount(treeSize, 'tree size');
  if (leafHash.length !== HASH_LENGTH) reject(`leaf hash is ${leafHash.length} bytes, expected ${HASH_LENGTH}`);
  if (index >= treeSize) reject(`leaf index ${index} is not below tree size ${treeSize}`);
  const expected = inclusionProofLength(index, treeSize);
  if (path.length !== expected) {
    reject(`inclusion proof for leaf ${index} of ${treeSize} has ${path.length} hashes, expected ${expected}`);
  }

  let fn = index;
  let sn = treeSize - 1;
  let r = leafHash;
  for (const p of path) {
    if (sn === 0) reject('inclusion proof is longer than the tree is deep'); // unreachable after the length check
    if (isOdd(fn) || fn === sn) {
      r = sha256(NODE_PREFIX, p, r);
      // Skip the levels where this node was promoted without a sibling.
      while (!isOdd(fn) && fn !== 0) {
        fn = half(fn);
        sn = half(sn);
      }
    } else {
      r = sha256(NODE_PREFIX, r, p);
    }
    fn = half(fn);
    sn = half(sn);
  }
  if (sn !== 0) reject('inclusion proof is shorter than the tree is deep'); // unreachable after the length check
  return r;
}

/** RFC 9162 §2.1.3.2: throws PROOF_INVALID unless `proof` shows `leafHash` at `index` in the tree with `root`. */
export function verifyInclusion(
  leafHash: Uint8Array,
  index: number,
  treeSize: number,
  proof: readonly Uint8Array[],
  root: Uint8Array,
): void {
  requireBytes(root, 'root');
  if (root.length !== HASH_LENGTH) reject(`root is ${root.length} bytes, expected ${HASH_LENGTH}`);
  const computed = rootFromInclusionProof(leafHash, index, treeSize, proof);
  if (!equalBytes(computed, root)) reject(`inclusion proof for leaf ${index} of ${treeSize} does not match the root`);
}

/**
 * RFC 9162 §2.1.4.2: throws PROOF_INVALID unless `proof` shows the tree of `oldSize` leaves with
 * `oldRoot` is a prefix of the tree of `newSize` leaves with `newRoot`.
 *
 * oldSize == newSize: the proof must be empty and the roots equal. oldSize == 0 is always rejected:
 * RFC 9162 defines no consistency proof from the empty tree (every tree extends it, so there is
 * nothing to prove); a caller that accepts an empty old tree must handle that case itself.
 */
export function verifyConsistency(
  oldSize: number,
  newSize: number,
  oldRoot: Uint8Array,
  newRoot: Uint8Array,
  proof: readonly Uint8Array[],
): void {
  requireBytes(oldRoot, 'old root');
  requireBytes(newRoot, 'new root');
  const path = requireProofHashes(proof);
  requireUntrustedCount(oldSize, 'old size');
  requireUntrustedCount(newSize, 'new size');
  if (oldRoot.length !== HASH_LENGTH) reject(`old root is ${oldRoot.length} bytes, expected ${HASH_LENGTH}`);
  if (newRoot.length !== HASH_LENGTH) reject(`new root is ${newRoot.length} bytes, expected ${HASH_LENGTH}`);
  if (oldSize > newSize) reject(`old size ${oldSize} exceeds new size ${newSize}`);
  if (oldSize === 0) reject('no consistency proof exists from the empty tree');
  if (oldSize === newSize) {
    if (path.length !== 0) reject(`equal sizes need an empty proof, got ${path.length} hashes`);
    if (!equalBytes(oldRoot, newRoot)) reject(`trees of equal size ${oldSize} have different roots`);
    return;
  }
  const expected = consistencyProofLength(oldSize, newSize);
  if (path.length !== expected) {
    reject(`consistency proof ${oldSize} → ${newSize} has ${path.length} hashes, expected ${expected}`);
  }

  // Step 2: when the old tree is a complete subtree its root is the first node, and is not sent.
  const nodes = isPowerOfTwo(oldSize) ? [oldRoot, ...path] : path;
  let fn = oldSize - 1;
  let sn = newSize - 1;
  while (isOdd(fn)) {
    fn = half(fn);
    sn = half(sn);
  }
  let fr = nodes[0]!;
  let sr = nodes[0]!;
  for (const c of nodes.slice(1)) {
    if (sn === 0) reject('consistency proof is longer than the tree is deep'); // unreachable after the length check
    if (isOdd(fn) || fn === sn) {
      fr = sha256(NODE_PREFIX, c, fr);
      sr = sha256(NODE_PREFIX, c, sr);
      while (!isOdd(fn) && fn !== 0) {
        fn = half(fn);
        sn = half(sn);
      }
    } else {
      sr = sha256(NODE_PREFIX, sr, c);
    }
    fn = half(fn);
    sn = half(sn);
  }
  // Both comparisons always run, so timing does not reveal which root failed.
  const oldMatches = equalBytes(fr, oldRoot);
  const newMatches = equalBytes(sr, newRoot);
  if (sn !== 0 || !oldMatches || !newMatches) {
    reject(`consistency proof ${oldSize} → ${newSize} does not match the roots`);
  }
}

/** An inclusion proof as carried on the wire: PATH(leafIndex, D[0:treeSize]), leaf-side first. */
export interface InclusionProof {
  leafIndex: number;
  treeSize: number;
  path: Uint8Array[];
}

/**
 * version(1) ‖ varint leafIndex ‖ varint treeSize ‖ varint count ‖ count × 32-byte hash.
 * RangeError for a proof decodeInclusionProof would refuse (index ≥ size, wrong path length, bad hash length).
 */
export function encodeInclusionProof(proof: InclusionProof): Uint8Array {
  const { leafIndex, treeSize, path } = proof;
  requireArray(path, 'inclusion proof: path');
  const expected = inclusionProofLength(leafIndex, treeSize);
  if (path.length !== expected) {
    throw new RangeError(`inclusion proof: path has ${path.length} hashes, leaf ${leafIndex} of ${treeSize} needs ${expected}`);
  }
  const writer = new ByteWriter().u8(INCLUSION_PROOF_VERSION).varint(leafIndex).varint(treeSize).varint(path.length);
  for (const [i, hash] of path.entries()) {
    requireHashArg(hash, `path[${i}]`);
    writer.fixed(hash, HASH_LENGTH);
  }
  return writer.finish();
}

/** Inverse of encodeInclusionProof. Every malformed input is a ProtocolError (DECODE_* / UNSUPPORTED_VERSION). */
export function decodeInclusionProof(bytes: Uint8Array): InclusionProof {
  const what = 'inclusion proof';
  const reader = new ByteReader(bytes, what);
  expectVersion(reader, INCLUSION_PROOF_VERSION, what);
  const leafIndex = reader.varint();
  const treeSize = reader.varint();
  if (leafIndex >= treeSize) {
    throw new ProtocolError('DECODE_INVALID', `${what}: leaf index ${leafIndex} is not below tree size ${treeSize}`);
  }
  const count = reader.count(MAX_PROOF_PATH, 'path count');
  const expected = inclusionProofLength(leafIndex, treeSize);
  if (count !== expected) {
    throw new ProtocolError('DECODE_INVALID', `${what}: ${count} hashes, leaf ${leafIndex} of ${treeSize} needs ${expected}`);
  }
  const path: Uint8Array[] = [];
  // slice(): the result must not alias the caller's buffer.
  for (let i = 0; i < count; i++) path.push(reader.take(HASH_LENGTH).slice());
  reader.end();
  return { leafIndex, treeSize, path };
}

// ---- helpers ----

function parentLevel(level: readonly Uint8Array[]): Uint8Array[] {
  const parents: Uint8Array[] = [];
  for (let i = 0; i + 1 < level.length; i += 2) parents.push(sha256(NODE_PREFIX, level[i]!, level[i + 1]!));
  if (level.length % 2 === 1) parents.push(level[level.length - 1]!); // promoted unchanged
  return parents;
}

function checkedLeafHashes(leafHashes: readonly Uint8Array[]): readonly Uint8Array[] {
  requireArray(leafHashes, 'leaf hashes');
  for (const [i, h] of leafHashes.entries()) requireHashArg(h, `leaf hash ${i}`);
  return leafHashes;
}

// Not a type guard on purpose: narrowing `readonly T[]` through Array.isArray yields `any[]`.
function requireArray(value: unknown, what: string): void {
  if (!Array.isArray(value)) throw new TypeError(`${what}: expected an array`);
}

function requireBytes(value: unknown, what: string): asserts value is Uint8Array {
  if (!(value instanceof Uint8Array)) throw new TypeError(`${what}: expected Uint8Array`);
}

function requireHashArg(value: unknown, what: string): asserts value is Uint8Array {
  requireBytes(value, what);
  if (value.length !== HASH_LENGTH) throw new RangeError(`${what}: expected ${HASH_LENGTH} bytes, got ${value.length}`);
}

/** Proof elements come from the wire: a bad length is a failed proof, a non-Uint8Array a bug. */
function requireProofHashes(proof: readonly Uint8Array[]): readonly Uint8Array[] {
  requireArray(proof, 'proof');
  for (const [i, h] of proof.entries()) requireBytes(h, `proof[${i}]`);
  for (const [i, h] of proof.entries()) {
    if (h.length !== HASH_LENGTH) reject(`proof[${i}] is ${h.length} bytes, expected ${HASH_LENGTH}`);
  }
  return proof;
}

function requireCount(value: number, what: string): void {
  if (typeof value !== 'number') throw new TypeError(`${what}: expected a number`);
  if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`${what}: not an integer in [0, 2^53-1]: ${value}`);
}

/** Sizes and indices of untrusted proofs: anything but a non-negative safe integer fails the proof. */
function requireUntrustedCount(value: number, what: string): void {
  if (typeof value !== 'number') throw new TypeError(`${what}: expected a number`);
  if (!Number.isSafeInteger(value) || value < 0) reject(`${what} is not an integer in [0, 2^53-1]: ${value}`);
}

function reject(message: string): never {
  throw new ProtocolError('PROOF_INVALID', message);
}

// Integer helpers on numbers up to 2^53-1, where `>>` and `&` would truncate to 32 bits.
function isOdd(n: number): boolean {
  return n % 2 === 1;
}

function half(n: number): number {
  return Math.floor(n / 2);
}

function isPowerOfTwo(n: number): boolean {
  return n > 0 && 2 ** trailingZeros(n) === n;
}

function trailingZeros(n: number): number {
  let zeros = 0;
  for (let v = n; v > 0 && !isOdd(v); v = half(v)) zeros++;
  return zeros;
}

/** Smallest l with 2^l ≥ n, for n ≥ 1. */
function ceilLog2(n: number): number {
  let l = 0;
  while (2 ** l < n) l++;
  return l;
}

/** Largest power of two strictly below n, for n ≥ 2 (the RFC 6962 split point k). */
function largestPowerOfTwoBelow(n: number): number {
  return 2 ** (ceilLog2(n) - 1);
}

function bitLength(n: bigint): number {
  return n === 0n ? 0 : n.toString(2).length;
}

function popCount(n: bigint): number {
  let count = 0;
  for (const digit of n.toString(2)) if (digit === '1') count++;
  return count;
}
