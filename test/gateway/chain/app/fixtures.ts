// Test fixtures for the chain application: deterministic keys, a genesis, a tiny in-memory chain driver and per-type tx builders.
import { p2pkhAddress } from '../../../../protocol/address.js';
import { buildTx, type TxType } from '../../../../protocol/chain/transactions.js';
import {
  encodeAmountBody,
  encodeBatchAnchorBody,
  encodeDeviceResetBody,
  encodeDeviceSetupBody,
  encodeEvidenceBody,
  encodeFormatRegisterBody,
  encodeGrantBody,
  encodeLockKeySetBody,
  encodeVehicleTransferBody,
  encodeWriteGrantBody,
  signVehicleTransferAcceptance,
  type GrantBody,
  type WriteGrantBody,
} from '../../../../protocol/chain/tx-bodies.js';
import { signDeviceReset, signDeviceSetup, vehicleIdHash, type DeviceSetupStatement } from '../../../../protocol/device-statements.js';
import type { FormatDefinition } from '../../../../protocol/formats.js';
import { sha256 } from '../../../../protocol/hash.js';
import { signKeySet } from '../../../../protocol/lock/key-set.js';
import { publicKeyFromPrivate } from '../../../../protocol/signature.js';
import { utf8 } from '../../../../protocol/wire.js';
import { encodeVote, signVote, type Vote } from '../../../../gateway/chain/consensus/messages.js';
import { ValidatorSet } from '../../../../gateway/chain/consensus/validator-set.js';
import { genesisExecution, type Genesis } from '../../../../gateway/chain/app/genesis.js';
import { checkTx, executeBlock, type BlockContext, type BlockExecution, type TxResult } from '../../../../gateway/chain/app/state-machine.js';
import { MemoryState } from '../../../../gateway/chain/app/state.js';

export const CHAIN_ID = 'carchain-app-test';
/** 2026-01-01T00:00:00Z */
export const T0 = 1_767_225_600_000;
export const MINUTE = 60_000;

export interface TestKey {
  priv: Uint8Array;
  pub: Uint8Array;
  address: string;
}

const cache = new Map<string, TestKey>();

export function key(name: string | number): TestKey {
  const id = String(name);
  let k = cache.get(id);
  if (k === undefined) {
    const priv = sha256(utf8(`carchain-app-test-key-${id}`));
    const pub = publicKeyFromPrivate(priv);
    k = { priv, pub, address: p2pkhAddress(pub) };
    cache.set(id, k);
  }
  return k;
}

export const VID = 'WVWZZZ1JZXW000001';
export const VID2 = 'WVWZZZ1JZXW000002';
export const vid = (v = VID) => vehicleIdHash(v);

export function makeGenesis(overrides: Partial<Genesis> = {}): Genesis {
  return {
    chainId: CHAIN_ID,
    genesisTime: T0,
    validators: [0, 1, 2, 3].map((i) => ({ publicKey: Buffer.from(key(`val${i}`).pub).toString('hex'), power: 100, name: `val${i}` })),
    accounts: [
      { address: key('owner').address, balance: 0 },
      { address: key('staker').address, balance: 1000 },
      { address: key('val0').address, balance: 500 },
    ],
    anchorers: [key('gateway').address],
    ...overrides,
  };
}

/** A chain driven block by block over a MemoryState, keeping the set history for Evidence. */
export class TestChain {
  readonly state = new MemoryState();
  appHash: Uint8Array;
  height = 0;
  time: number;
  validators: ValidatorSet;
  readonly history = new Map<number, ValidatorSet>();
  last: BlockExecution;

  constructor(readonly genesis: Genesis = makeGenesis()) {
    const g = genesisExecution(genesis);
    this.state.apply(g.writes);
    this.appHash = g.appHash;
    this.time = genesis.genesisTime;
    this.validators = new ValidatorSet(g.nextValidators);
    this.last = g;
  }

  ctx(height = this.height + 1, time = this.time + 1000): BlockContext {
    const current = this.validators;
    return { chainId: this.genesis.chainId, height, time, validators: current, validatorsAt: (h) => (h === height ? current : this.history.get(h)) };
  }

