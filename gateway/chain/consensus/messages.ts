// Proposal, vote and commit messages of the Tendermint core: deterministic bytes, signing, verification.
//
// Byte layouts are in docs/consensus.md. Every multi-byte integer is big-endian (protocol/wire.ts).
// The signed bytes of a vote and of a proposal begin with the same version byte and then a kind
// byte (0x01 prevote, 0x02 precommit, 0x20 proposal), so a proposal signature can never be
// presented as a vote or vice versa, on top of the DOMAIN.chainVote tag.
import { base58checkEncode } from '../../../protocol/base58check.js';
import { decodeAddress, P2PKH_VERSION } from '../../../protocol/address.js';
import { ProtocolError } from '../../../protocol/errors.js';
import { sha256 } from '../../../protocol/hash.js';
import { DOMAIN, isValidSignature, sign, SIGNATURE_LENGTH } from '../../../protocol/signature.js';
import { ByteReader, ByteWriter, concatBytes, expectVersion } from '../../../protocol/wire.js';
import { ConsensusError } from './errors.js';

export const CONSENSUS_MESSAGE_VERSION = 1;
export const MAX_CHAIN_ID_LENGTH = 64;
/** A block is small transactions only (docs/CHAIN.md); 1 MiB leaves ample room. */
export const MAX_VALUE_BYTES = 1 << 20;
/** Rounds are u32 on the wire; this bound keeps arithmetic on them exact. */
export const MAX_ROUND = 0x7fffffff;
export const MAX_COMMIT_VOTES = 1024;
export const VALUE_ID_LENGTH = 32;

export type VoteType = 'prevote' | 'precommit';
export type SignedKind = VoteType | 'proposal';

const KIND_BYTE: Record<SignedKind, number> = { prevote: 0x01, precommit: 0x02, proposal: 0x20 };
const NO_VALID_ROUND = 0xffffffff;

export interface Proposal {
  chainId: string;
  height: number;
  round: number;
  /** The round in which `value` got > 2/3 prevotes, or -1. Always < round. */
  validRound: number;
  value: Uint8Array;
  /** P2PKH address of the proposer's key. */
  proposer: string;
  signature: Uint8Array;
}

export interface Vote {
  chainId: string;
  height: number;
  round: number;
  type: VoteType;
  /** sha256 of the value voted for; null is a vote for nil. */
  valueId: Uint8Array | null;
  validator: string;
  signature: Uint8Array;
}

/** The > 2/3 precommits (by power) that made a value final at `height`. */
export interface Commit {
  height: number;
  round: number;
  valueId: Uint8Array;
  precommits: Vote[];
}

/** How a value's id is computed; the chain uses the block header hash so a header alone proves a commit. */
export type ValueIdFn = (value: Uint8Array) => Uint8Array;

/** The default value id: sha256 of the whole value. */
export function valueIdOf(value: Uint8Array): Uint8Array {
  return sha256(value);
}

/** Stable map key of a value id (nil included). */
export function valueKey(valueId: Uint8Array | null): string {
  return valueId === null ? 'nil' : Buffer.from(valueId).toString('hex');
}

function fail(what: string, cause: unknown): never {
  const message = cause instanceof Error ? cause.message : String(cause);
  throw new ConsensusError('DECODE_FAILED', `${what}: ${message}`, { cause });
}

function checkHeader(chainId: string, height: number, round: number): void {
  if (chainId.length === 0 || Buffer.byteLength(chainId) > MAX_CHAIN_ID_LENGTH) throw new RangeError('chainId: 1..64 bytes');
  if (!Number.isSafeInteger(height) || height < 1) throw new RangeError(`height must be ≥ 1, got ${height}`);
  if (!Number.isInteger(round) || round < 0 || round > MAX_ROUND) throw new RangeError(`round out of range: ${round}`);
}

