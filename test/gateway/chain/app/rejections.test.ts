// Every rejection code of the chain application reached by a named adversarial test; a refused tx leaves no writes.
import t, { type Test } from 'tap';
import fc from 'fast-check';
import { buildTx, MAX_TX_LIFETIME_MS } from '../../../../protocol/chain/transactions.js';
import { encodeLockKeySetBody } from '../../../../protocol/chain/tx-bodies.js';
import { sha256 } from '../../../../protocol/hash.js';
import { utf8 } from '../../../../protocol/wire.js';
import { APP_REJECTION_CODES, type AppRejectionCode } from '../../../../gateway/chain/app/errors.js';
import { getVehicle, isTxCommitted } from '../../../../gateway/chain/app/queries.js';
import { checkTx, type TxResult } from '../../../../gateway/chain/app/state-machine.js';
import {
  anchorTx,
  CHAIN_ID,
  deviceResetTx,
  deviceSetupTx,
  evidenceTx,
  expiryFor,
  formatRegisterTx,
  grantTx,
  key,
  lockKeySetTx,
  signedKeySet,
  makeGenesis,
  stakeTx,
  TestChain,
  testFormat,
  transferTx,
  tx,
  unstakeTx,
  vid,
  VID2,
  vote,
  writeGrantTx,
} from './fixtures.js';

const seen = new Set<AppRejectionCode>();

function expectRejected(tt: Test, result: TxResult, code: AppRejectionCode): void {
  tt.equal(result.ok, false, `refused (${result.reason ?? 'no reason'})`);
  tt.equal(result.code, code, `code ${code}`);
  tt.type(result.reason, 'string');
  if (result.code === code) seen.add(code);
}

/** Runs `bytes` alone in a block on `chain`: checkTx and executeBlock must agree, and nothing is written. */
function refuses(tt: Test, chain: TestChain, bytes: Uint8Array, code: AppRejectionCode): void {
  expectRejected(tt, chain.check(bytes), code);
  const before = chain.state.dump();
  const exec = chain.block([bytes]);
  expectRejected(tt, exec.results[0]!, code);
  tt.same(exec.writes, [], 'a refused tx writes nothing');
  tt.same(chain.state.dump(), before, 'state unchanged');
}

function ok(tt: Test, result: TxResult, what: string): void {
  tt.ok(result.ok, `${what}: ${result.code ?? ''} ${result.reason ?? ''}`);
}

const owner = key('owner');
const device = key('device');
const stranger = key('stranger');

/** A chain with the test vehicle set up by `owner` with `device`. */
function chainWithVehicle(): TestChain {
  const chain = new TestChain();
  const result = chain.run(deviceSetupTx(chain, owner, device, vid()));
  if (!result.ok) throw new Error(`setup failed: ${result.reason}`);
  return chain;
}

