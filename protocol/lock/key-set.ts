// A vehicle's lock key set: canonical bytes, the owner's signature, the finality-proof seam, and who may do what.
//
// Layout (docs/car-lock.md §Key set), all integers big-endian:
//   version u8 = 1 ‖ vidHash[32] ‖ epoch u64 ‖ lockPublicKey[33] ‖ ownerPublicKey[33] ‖ issuedAt u64 (ms)
//   ‖ delegates: count varint ≤ 64, each pubkey[33] ‖ notBefore u64 ‖ notAfter u64 ‖ permissions u32
//   ‖ revoked: count varint ≤ 64, each pubkey[33]
//   ‖ ownerSignature[64] = sign(DOMAIN.lockKeySet, everything before it, owner key)
// Canonical: delegates and revoked keys each strictly ascending by key bytes (so one set has one
// encoding and its hash identifies it); no key appears twice anywhere; at most 4096 bytes, the
// chain's limit for a LockKeySet transaction.
//
// The owner signature only proves the set is intact and the owner meant it; *authority* comes from
// the chain, whose finality proof the lock demands before installing any set (KeySetFinality).
import { ProtocolError } from '../errors.js';
import { sha256 } from '../hash.js';
import { assertPublicKey, DOMAIN, sign, SIGNATURE_LENGTH, verify } from '../signature.js';
import { ByteReader, ByteWriter, compareBytes, equalBytes, expectVersion } from '../wire.js';
import { ALL_PERMISSIONS, permissionBit, type LockCommand } from './commands.js';
import { LockError } from './errors.js';

export const KEY_SET_VERSION = 1;
export const MAX_KEY_SET_BYTES = 4096;
export const MAX_DELEGATES = 64;
export const MAX_REVOKED = 64;

export interface Delegate {
  publicKey: Uint8Array;
  /** ms since the epoch, inclusive. */
  notBefore: number;
  /** ms since the epoch, exclusive. */
  notAfter: number;
  /** Bitmask of permissionBit(command). */
  permissions: number;
}

export interface KeySet {
  vidHash: Uint8Array;
  epoch: number;
  lockPublicKey: Uint8Array;
  ownerPublicKey: Uint8Array;
  issuedAt: number;
  delegates: Delegate[];
  revoked: Uint8Array[];
}

export interface SignedKeySet {
  keySet: KeySet;
  /** The full signed bytes, as stored on the chain. */
  bytes: Uint8Array;
  /** sha256(bytes): what the finality proof commits to. */
  hash: Uint8Array;
}

/**
 * The seam to the chain. The lead implements it with the chain's light client; tests use a real
 * BFT commit over a test validator set. Throws LockError('PROOF_INVALID') for a missing or forged
 * proof; returns the height and block time at which the key set became final.
 */
export interface KeySetFinality {
  verify(
    proof: Uint8Array,
    expect: { vidHash: Uint8Array; epoch: number; keySetHash: Uint8Array },
    now: number,
  ): { height: number; blockTime: number };
}

function invalid(why: string): never {
  throw new LockError('KEYSET_INVALID', `key set: ${why}`);
}

function checkTime(value: number, what: string): void {
  if (!Number.isSafeInteger(value) || value < 0) invalid(`${what} must be a non-negative safe integer`);
}

function checkKey(key: Uint8Array, what: string): void {
  try {
    assertPublicKey(key);
  } catch (cause) {
    throw new LockError('BAD_POINT', `key set: ${what} is not a compressed secp256k1 point`, { cause });
  }
}

/** Rules shared by the encoder and the decoder, so nothing invalid is ever signed or accepted. */
function checkKeySet(ks: KeySet): void {
  if (ks.vidHash.length !== 32) invalid('vidHash must be 32 bytes');
  if (!Number.isSafeInteger(ks.epoch) || ks.epoch < 1) invalid('epoch must be ≥ 1');
  checkTime(ks.issuedAt, 'issuedAt');
  checkKey(ks.lockPublicKey, 'lock key');
  checkKey(ks.ownerPublicKey, 'owner key');
  if (ks.delegates.length > MAX_DELEGATES) invalid(`more than ${MAX_DELEGATES} delegates`);
  if (ks.revoked.length > MAX_REVOKED) invalid(`more than ${MAX_REVOKED} revoked keys`);
  const seen = new Set<string>([hex(ks.lockPublicKey)]);
  const once = (key: Uint8Array, what: string) => {
    const k = hex(key);
    if (seen.has(k)) invalid(`${what} ${k} appears twice`);
    seen.add(k);
  };
  once(ks.ownerPublicKey, 'owner key');
  for (let i = 0; i < ks.delegates.length; i++) {
    const d = ks.delegates[i]!;
    checkKey(d.publicKey, `delegate ${i}`);
    checkTime(d.notBefore, 'notBefore');
    checkTime(d.notAfter, 'notAfter');
    if (d.notAfter <= d.notBefore) invalid(`delegate ${i}: empty window`);
    if (!Number.isInteger(d.permissions) || d.permissions <= 0 || (d.permissions & ~ALL_PERMISSIONS) !== 0) {
      invalid(`delegate ${i}: permissions 0x${d.permissions.toString(16)} are empty or unknown`);
    }
    if (i > 0 && compareBytes(ks.delegates[i - 1]!.publicKey, d.publicKey) >= 0) invalid('delegates not in ascending key order');
    once(d.publicKey, 'delegate key');
  }
  for (let i = 0; i < ks.revoked.length; i++) {
    checkKey(ks.revoked[i]!, `revoked ${i}`);
    if (i > 0 && compareBytes(ks.revoked[i - 1]!, ks.revoked[i]!) >= 0) invalid('revoked keys not in ascending order');
    once(ks.revoked[i]!, 'revoked key');
  }
}