  /** Executes and commits a block (only ok txs write). */
  block(txs: Uint8Array[], time = this.time + 1000): BlockExecution {
    const ctx = this.ctx(this.height + 1, time);
    const exec = executeBlock(this.state, this.appHash, ctx, txs);
    this.state.apply(exec.writes);
    this.history.set(ctx.height, this.validators);
    this.height = ctx.height;
    this.time = time;
    this.appHash = exec.appHash;
    this.validators = new ValidatorSet(exec.nextValidators);
    this.last = exec;
    return exec;
  }

  /** One tx in its own block; returns its result. */
  run(tx: Uint8Array, time?: number): TxResult {
    return this.block([tx], time).results[0]!;
  }

  check(tx: Uint8Array, time = this.time + 1000): TxResult {
    return checkTx(this.state, this.ctx(this.height + 1, time), tx);
  }
}

let nonceCounter = 1n;

export interface TxOptions {
  chainId?: string;
  expiresAt?: number;
  nonce?: bigint;
  /** Block time the default expiry is relative to. */
  now?: number;
}

export function tx(type: TxType, signer: TestKey, body: Uint8Array, o: TxOptions = {}): Uint8Array {
  return buildTx({
    type,
    chainId: o.chainId ?? CHAIN_ID,
    signerPriv: signer.priv,
    nonce: o.nonce ?? nonceCounter++,
    expiresAt: o.expiresAt ?? (o.now ?? T0) + 30 * MINUTE,
    body,
  }).bytes;
}

/** Expiry well inside the window of any block the TestChain produces in a test (blocks are 1 s apart). */
export function expiryFor(chain: TestChain): number {
  return chain.time + 30 * MINUTE;
}

export const testFormat = (name: string, version = 1, keyName = 'K'): FormatDefinition => ({
  name,
  version,
  description: `test format ${name}`,
  key: [{ name: keyName, type: 'uint' }],
  columns: [{ name: 'VID', type: 'string', required: true }],
});

export function formatRegisterTx(chain: TestChain, signer: TestKey, def: FormatDefinition, o: TxOptions = {}): Uint8Array {
  return tx('FormatRegister', signer, encodeFormatRegisterBody(def), { expiresAt: expiryFor(chain), ...o });
}

let statementNonce = 1;

export function deviceSetupTx(chain: TestChain, owner: TestKey, device: TestKey, vidHash: Uint8Array, o: TxOptions & { time?: number; signer?: TestKey; tamper?: boolean } = {}): Uint8Array {
  const statement: DeviceSetupStatement = {
    vidHash,
    devicePublicKey: device.pub,
    ownerPublicKey: owner.pub,
    rsaFingerprint: sha256(utf8(`rsa-${owner.address}`)),
    agent: 'gateway-1',
    time: o.time ?? chain.time,
    nonce: sha256(utf8(`setup-nonce-${statementNonce++}`)).slice(0, 16),
  };
  const ownerSignature = signDeviceSetup(statement, owner.priv);
  const deviceSignature = signDeviceSetup(statement, o.tamper ? owner.priv : device.priv);
  return tx('DeviceSetup', o.signer ?? owner, encodeDeviceSetupBody({ statement, ownerSignature, deviceSignature }), { expiresAt: expiryFor(chain), ...o });
}

export function deviceResetTx(chain: TestChain, owner: TestKey, device: TestKey, o: TxOptions & { time?: number; signer?: TestKey; statementSigner?: TestKey } = {}): Uint8Array {
  const statement = { devicePublicKey: device.pub, ownerPublicKey: owner.pub, time: o.time ?? chain.time, nonce: sha256(utf8(`reset-nonce-${statementNonce++}`)).slice(0, 16) };
  const signature = signDeviceReset(statement, (o.statementSigner ?? owner).priv);
  return tx('DeviceReset', o.signer ?? owner, encodeDeviceResetBody({ statement, signature }), { expiresAt: expiryFor(chain), ...o });
}

export function transferTx(chain: TestChain, current: TestKey, next: TestKey, vidHash: Uint8Array, o: TxOptions & { acceptor?: TestKey; acceptNonce?: bigint } = {}): Uint8Array {
  const nonce = o.nonce ?? nonceCounter++;
  const acceptanceSignature = signVehicleTransferAcceptance(
    { chainId: CHAIN_ID, vidHash, currentOwnerPubKey: current.pub, newOwnerPubKey: next.pub, nonce: o.acceptNonce ?? nonce },
    (o.acceptor ?? next).priv,
  );
  return tx('VehicleTransfer', current, encodeVehicleTransferBody({ vidHash, newOwnerPubKey: next.pub, acceptanceSignature }), { expiresAt: expiryFor(chain), ...o, nonce });
}