t.test('envelope', (t) => {
  const chain = new TestChain();
  t.test('garbage bytes → DECODE_FAILED with the hash of the bytes as id', (t) => {
    const garbage = utf8('not a transaction');
    const r = chain.check(garbage);
    expectRejected(t, r, 'DECODE_FAILED');
    t.same(r.txId, sha256(garbage));
    t.equal(r.type, null);
    t.end();
  });
  t.test('malformed body → DECODE_FAILED', (t) => {
    refuses(t, chain, tx('LockKeySet', owner, utf8('short'), { expiresAt: expiryFor(chain) }), 'DECODE_FAILED');
    t.end();
  });
  t.test('another chain id → WRONG_CHAIN', (t) => {
    refuses(t, chain, anchorTx(chain, key('gateway'), 1, { chainId: 'other-chain' }), 'WRONG_CHAIN');
    t.end();
  });
  t.test('flipped signature byte → BAD_SIGNATURE', (t) => {
    const bytes = anchorTx(chain, key('gateway'), 2);
    bytes[bytes.length - 40]! ^= 0x01;
    refuses(t, chain, bytes, 'BAD_SIGNATURE');
    t.end();
  });
  t.test('signature by another key over the same sign bytes → BAD_SIGNATURE', (t) => {
    const honest = buildTx({ type: 'BatchAnchor', chainId: CHAIN_ID, signerPriv: key('gateway').priv, nonce: 77n, expiresAt: expiryFor(chain), body: new Uint8Array(44).fill(1) });
    const forged = buildTx({ type: 'BatchAnchor', chainId: CHAIN_ID, signerPriv: stranger.priv, nonce: 77n, expiresAt: expiryFor(chain), body: new Uint8Array(44).fill(1) });
    const bytes = Uint8Array.from(honest.bytes);
    bytes.set(forged.bytes.subarray(forged.bytes.length - 64), bytes.length - 64);
    refuses(t, chain, bytes, 'BAD_SIGNATURE');
    t.end();
  });
  t.test('expiry before block time → EXPIRED', (t) => {
    refuses(t, chain, anchorTx(chain, key('gateway'), 3, { expiresAt: chain.time }), 'EXPIRED');
    t.end();
  });
  t.test('expiry more than 1 h after block time → TOO_FAR_IN_FUTURE', (t) => {
    refuses(t, chain, anchorTx(chain, key('gateway'), 4, { expiresAt: chain.time + 1000 + MAX_TX_LIFETIME_MS + 1 }), 'TOO_FAR_IN_FUTURE');
    t.end();
  });
  t.test('expiry exactly at the window edges is accepted', (t) => {
    ok(t, chain.check(anchorTx(chain, key('gateway'), 5, { expiresAt: chain.time + 1000 })), 'expiresAt = block time');
    ok(t, chain.check(anchorTx(chain, key('gateway'), 6, { expiresAt: chain.time + 1000 + MAX_TX_LIFETIME_MS })), 'expiresAt = block time + 1 h');
    t.end();
  });
  t.test('replay of a committed tx → REPLAY; inside one block too', (t) => {
    const bytes = anchorTx(chain, key('gateway'), 7);
    ok(t, chain.run(bytes), 'first');
    refuses(t, chain, bytes, 'REPLAY');
    const other = anchorTx(chain, key('gateway'), 8);
    const exec = chain.block([other, other]);
    ok(t, exec.results[0]!, 'first copy');
    expectRejected(t, exec.results[1]!, 'REPLAY');
    t.end();
  });
  t.test('after its expiry a committed id is pruned and the tx is EXPIRED, not replayable', (t) => {
    const expiresAt = chain.time + 5000;
    const bytes = anchorTx(chain, key('gateway'), 9, { expiresAt });
    const first = chain.run(bytes);
    ok(t, first, 'committed');
    t.ok(isTxCommitted(chain.state, first.txId));
    chain.block([], expiresAt); // expiresAt = time: kept
    t.ok(isTxCommitted(chain.state, first.txId), 'kept while expiresAt ≥ block time');
    const exec = chain.block([bytes], expiresAt + 1);
    expectRejected(t, exec.results[0]!, 'EXPIRED');
    t.notOk(isTxCommitted(chain.state, first.txId), 'pruned');
    t.ok(exec.writes.length === 2, 'the only writes are the two pruning deletes');
    t.end();
  });
  t.end();
});

t.test('formats', (t) => {
  const chain = new TestChain();
  const maintainer = key('maintainer');
  ok(t, chain.run(formatRegisterTx(chain, maintainer, testFormat('fuel-log'))), 'first registration');
  t.test('built-in format → FORMAT_EXISTS', (t) => {
    refuses(t, chain, formatRegisterTx(chain, maintainer, { ...testFormat('trip-gps', 2) }), 'FORMAT_EXISTS');
    t.end();
  });
  t.test('new version by a non-maintainer → NOT_MAINTAINER', (t) => {
    refuses(t, chain, formatRegisterTx(chain, stranger, testFormat('fuel-log', 2)), 'NOT_MAINTAINER');
    t.end();
  });
  t.test('equal or lower version → VERSION_NOT_INCREASING', (t) => {
    refuses(t, chain, formatRegisterTx(chain, maintainer, testFormat('fuel-log', 1)), 'VERSION_NOT_INCREASING');
    t.end();
  });
  t.test('changed key schema → FORMAT_KEY_CHANGED', (t) => {
    refuses(t, chain, formatRegisterTx(chain, maintainer, testFormat('fuel-log', 2, 'OTHER')), 'FORMAT_KEY_CHANGED');
    t.end();
  });
  t.test('the maintainer raises the version', (t) => {
    ok(t, chain.run(formatRegisterTx(chain, maintainer, testFormat('fuel-log', 2))), 'v2');
    t.end();
  });
  t.end();
});