function hex(b: Uint8Array): string {
  return Buffer.from(b).toString('hex');
}

/** Sorts delegates and revoked keys into canonical order (a convenience for builders). */
export function canonicalKeySet(ks: KeySet): KeySet {
  return {
    ...ks,
    delegates: [...ks.delegates].sort((a, b) => compareBytes(a.publicKey, b.publicKey)),
    revoked: [...ks.revoked].sort(compareBytes),
  };
}

export function encodeKeySetBody(ks: KeySet): Uint8Array {
  checkKeySet(ks);
  const w = new ByteWriter()
    .u8(KEY_SET_VERSION)
    .fixed(ks.vidHash, 32)
    .u64(ks.epoch)
    .fixed(ks.lockPublicKey, 33)
    .fixed(ks.ownerPublicKey, 33)
    .u64(ks.issuedAt)
    .varint(ks.delegates.length);
  for (const d of ks.delegates) w.fixed(d.publicKey, 33).u64(d.notBefore).u64(d.notAfter).u32(d.permissions);
  w.varint(ks.revoked.length);
  for (const r of ks.revoked) w.fixed(r, 33);
  return w.finish();
}

/** Encodes and signs with the owner's private key (which must match ks.ownerPublicKey). */
export function signKeySet(ks: KeySet, ownerPrivateKey: Uint8Array): Uint8Array {
  const body = encodeKeySetBody(ks);
  const signature = sign(DOMAIN.lockKeySet, body, ownerPrivateKey);
  const bytes = new ByteWriter().raw(body).fixed(signature, SIGNATURE_LENGTH).finish();
  if (bytes.length > MAX_KEY_SET_BYTES) invalid(`${bytes.length} bytes, limit ${MAX_KEY_SET_BYTES}`);
  decodeKeySet(bytes); // refuses a private key that is not the owner's
  return bytes;
}

/** Decodes, checks every rule and verifies the owner signature. BAD_FRAME / KEYSET_INVALID / BAD_POINT / BAD_SIGNATURE. */
export function decodeKeySet(bytes: Uint8Array): SignedKeySet {
  if (!(bytes instanceof Uint8Array)) throw new TypeError('key set: expected Uint8Array');
  if (bytes.length > MAX_KEY_SET_BYTES) throw new LockError('BAD_FRAME', `key set of ${bytes.length} bytes, limit ${MAX_KEY_SET_BYTES}`);
  let ks: KeySet;
  let bodyLength: number;
  let signature: Uint8Array;
  try {
    const r = new ByteReader(bytes, 'key set');
    expectVersion(r, KEY_SET_VERSION, 'key set');
    const vidHash = r.take(32).slice();
    const epoch = r.u64Number('epoch');
    const lockPublicKey = r.take(33).slice();
    const ownerPublicKey = r.take(33).slice();
    const issuedAt = r.u64Number('issuedAt');
    const delegates: Delegate[] = [];
    for (let i = 0, n = r.count(MAX_DELEGATES, 'delegates'); i < n; i++) {
      delegates.push({
        publicKey: r.take(33).slice(),
        notBefore: r.u64Number('notBefore'),
        notAfter: r.u64Number('notAfter'),
        permissions: r.u32(),
      });
    }
    const revoked: Uint8Array[] = [];
    for (let i = 0, n = r.count(MAX_REVOKED, 'revoked'); i < n; i++) revoked.push(r.take(33).slice());
    bodyLength = r.position;
    signature = r.take(SIGNATURE_LENGTH).slice();
    r.end();
    ks = { vidHash, epoch, lockPublicKey, ownerPublicKey, issuedAt, delegates, revoked };
  } catch (err) {
    if (err instanceof ProtocolError) throw new LockError('BAD_FRAME', err.message, { cause: err });
    throw err;
  }
  checkKeySet(ks);
  try {
    verify(DOMAIN.lockKeySet, bytes.subarray(0, bodyLength), signature, ks.ownerPublicKey);
  } catch (err) {
    if (err instanceof ProtocolError) throw new LockError('BAD_SIGNATURE', `key set: owner signature: ${err.message}`, { cause: err });
    throw err;
  }
  const own = bytes.slice();
  return { keySet: ks, bytes: own, hash: sha256(own) };
}

