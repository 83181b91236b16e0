// The owner's side of a car's lock key set: build the next owner-signed set (epoch + 1), publish it as a LockKeySet, hand the car over.
//
// Every change reads the current set from the chain, changes it, signs it at epoch + 1 with the
// owner identity key (m/17219'/0'… — the key the chain knows as the vehicle's owner) and waits for
// the LockKeySet transaction to commit; the result carries the proof a lock demands. A transfer
// needs both owners, because the chain accepts a key set only from the vehicle's current owner and
// only for the key that signed it: the *new* owner pre-signs an acceptance and the epoch + 1 set
// naming itself (`acceptTransfer`), and the old owner submits both (`transfer`).
import { randomBytes } from 'node:crypto';
import type { ChainClient } from '../../gateway/chain/client/chain-client.js';
import type { ProofFile } from '../../gateway/chain/light/proof-file.js';
import { p2pkhAddress } from '../../protocol/address.js';
import { decodeLockKeySetBody, encodeLockKeySetBody, encodeVehicleTransferBody, signVehicleTransferAcceptance } from '../../protocol/chain/tx-bodies.js';
import { buildTx, decodeTx, MAX_TX_LIFETIME_MS, randomNonce } from '../../protocol/chain/transactions.js';
import { CarchainError } from '../../protocol/errors.js';
import type { HDKey } from '../../protocol/hd-keys.js';
import { LockError } from '../../protocol/lock/errors.js';
import { canonicalKeySet, decodeKeySet, MAX_REVOKED, signKeySet, type Delegate, type KeySet, type SignedKeySet } from '../../protocol/lock/key-set.js';
import { ownerIdentity } from '../../protocol/owner-keys.js';
import { assertPublicKey } from '../../protocol/signature.js';
import { equalBytes } from '../../protocol/wire.js';
import { currentChainKeySet } from '../../firmware/lock/chain-key-set-source.js';
import { keySetFileJson, type KeySetFile } from '../../firmware/lock/key-set-file.js';

export type LockOwnerErrorCode = 'NO_KEYSET' | 'NOT_OWNER' | 'KEY_UNKNOWN' | 'TRANSFER_INVALID' | 'USAGE';
export class LockOwnerError extends CarchainError<LockOwnerErrorCode> {}

export const TRANSFER_ACCEPTANCE_FORMAT = 'carchain-lock-transfer/1';

/** What the new owner hands the old one: an acceptance of the transfer and the pre-signed epoch + 1 LockKeySet. */
export interface TransferAcceptance {
  format: typeof TRANSFER_ACCEPTANCE_FORMAT;
  vidHash: string;
  newOwnerPublicKey: string;
  /** The VehicleTransfer tx nonce the acceptance signature is bound to (decimal). */
  nonce: string;
  acceptanceSignature: string;
  /** The LockKeySet tx, signed by the new owner; valid until its expiry (≤ 1 h). */
  lockKeySetTx: string;
  expiresAt: number;
}

export interface PublishedKeySet {
  signed: SignedKeySet;
  txId: string;
  height: number;
  proof: ProofFile;
  /** The carchain-lock-keyset/1 file a lock installs (`lock serve` keySet.file, or a push). */
  file: KeySetFile;
}

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const unhex = (s: string) => Uint8Array.from(Buffer.from(s, 'hex'));

export function parsePublicKey(text: string, what = 'key'): Uint8Array {
  if (!/^(02|03)[0-9a-f]{64}$/i.test(text)) throw new LockOwnerError('USAGE', `${what} must be a compressed secp256k1 public key (66 hex digits)`);
  const key = unhex(text.toLowerCase());
  try {
    assertPublicKey(key);
  } catch (cause) {
    throw new LockOwnerError('USAGE', `${what} is not a point on secp256k1`, { cause });
  }
  return key;
}

export class LockOwner {
  readonly ownerPublicKey: Uint8Array;
  private readonly ownerPrivateKey: Uint8Array;

  constructor(
    private readonly client: ChainClient,
    root: HDKey,
    private readonly clock: () => number = Date.now,
  ) {
    const id = ownerIdentity(root);
    this.ownerPublicKey = id.publicKey;
    this.ownerPrivateKey = id.privateKey;
  }

  get address(): string {
    return p2pkhAddress(this.ownerPublicKey);
  }

  /** The vehicle's current key set on the chain (decoded and signature-checked), or null. */
  async current(vidHash: Uint8Array): Promise<{ signed: SignedKeySet; height: number; staleAfterTransfer: boolean } | null> {
    const info = await currentChainKeySet(this.client, vidHash);
    if (info === null) return null;
    return { signed: decodeKeySet(info.keySet), height: info.height, staleAfterTransfer: info.staleAfterTransfer };
  }