t.test('device setup and reset', (t) => {
  t.test('signer is not the statement owner → NOT_OWNER', (t) => {
    const chain = new TestChain();
    refuses(t, chain, deviceSetupTx(chain, owner, device, vid(), { signer: stranger }), 'NOT_OWNER');
    t.end();
  });
  t.test('device signature forged by the owner → BAD_SIGNATURE', (t) => {
    const chain = new TestChain();
    refuses(t, chain, deviceSetupTx(chain, owner, device, vid(), { tamper: true }), 'BAD_SIGNATURE');
    t.end();
  });
  t.test('statement 2 h old → STATEMENT_STALE', (t) => {
    const chain = new TestChain();
    refuses(t, chain, deviceSetupTx(chain, owner, device, vid(), { time: chain.time - 2 * MAX_TX_LIFETIME_MS }), 'STATEMENT_STALE');
    t.end();
  });
  t.test('device already linked → ALREADY_CLAIMED', (t) => {
    const chain = chainWithVehicle();
    refuses(t, chain, deviceSetupTx(chain, owner, device, vid(VID2)), 'ALREADY_CLAIMED');
    t.end();
  });
  t.test('vehicle already has a device → ALREADY_CLAIMED', (t) => {
    const chain = chainWithVehicle();
    refuses(t, chain, deviceSetupTx(chain, owner, key('device2'), vid()), 'ALREADY_CLAIMED');
    t.end();
  });
  t.test('vehicle owned by someone else → NOT_OWNER', (t) => {
    const chain = chainWithVehicle();
    refuses(t, chain, deviceSetupTx(chain, stranger, key('device3'), vid()), 'NOT_OWNER');
    t.end();
  });
  t.test('reset by a non-owner (valid own signatures) → NOT_OWNER', (t) => {
    const chain = chainWithVehicle();
    refuses(t, chain, deviceResetTx(chain, stranger, device), 'NOT_OWNER');
    t.ok(getVehicle(chain.state, vid())?.device, 'device still linked');
    t.end();
  });
  t.test('reset statement signed by another key → BAD_SIGNATURE', (t) => {
    const chain = chainWithVehicle();
    refuses(t, chain, deviceResetTx(chain, owner, device, { statementSigner: stranger }), 'BAD_SIGNATURE');
    t.end();
  });
  t.test('reset of a device that is not linked → UNKNOWN_DEVICE', (t) => {
    const chain = chainWithVehicle();
    refuses(t, chain, deviceResetTx(chain, owner, key('never-linked')), 'UNKNOWN_DEVICE');
    t.end();
  });
  t.end();
});

t.test('vehicle transfer', (t) => {
  const buyer = key('buyer');
  t.test('by a non-owner → NOT_OWNER', (t) => {
    const chain = chainWithVehicle();
    refuses(t, chain, transferTx(chain, stranger, buyer, vid()), 'NOT_OWNER');
    t.end();
  });
  t.test('of an unknown vehicle → UNKNOWN_VEHICLE', (t) => {
    const chain = chainWithVehicle();
    refuses(t, chain, transferTx(chain, owner, buyer, vid(VID2)), 'UNKNOWN_VEHICLE');
    t.end();
  });
  t.test('to the current owner → SAME_OWNER', (t) => {
    const chain = chainWithVehicle();
    refuses(t, chain, transferTx(chain, owner, owner, vid()), 'SAME_OWNER');
    t.end();
  });
  t.test('acceptance signed by someone other than the buyer → BAD_SIGNATURE', (t) => {
    const chain = chainWithVehicle();
    refuses(t, chain, transferTx(chain, owner, buyer, vid(), { acceptor: stranger }), 'BAD_SIGNATURE');
    t.end();
  });
  t.test('acceptance made for another transfer (nonce) → BAD_SIGNATURE', (t) => {
    const chain = chainWithVehicle();
    refuses(t, chain, transferTx(chain, owner, buyer, vid(), { nonce: 5000n, acceptNonce: 5001n }), 'BAD_SIGNATURE');
    t.end();
  });
  t.end();
});