function writeHeader(w: ByteWriter, kind: SignedKind, chainId: string, height: number, round: number): void {
  checkHeader(chainId, height, round);
  w.u8(CONSENSUS_MESSAGE_VERSION).u8(KIND_BYTE[kind]).string(chainId).u64(height).u32(round);
}

function writeOptionalId(w: ByteWriter, valueId: Uint8Array | null): void {
  if (valueId === null) w.u8(0);
  else w.u8(1).fixed(valueId, VALUE_ID_LENGTH);
}

function readOptionalId(r: ByteReader): Uint8Array | null {
  const flag = r.u8();
  if (flag === 0) return null;
  if (flag !== 1) throw new ProtocolError('DECODE_INVALID', `value id flag ${flag}`);
  return r.take(VALUE_ID_LENGTH).slice();
}

function addressBytes(address: string): Uint8Array {
  return decodeAddress(address);
}

function addressFromBytes(hash: Uint8Array): string {
  return base58checkEncode(concatBytes(Uint8Array.of(P2PKH_VERSION), hash));
}

/** The bytes a vote's signature covers: version, kind, chain id, height, round, value id. */
export function voteSignBytes(v: Pick<Vote, 'chainId' | 'height' | 'round' | 'type' | 'valueId'>): Uint8Array {
  const w = new ByteWriter();
  writeHeader(w, v.type, v.chainId, v.height, v.round);
  writeOptionalId(w, v.valueId);
  return w.finish();
}

/** The bytes a proposal's signature covers: version, 0x20, chain id, height, round, valid round, value id. */
export function proposalSignBytes(p: Pick<Proposal, 'chainId' | 'height' | 'round' | 'validRound' | 'value'>, idOf: ValueIdFn = valueIdOf): Uint8Array {
  const w = new ByteWriter();
  writeHeader(w, 'proposal', p.chainId, p.height, p.round);
  if (!Number.isInteger(p.validRound) || p.validRound < -1 || p.validRound >= p.round) {
    throw new RangeError(`validRound must be -1 or in [0, round), got ${p.validRound}`);
  }
  w.u32(p.validRound === -1 ? NO_VALID_ROUND : p.validRound);
  w.fixed(idOf(p.value), VALUE_ID_LENGTH);
  return w.finish();
}

export function signVote(unsigned: Omit<Vote, 'signature'>, privateKey: Uint8Array): Vote {
  return { ...unsigned, signature: sign(DOMAIN.chainVote, voteSignBytes(unsigned), privateKey) };
}

export function signProposal(unsigned: Omit<Proposal, 'signature'>, privateKey: Uint8Array, idOf: ValueIdFn = valueIdOf): Proposal {
  return { ...unsigned, signature: sign(DOMAIN.chainVote, proposalSignBytes(unsigned, idOf), privateKey) };
}

export function isVoteSignatureValid(vote: Vote, publicKey: Uint8Array): boolean {
  return isValidSignature(DOMAIN.chainVote, voteSignBytes(vote), vote.signature, publicKey);
}

export function isProposalSignatureValid(proposal: Proposal, publicKey: Uint8Array, idOf: ValueIdFn = valueIdOf): boolean {
  return isValidSignature(DOMAIN.chainVote, proposalSignBytes(proposal, idOf), proposal.signature, publicKey);
}

export function encodeVote(vote: Vote): Uint8Array {
  return new ByteWriter()
    .raw(voteSignBytes(vote))
    .fixed(addressBytes(vote.validator), 20)
    .fixed(vote.signature, SIGNATURE_LENGTH)
    .finish();
}

function readHeader(r: ByteReader, what: string): { kind: SignedKind; chainId: string; height: number; round: number } {
  expectVersion(r, CONSENSUS_MESSAGE_VERSION, what);
  const kindByte = r.u8();
  const kind = (Object.keys(KIND_BYTE) as SignedKind[]).find((k) => KIND_BYTE[k] === kindByte);
  if (kind === undefined) throw new ProtocolError('DECODE_INVALID', `${what}: kind byte 0x${kindByte.toString(16)}`);
  const chainId = r.string(MAX_CHAIN_ID_LENGTH, 'chainId');
  const height = r.u64Number('height');
  const round = r.u32();
  checkHeader(chainId, height, round);
  return { kind, chainId, height, round };
}