export type KeySetUpdateOutcome = 'installed' | 'rotated' | 'refreshed';

export interface AcceptedKeySet {
  signed: SignedKeySet;
  outcome: KeySetUpdateOutcome;
  height: number;
  blockTime: number;
}

/**
 * Decides whether a lock takes a key set: right vehicle and lock key, valid owner signature, a
 * finality proof that verifies, and an epoch above the current one — or exactly the current set
 * again (which refreshes the proof's age). Pure: the caller persists and applies the result.
 */
export function acceptKeySet(args: {
  current: SignedKeySet | null;
  bytes: Uint8Array;
  proof: Uint8Array;
  vidHash: Uint8Array;
  lockPublicKey: Uint8Array;
  finality: KeySetFinality;
  now: number;
}): AcceptedKeySet {
  const signed = decodeKeySet(args.bytes);
  const ks = signed.keySet;
  if (!equalBytes(ks.vidHash, args.vidHash)) throw new LockError('WRONG_VEHICLE', 'key set is for another vehicle');
  if (!equalBytes(ks.lockPublicKey, args.lockPublicKey)) throw new LockError('WRONG_LOCK_KEY', 'key set names another lock key');
  let outcome: KeySetUpdateOutcome = 'installed';
  if (args.current !== null) {
    const held = args.current.keySet.epoch;
    if (ks.epoch < held) throw new LockError('EPOCH_NOT_INCREASING', `key set epoch ${ks.epoch} is below the held epoch ${held}`);
    if (ks.epoch === held && !equalBytes(signed.hash, args.current.hash)) {
      throw new LockError('KEYSET_CONFLICT', `a different key set at the held epoch ${held}`);
    }
    outcome = ks.epoch === held ? 'refreshed' : 'rotated';
  }
  if (args.proof.length === 0) throw new LockError('PROOF_INVALID', 'no finality proof');
  let final: { height: number; blockTime: number };
  try {
    final = args.finality.verify(args.proof, { vidHash: ks.vidHash, epoch: ks.epoch, keySetHash: signed.hash }, args.now);
  } catch (cause) {
    if (cause instanceof LockError) throw cause;
    throw new LockError('PROOF_INVALID', `finality proof: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
  }
  return { signed, outcome, height: final.height, blockTime: final.blockTime };
}

export type Principal =
  | { role: 'owner'; publicKey: Uint8Array }
  | { role: 'delegate'; publicKey: Uint8Array; permissions: number; notBefore: number; notAfter: number };

export interface TrustContext {
  /** max(local clock, trusted floor). */
  trustedNow: number;
  /** True when the local clock is below the floor (someone rolled it back): delegates refused. */
  clockBelowFloor: boolean;
  /** Block time of the cached finality proof of the current set. */
  proofBlockTime: number;
  /** Delegates are refused once trustedNow − proofBlockTime exceeds this. */
  stalenessMs: number;
}

/**
 * Who holds this key under the current set, at this time. The owner is always accepted (offline,
 * stale proof or rolled clock notwithstanding): the car must never lock its owner out.
 */
export function resolvePrincipal(ks: KeySet, publicKey: Uint8Array, ctx: TrustContext): Principal {
  if (equalBytes(publicKey, ks.ownerPublicKey)) return { role: 'owner', publicKey: ks.ownerPublicKey };
  if (ks.revoked.some((r) => equalBytes(r, publicKey))) throw new LockError('KEY_REVOKED', 'key is revoked');
  const d = ks.delegates.find((x) => equalBytes(x.publicKey, publicKey));
  if (d === undefined) throw new LockError('UNKNOWN_KEY', 'key is not in the key set');
  if (ctx.clockBelowFloor) throw new LockError('CLOCK_BELOW_FLOOR', 'local clock is below the trusted time floor');
  if (ctx.trustedNow - ctx.proofBlockTime > ctx.stalenessMs) {
    throw new LockError('STALE_PROOF', `finality proof is ${ctx.trustedNow - ctx.proofBlockTime} ms old, bound ${ctx.stalenessMs}`);
  }
  if (ctx.trustedNow < d.notBefore) throw new LockError('DELEGATION_NOT_YET_VALID', 'delegation window has not started');
  if (ctx.trustedNow >= d.notAfter) throw new LockError('DELEGATION_EXPIRED', 'delegation window has ended');
  return { role: 'delegate', publicKey: d.publicKey, permissions: d.permissions, notBefore: d.notBefore, notAfter: d.notAfter };
}

/** PERMISSION_DENIED unless the principal may run the command. */
export function checkPermission(principal: Principal, command: LockCommand): void {
  if (principal.role === 'owner') return;
  const bit = permissionBit(command);
  if (bit === 0 || (principal.permissions & bit) === 0) {
    throw new LockError('PERMISSION_DENIED', `delegate may not ${command}`);
  }
}