t.test('lock key sets', (t) => {
  const chain = chainWithVehicle();
  ok(t, chain.run(lockKeySetTx(chain, owner, vid(), 5)), 'epoch 5');
  t.test('by a non-owner → NOT_OWNER', (t) => {
    refuses(t, chain, lockKeySetTx(chain, stranger, vid(), 6), 'NOT_OWNER');
    t.end();
  });
  t.test('lower epoch → EPOCH_NOT_INCREASING', (t) => {
    refuses(t, chain, lockKeySetTx(chain, owner, vid(), 4), 'EPOCH_NOT_INCREASING');
    t.end();
  });
  t.test('equal epoch → EPOCH_NOT_INCREASING', (t) => {
    refuses(t, chain, lockKeySetTx(chain, owner, vid(), 5), 'EPOCH_NOT_INCREASING');
    t.end();
  });
  t.test('key set bytes that are not a signed key set → KEY_SET_INVALID', (t) => {
    refuses(t, chain, lockKeySetTx(chain, owner, vid(), 7, { keySet: utf8('not a key set') }), 'KEY_SET_INVALID');
    t.end();
  });
  t.test('key set for another epoch than the transaction → KEY_SET_INVALID', (t) => {
    refuses(t, chain, lockKeySetTx(chain, owner, vid(), 7, { keySet: signedKeySet(owner, vid(), 8) }), 'KEY_SET_INVALID');
    t.end();
  });
  t.test('key set signed by someone else than the owner → NOT_OWNER', (t) => {
    refuses(t, chain, lockKeySetTx(chain, owner, vid(), 7, { keySet: signedKeySet(stranger, vid(), 7) }), 'NOT_OWNER');
    t.end();
  });
  t.test('unknown vehicle → UNKNOWN_VEHICLE', (t) => {
    refuses(t, chain, lockKeySetTx(chain, owner, vid(VID2), 1), 'UNKNOWN_VEHICLE');
    t.end();
  });
  t.test('key set over 4096 bytes → DECODE_FAILED', (t) => {
    const body = encodeLockKeySetBody({ vidHash: vid(), epoch: 9, keySet: new Uint8Array(10) });
    const big = new Uint8Array(body.length + 5000);
    big.set(body.subarray(0, 40));
    big.set([0xa0, 0x3e], 40); // varint 8000
    refuses(t, chain, tx('LockKeySet', owner, big.subarray(0, 42 + 8000), { expiresAt: expiryFor(chain) }), 'DECODE_FAILED');
    t.end();
  });
  t.end();
});