function readVote(r: ByteReader): Vote {
  const h = readHeader(r, 'vote');
  if (h.kind === 'proposal') throw new ProtocolError('DECODE_INVALID', 'vote: kind is proposal');
  const valueId = readOptionalId(r);
  const validator = addressFromBytes(r.take(20));
  const signature = r.take(SIGNATURE_LENGTH).slice();
  return { chainId: h.chainId, height: h.height, round: h.round, type: h.kind, valueId, validator, signature };
}

export function decodeVote(bytes: Uint8Array): Vote {
  try {
    const r = new ByteReader(bytes, 'vote');
    const vote = readVote(r);
    r.end();
    return vote;
  } catch (err) {
    return fail('vote', err);
  }
}

export function encodeProposal(p: Proposal): Uint8Array {
  if (p.value.length > MAX_VALUE_BYTES) throw new RangeError(`value is ${p.value.length} bytes, limit ${MAX_VALUE_BYTES}`);
  const w = new ByteWriter();
  writeHeader(w, 'proposal', p.chainId, p.height, p.round);
  w.u32(p.validRound === -1 ? NO_VALID_ROUND : p.validRound);
  return w.bytes(p.value).fixed(addressBytes(p.proposer), 20).fixed(p.signature, SIGNATURE_LENGTH).finish();
}

export function decodeProposal(bytes: Uint8Array): Proposal {
  try {
    const r = new ByteReader(bytes, 'proposal');
    const h = readHeader(r, 'proposal');
    if (h.kind !== 'proposal') throw new ProtocolError('DECODE_INVALID', 'proposal: kind is a vote');
    const raw = r.u32();
    const validRound = raw === NO_VALID_ROUND ? -1 : raw;
    if (validRound >= h.round) throw new ProtocolError('DECODE_INVALID', `proposal: validRound ${validRound} ≥ round ${h.round}`);
    const value = r.bytes(MAX_VALUE_BYTES, 'value').slice();
    const proposer = addressFromBytes(r.take(20));
    const signature = r.take(SIGNATURE_LENGTH).slice();
    r.end();
    return { chainId: h.chainId, height: h.height, round: h.round, validRound, value, proposer, signature };
  } catch (err) {
    return fail('proposal', err);
  }
}

/** Layout: version ‖ height u64 ‖ round u32 ‖ valueId[32] ‖ count varint ‖ (len varint ‖ vote)*. */
export function encodeCommit(c: Commit): Uint8Array {
  if (c.precommits.length > MAX_COMMIT_VOTES) throw new RangeError('commit: too many precommits');
  const w = new ByteWriter().u8(CONSENSUS_MESSAGE_VERSION).u64(c.height).u32(c.round).fixed(c.valueId, VALUE_ID_LENGTH);
  w.varint(c.precommits.length);
  for (const v of c.precommits) w.bytes(encodeVote(v));
  return w.finish();
}

export function decodeCommit(bytes: Uint8Array): Commit {
  try {
    const r = new ByteReader(bytes, 'commit');
    expectVersion(r, CONSENSUS_MESSAGE_VERSION, 'commit');
    const height = r.u64Number('height');
    const round = r.u32();
    const valueId = r.take(VALUE_ID_LENGTH).slice();
    const count = r.count(MAX_COMMIT_VOTES, 'precommits');
    const precommits: Vote[] = [];
    for (let i = 0; i < count; i++) precommits.push(decodeVote(r.bytes(4096, 'vote')));
    r.end();
    return { height, round, valueId, precommits };
  } catch (err) {
    if (err instanceof ConsensusError) throw err;
    return fail('commit', err);
  }
}