  private async mine(vidHash: Uint8Array): Promise<SignedKeySet> {
    const cur = await this.current(vidHash);
    if (cur === null) throw new LockOwnerError('NO_KEYSET', 'the vehicle has no key set on the chain yet (`wallet keys init --lock-key PUBKEY` first)');
    if (!equalBytes(cur.signed.keySet.ownerPublicKey, this.ownerPublicKey)) {
      throw new LockOwnerError('NOT_OWNER', `the current key set (epoch ${cur.signed.keySet.epoch}) belongs to ${p2pkhAddress(cur.signed.keySet.ownerPublicKey)}, not ${this.address}`);
    }
    return cur.signed;
  }

  /** Signs `next` at the given epoch, submits the LockKeySet and waits for its commit and proof. */
  private async publish(ks: KeySet): Promise<PublishedKeySet> {
    const bytes = signKeySet(canonicalKeySet(ks), this.ownerPrivateKey);
    const { chainId } = await this.client.status();
    const tx = buildTx({ type: 'LockKeySet', chainId, signerPriv: this.ownerPrivateKey, expiresAt: this.clock() + 10 * 60_000, body: encodeLockKeySetBody({ vidHash: ks.vidHash, epoch: ks.epoch, keySet: bytes }) });
    return this.committed(tx.bytes, bytes);
  }

  private async committed(txBytes: Uint8Array, keySet: Uint8Array): Promise<PublishedKeySet> {
    const at = await this.client.submit(txBytes, { waitForCommit: true });
    const proof = await this.client.txProof(at.txId);
    return { signed: decodeKeySet(keySet), txId: at.txId, height: at.height ?? 0, proof, file: keySetFileJson(keySet, proof) };
  }

  /** The first key set (or a new one after a lock replacement): owner only, naming the lock's key. */
  async init(vidHash: Uint8Array, lockPublicKey: Uint8Array): Promise<PublishedKeySet> {
    const cur = await this.current(vidHash);
    if (cur !== null && !cur.staleAfterTransfer && !equalBytes(cur.signed.keySet.ownerPublicKey, this.ownerPublicKey)) {
      throw new LockOwnerError('NOT_OWNER', `the current key set belongs to ${p2pkhAddress(cur.signed.keySet.ownerPublicKey)}`);
    }
    return this.publish({
      vidHash, epoch: (cur?.signed.keySet.epoch ?? 0) + 1, lockPublicKey, ownerPublicKey: this.ownerPublicKey, issuedAt: this.clock(),
      delegates: [], revoked: cur === null ? [] : cur.signed.keySet.revoked.filter((k) => !equalBytes(k, this.ownerPublicKey)),
    });
  }

  /** Adds a delegate, or replaces the window and permissions of one already there (a revoked key is un-revoked). */
  async addDelegate(vidHash: Uint8Array, d: Delegate): Promise<PublishedKeySet> {
    const ks = (await this.mine(vidHash)).keySet;
    if (equalBytes(d.publicKey, ks.ownerPublicKey) || equalBytes(d.publicKey, ks.lockPublicKey)) throw new LockOwnerError('USAGE', 'the owner or lock key cannot be a delegate');
    return this.publish({
      ...ks, epoch: ks.epoch + 1, issuedAt: this.clock(),
      delegates: [...ks.delegates.filter((x) => !equalBytes(x.publicKey, d.publicKey)), d],
      revoked: ks.revoked.filter((k) => !equalBytes(k, d.publicKey)),
    });
  }

  /** Takes a delegate out and lists its key as revoked (a clear KEY_REVOKED at the lock). */
  async revoke(vidHash: Uint8Array, publicKey: Uint8Array): Promise<PublishedKeySet> {
    const ks = (await this.mine(vidHash)).keySet;
    if (!ks.delegates.some((x) => equalBytes(x.publicKey, publicKey))) {
      throw new LockOwnerError('KEY_UNKNOWN', `${hex(publicKey)} is not a delegate of epoch ${ks.epoch}`);
    }
    // The list is bounded; the oldest revocations go first — those keys are then merely unknown.
    const revoked = [...ks.revoked, publicKey].slice(-MAX_REVOKED);
    return this.publish({ ...ks, epoch: ks.epoch + 1, issuedAt: this.clock(), delegates: ks.delegates.filter((x) => !equalBytes(x.publicKey, publicKey)), revoked });
  }