t.test('grants and write grants', (t) => {
  const chain = chainWithVehicle();
  const grant = grantTx(chain, owner);
  const granted = chain.run(grant);
  ok(t, granted, 'grant');
  t.test('unknown format → UNKNOWN_FORMAT', (t) => {
    refuses(t, chain, grantTx(chain, owner, { formats: ['trip-gps', 'no-such-format'] }), 'UNKNOWN_FORMAT');
    t.end();
  });
  t.test('already expired grant → GRANT_EXPIRED', (t) => {
    refuses(t, chain, grantTx(chain, owner, { expiresAt: chain.time }), 'GRANT_EXPIRED');
    t.end();
  });
  t.test('revocation of an unknown grant → UNKNOWN_GRANT', (t) => {
    refuses(t, chain, grantTx(chain, owner, { kind: 'revoke', revokes: sha256(utf8('nope')) }), 'UNKNOWN_GRANT');
    t.end();
  });
  t.test("revocation of someone else's grant → NOT_GRANTOR", (t) => {
    refuses(t, chain, grantTx(chain, stranger, { kind: 'revoke', revokes: granted.txId }), 'NOT_GRANTOR');
    t.end();
  });
  t.test('second revocation → ALREADY_REVOKED', (t) => {
    ok(t, chain.run(grantTx(chain, owner, { kind: 'revoke', revokes: granted.txId })), 'first revocation');
    refuses(t, chain, grantTx(chain, owner, { kind: 'revoke', revokes: granted.txId }), 'ALREADY_REVOKED');
    t.end();
  });
  t.test('write grant by a non-owner → NOT_OWNER', (t) => {
    refuses(t, chain, writeGrantTx(chain, stranger), 'NOT_OWNER');
    t.end();
  });
  t.test('write grant for an unknown vehicle → UNKNOWN_VEHICLE', (t) => {
    refuses(t, chain, writeGrantTx(chain, owner, { vidHash: vid(VID2) }), 'UNKNOWN_VEHICLE');
    t.end();
  });
  t.test('write grant with an unknown format → UNKNOWN_FORMAT', (t) => {
    refuses(t, chain, writeGrantTx(chain, owner, { formats: ['bogus'] }), 'UNKNOWN_FORMAT');
    t.end();
  });
  t.test('write grant revocations: UNKNOWN_GRANT, NOT_GRANTOR, ALREADY_REVOKED', (t) => {
    const wg = chain.run(writeGrantTx(chain, owner));
    ok(t, wg, 'write grant');
    refuses(t, chain, writeGrantTx(chain, owner, { kind: 'revoke', revokes: granted.txId }), 'UNKNOWN_GRANT');
    refuses(t, chain, writeGrantTx(chain, stranger, { kind: 'revoke', revokes: wg.txId }), 'NOT_GRANTOR');
    ok(t, chain.run(writeGrantTx(chain, owner, { kind: 'revoke', revokes: wg.txId })), 'revoked');
    refuses(t, chain, writeGrantTx(chain, owner, { kind: 'revoke', revokes: wg.txId }), 'ALREADY_REVOKED');
    t.end();
  });
  t.end();
});

t.test('batch anchors', (t) => {
  const chain = new TestChain();
  t.test('non-anchorer → NOT_ANCHORER', (t) => {
    refuses(t, chain, anchorTx(chain, stranger, 1), 'NOT_ANCHORER');
    t.end();
  });
  t.test('same (signer, batchId) twice → DUPLICATE_BATCH; another signer may reuse the id', (t) => {
    ok(t, chain.run(anchorTx(chain, key('gateway'), 1)), 'genesis anchorer');
    refuses(t, chain, anchorTx(chain, key('gateway'), 1), 'DUPLICATE_BATCH');
    ok(t, chain.run(anchorTx(chain, key('val0'), 1)), 'a validator is an anchorer too');
    t.end();
  });
  t.end();
});