/** A real key set (protocol/lock/key-set.ts), signed by `owner` (default: the tx signer). */
export function signedKeySet(owner: TestKey, vidHash: Uint8Array, epoch: number): Uint8Array {
  return signKeySet({ vidHash, epoch, lockPublicKey: key('lock').pub, ownerPublicKey: owner.pub, issuedAt: 1_700_000_000_000, delegates: [], revoked: [] }, owner.priv);
}

export function lockKeySetTx(chain: TestChain, signer: TestKey, vidHash: Uint8Array, epoch: number, o: TxOptions & { keySet?: Uint8Array } = {}): Uint8Array {
  const keySet = o.keySet ?? signedKeySet(signer, vidHash, epoch);
  return tx('LockKeySet', signer, encodeLockKeySetBody({ vidHash, epoch, keySet }), { expiresAt: expiryFor(chain), ...o });
}

export function grantTx(chain: TestChain, signer: TestKey, body: Partial<GrantBody> & { kind?: 'grant' | 'revoke' } = {}, o: TxOptions = {}): Uint8Array {
  const full: GrantBody =
    body.kind === 'revoke'
      ? { kind: 'revoke', revokes: body.revokes! }
      : {
          kind: 'grant',
          grantee: key('grantee').address,
          granteeRsaFingerprint: sha256(utf8('grantee-rsa')),
          fromDay: 20260101,
          toDay: 20260131,
          formats: ['trip-gps'],
          resell: false,
          expiresAt: 0,
          revokes: null,
          ...(body as Partial<Extract<GrantBody, { kind: 'grant' }>>),
        };
  return tx('Grant', signer, encodeGrantBody(full), { expiresAt: expiryFor(chain), ...o });
}

export function writeGrantTx(chain: TestChain, signer: TestKey, body: Partial<Extract<WriteGrantBody, { kind: 'grant' }>> | WriteGrantBody = {}, o: TxOptions = {}): Uint8Array {
  const full: WriteGrantBody =
    body.kind === 'revoke'
      ? body
      : { kind: 'grant', vidHash: vid(), shopPubKey: key('shop').pub, plateKey: sha256(utf8('plate')), formats: ['maintenance'], expiresAt: 0, revokes: null, ...body };
  return tx('WriteGrant', signer, encodeWriteGrantBody(full), { expiresAt: expiryFor(chain), ...o });
}

export function anchorTx(chain: TestChain, signer: TestKey, batchId: number, o: TxOptions = {}): Uint8Array {
  return tx('BatchAnchor', signer, encodeBatchAnchorBody({ batchId, root: sha256(utf8(`root-${batchId}`)), leafCount: 10 }), { expiresAt: expiryFor(chain), ...o });
}

export function stakeTx(chain: TestChain, signer: TestKey, amount: number, o: TxOptions = {}): Uint8Array {
  return tx('Stake', signer, encodeAmountBody({ amount }), { expiresAt: expiryFor(chain), ...o });
}

export function unstakeTx(chain: TestChain, signer: TestKey, amount: number, o: TxOptions = {}): Uint8Array {
  return tx('Unstake', signer, encodeAmountBody({ amount }), { expiresAt: expiryFor(chain), ...o });
}

export function vote(signer: TestKey, height: number, valueSeed: string | null, o: { round?: number; type?: Vote['type']; chainId?: string; signWith?: TestKey } = {}): Vote {
  return signVote(
    {
      chainId: o.chainId ?? CHAIN_ID,
      height,
      round: o.round ?? 0,
      type: o.type ?? 'prevote',
      valueId: valueSeed === null ? null : sha256(utf8(valueSeed)),
      validator: signer.address,
    },
    (o.signWith ?? signer).priv,
  );
}

export function evidenceTx(chain: TestChain, submitter: TestKey, a: Vote, b: Vote, o: TxOptions = {}): Uint8Array {
  return tx('Evidence', submitter, encodeEvidenceBody({ voteA: encodeVote(a), voteB: encodeVote(b) }), { expiresAt: expiryFor(chain), ...o });
}

export const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