  /**
   * The new owner's half of a transfer: signs the acceptance of exactly one VehicleTransfer (bound
   * by its nonce) and the epoch + 1 key set naming itself, with the previous owner and every
   * delegate revoked. Valid for the tx lifetime (≤ 1 h).
   */
  async acceptTransfer(vidHash: Uint8Array): Promise<TransferAcceptance> {
    const vehicle = await this.client.query<{ ownerPublicKey: string }>(`vehicle/${hex(vidHash)}`);
    const currentOwner = unhex(vehicle.ownerPublicKey);
    if (equalBytes(currentOwner, this.ownerPublicKey)) throw new LockOwnerError('TRANSFER_INVALID', 'this wallet already owns the vehicle');
    const cur = await this.current(vidHash);
    if (cur === null) throw new LockOwnerError('NO_KEYSET', 'the vehicle has no key set: nothing names the lock key to hand over');
    const old = cur.signed.keySet;
    const { chainId } = await this.client.status();
    const nonce = randomNonce();
    const acceptanceSignature = signVehicleTransferAcceptance({ chainId, vidHash, currentOwnerPubKey: currentOwner, newOwnerPubKey: this.ownerPublicKey, nonce }, this.ownerPrivateKey);
    const revoked = [old.ownerPublicKey, ...old.delegates.map((d) => d.publicKey), ...old.revoked]
      .filter((k, i, all) => !equalBytes(k, this.ownerPublicKey) && all.findIndex((x) => equalBytes(x, k)) === i)
      .slice(0, MAX_REVOKED);
    const keySet = signKeySet(canonicalKeySet({
      vidHash, epoch: old.epoch + 1, lockPublicKey: old.lockPublicKey, ownerPublicKey: this.ownerPublicKey, issuedAt: this.clock(), delegates: [], revoked,
    }), this.ownerPrivateKey);
    const expiresAt = this.clock() + MAX_TX_LIFETIME_MS - 60_000;
    const tx = buildTx({ type: 'LockKeySet', chainId, signerPriv: this.ownerPrivateKey, expiresAt, nonce: BigInt(`0x${hex(randomBytes(7))}`), body: encodeLockKeySetBody({ vidHash, epoch: old.epoch + 1, keySet }) });
    return {
      format: TRANSFER_ACCEPTANCE_FORMAT, vidHash: hex(vidHash), newOwnerPublicKey: hex(this.ownerPublicKey), nonce: nonce.toString(),
      acceptanceSignature: hex(acceptanceSignature), lockKeySetTx: hex(tx.bytes), expiresAt,
    };
  }

  /**
   * The current owner's half: checks the acceptance is for this vehicle and the address given,
   * submits the VehicleTransfer, then the new owner's pre-signed epoch + 1 LockKeySet.
   */
  async transfer(vidHash: Uint8Array, toAddress: string, a: TransferAcceptance): Promise<PublishedKeySet> {
    if (a.format !== TRANSFER_ACCEPTANCE_FORMAT || a.vidHash !== hex(vidHash)) throw new LockOwnerError('TRANSFER_INVALID', 'the acceptance is not a transfer acceptance for this vehicle');
    const newOwner = parsePublicKey(a.newOwnerPublicKey, 'newOwnerPublicKey');
    if (p2pkhAddress(newOwner) !== toAddress) throw new LockOwnerError('TRANSFER_INVALID', `the acceptance is signed by ${p2pkhAddress(newOwner)}, not ${toAddress}`);
    await this.mine(vidHash);
    const lockTx = decodeTx(unhex(a.lockKeySetTx));
    if (lockTx.type !== 'LockKeySet' || !equalBytes(lockTx.signer, newOwner)) throw new LockOwnerError('TRANSFER_INVALID', 'the pre-signed transaction is not a LockKeySet by the new owner');
    const body = decodeLockKeySetBody(lockTx.body);
    if (!equalBytes(body.vidHash, vidHash)) throw new LockOwnerError('TRANSFER_INVALID', 'the pre-signed key set is for another vehicle');
    const signed = decodeKeySet(body.keySet);
    if (!equalBytes(signed.keySet.ownerPublicKey, newOwner)) throw new LockError('KEYSET_INVALID', 'the pre-signed key set does not name the new owner');
    const { chainId } = await this.client.status();
    const transfer = buildTx({
      type: 'VehicleTransfer', chainId, signerPriv: this.ownerPrivateKey, expiresAt: this.clock() + 10 * 60_000, nonce: BigInt(a.nonce),
      body: encodeVehicleTransferBody({ vidHash, newOwnerPubKey: newOwner, acceptanceSignature: unhex(a.acceptanceSignature) }),
    });
    await this.client.submit(transfer.bytes, { waitForCommit: true });
    return this.committed(unhex(a.lockKeySetTx), signed.bytes);
  }
}