t.test('staking', (t) => {
  t.test('stake over the balance → INSUFFICIENT_BALANCE', (t) => {
    const chain = new TestChain();
    refuses(t, chain, stakeTx(chain, key('staker'), 1001), 'INSUFFICIENT_BALANCE');
    refuses(t, chain, stakeTx(chain, stranger, 1), 'INSUFFICIENT_BALANCE');
    t.end();
  });
  t.test('unstake over the bond → INSUFFICIENT_STAKE', (t) => {
    const chain = new TestChain();
    refuses(t, chain, unstakeTx(chain, key('val0'), 101), 'INSUFFICIENT_STAKE');
    refuses(t, chain, unstakeTx(chain, key('staker'), 1), 'INSUFFICIENT_STAKE');
    t.end();
  });
  t.test('unstake of ≥ 1/3 of the power in one block → WOULD_HALT', (t) => {
    const chain = new TestChain();
    const exec = chain.block([unstakeTx(chain, key('val0'), 100), unstakeTx(chain, key('val1'), 100)]);
    ok(t, exec.results[0]!, 'first quarter leaves');
    expectRejected(t, exec.results[1]!, 'WOULD_HALT');
    t.equal(exec.nextValidators.length, 3);
    t.end();
  });
  t.test('the last validator cannot leave → WOULD_HALT', (t) => {
    const solo = key('solo');
    const chain = new TestChain(makeGenesis({ validators: [{ publicKey: Buffer.from(solo.pub).toString('hex'), power: 3 }] }));
    refuses(t, chain, unstakeTx(chain, solo, 3), 'WOULD_HALT');
    t.end();
  });
  t.test('a 1025th validator → TOO_MANY_VALIDATORS', (t) => {
    const validators = Array.from({ length: 1024 }, (_, i) => ({ publicKey: Buffer.from(key(`many${i}`).pub).toString('hex'), power: 1 }));
    const chain = new TestChain(makeGenesis({ validators }));
    refuses(t, chain, stakeTx(chain, key('staker'), 10), 'TOO_MANY_VALIDATORS');
    ok(t, chain.check(unstakeTx(chain, key('many5'), 1)), 'a member may still leave');
    t.end();
  });
  t.test('total power over 2^50 → POWER_OVERFLOW', (t) => {
    const big = key('big');
    const chain = new TestChain(makeGenesis({ validators: [{ publicKey: Buffer.from(big.pub).toString('hex'), power: 2 ** 50 - 500 }] }));
    refuses(t, chain, stakeTx(chain, key('staker'), 501), 'POWER_OVERFLOW');
    ok(t, chain.check(stakeTx(chain, key('staker'), 500)), 'exactly 2^50 is allowed');
    t.end();
  });
  t.end();
});

t.test('evidence', (t) => {
  const chain = new TestChain();
  chain.block([]);
  chain.block([]);
  const v1 = key('val1');
  const reporter = stranger;
  t.test('same value twice → INVALID_EVIDENCE', (t) => {
    refuses(t, chain, evidenceTx(chain, reporter, vote(v1, 1, 'a'), vote(v1, 1, 'a', { round: 0 })), 'INVALID_EVIDENCE');
    t.end();
  });
  t.test('two validators → INVALID_EVIDENCE', (t) => {
    refuses(t, chain, evidenceTx(chain, reporter, vote(v1, 1, 'a'), vote(key('val2'), 1, 'b')), 'INVALID_EVIDENCE');
    t.end();
  });
  t.test('different rounds or types → INVALID_EVIDENCE', (t) => {
    refuses(t, chain, evidenceTx(chain, reporter, vote(v1, 1, 'a'), vote(v1, 1, 'b', { round: 1 })), 'INVALID_EVIDENCE');
    refuses(t, chain, evidenceTx(chain, reporter, vote(v1, 1, 'a'), vote(v1, 1, 'b', { type: 'precommit' })), 'INVALID_EVIDENCE');
    t.end();
  });
  t.test('vote signed by a key other than the named validator → INVALID_EVIDENCE', (t) => {
    refuses(t, chain, evidenceTx(chain, reporter, vote(v1, 1, 'a'), vote(v1, 1, 'b', { signWith: stranger })), 'INVALID_EVIDENCE');
    t.end();
  });
  t.test('a validator that was not in the set of that height → INVALID_EVIDENCE', (t) => {
    refuses(t, chain, evidenceTx(chain, reporter, vote(stranger, 1, 'a'), vote(stranger, 1, 'b')), 'INVALID_EVIDENCE');
    t.end();
  });
  t.test('a future height → INVALID_EVIDENCE', (t) => {
    refuses(t, chain, evidenceTx(chain, reporter, vote(v1, 99, 'a'), vote(v1, 99, null)), 'INVALID_EVIDENCE');
    t.end();
  });
  t.test('votes of another chain → INVALID_EVIDENCE', (t) => {
    refuses(t, chain, evidenceTx(chain, reporter, vote(v1, 1, 'a', { chainId: 'x' }), vote(v1, 1, 'b', { chainId: 'x' })), 'INVALID_EVIDENCE');
    t.end();
  });
  t.test('undecodable vote → DECODE_FAILED', (t) => {
    const body = new Uint8Array([3, 1, 2, 3, 3, 1, 2, 3]);
    refuses(t, chain, tx('Evidence', reporter, body, { expiresAt: expiryFor(chain) }), 'DECODE_FAILED');
    t.end();
  });
  t.test('more than 1000 heights old → STALE_EVIDENCE; unknown set → STALE_EVIDENCE', (t) => {
    const evidence = evidenceTx(chain, reporter, vote(v1, 1, 'a'), vote(v1, 1, 'b'));
    const late = { ...chain.ctx(), height: 1002 };
    expectRejected(t, checkTx(chain.state, late, evidence), 'STALE_EVIDENCE');
    const forgetful = { ...chain.ctx(), validatorsAt: () => undefined };
    expectRejected(t, checkTx(chain.state, forgetful, evidence), 'STALE_EVIDENCE');
    ok(t, checkTx(chain.state, { ...chain.ctx(), height: 1001 }, evidence), 'exactly 1000 heights old is accepted');
    t.end();
  });
  t.test('second evidence for the same (validator, height) → ALREADY_SLASHED', (t) => {
    ok(t, chain.run(evidenceTx(chain, reporter, vote(v1, 1, 'a'), vote(v1, 1, 'b'))), 'slashed');
    refuses(t, chain, evidenceTx(chain, reporter, vote(v1, 1, 'b'), vote(v1, 1, null, { round: 0 })), 'ALREADY_SLASHED');
    t.end();
  });
  t.test('slashing the only validator → WOULD_HALT', (t) => {
    const solo = key('solo');
    const single = new TestChain(makeGenesis({ validators: [{ publicKey: Buffer.from(solo.pub).toString('hex'), power: 3 }] }));
    single.block([]);
    refuses(t, single, evidenceTx(single, reporter, vote(solo, 1, 'a'), vote(solo, 1, 'b')), 'WOULD_HALT');
    t.end();
  });
  t.end();
});

t.test('fuzz: random and mutated tx bytes only ever produce a refusal, never an exception', (t) => {
  const chain = chainWithVehicle();
  const seeds = [
    anchorTx(chain, key('gateway'), 1),
    grantTx(chain, owner),
    writeGrantTx(chain, owner),
    lockKeySetTx(chain, owner, vid(), 3),
    transferTx(chain, owner, key('buyer'), vid()),
    deviceResetTx(chain, owner, device),
    evidenceTx(chain, stranger, vote(key('val1'), 1, 'a'), vote(key('val1'), 1, 'b')),
    stakeTx(chain, key('staker'), 5),
  ];
  const mutated = fc
    .tuple(fc.constantFrom(...seeds), fc.nat(), fc.nat(255))
    .map(([seed, at, value]) => {
      const out = Uint8Array.from(seed);
      out[at % out.length] = value;
      return out;
    });
  let refused = 0;
  fc.assert(
    fc.property(fc.oneof(mutated, fc.uint8Array({ maxLength: 400 })), (bytes) => {
      const r = chain.check(bytes);
      if (!r.ok) refused++;
      return r.ok || (r.code !== undefined && (APP_REJECTION_CODES as readonly string[]).includes(r.code));
    }),
    { numRuns: 3000, seed: Number(process.env.CARCHAIN_FUZZ_SEED ?? 0x5eed) },
  );
  t.ok(refused > 2500, `${refused} of 3000 refused with a listed code`);
  t.end();
});

t.test('every rejection code is reached by a test above', (t) => {
  const missing = APP_REJECTION_CODES.filter((c) => !seen.has(c));
  t.same(missing, [], 'no code without a test');
  t.end();
});
