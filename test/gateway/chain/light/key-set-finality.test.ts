// A lock key set made final on a real (in-process) validator and accepted by the lock's rules through the light client; forgeries refused.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { buildTx } from '../../../../protocol/chain/transactions.js';
import { encodeDeviceSetupBody, encodeLockKeySetBody } from '../../../../protocol/chain/tx-bodies.js';
import { signDeviceSetup, vehicleIdHash, type DeviceSetupStatement } from '../../../../protocol/device-statements.js';
import { sha256 } from '../../../../protocol/hash.js';
import { acceptKeySet, signKeySet } from '../../../../protocol/lock/key-set.js';
import { publicKeyFromPrivate } from '../../../../protocol/signature.js';
import { utf8 } from '../../../../protocol/wire.js';
import { ChainClient } from '../../../../gateway/chain/client/chain-client.js';
import { ValidatorSet } from '../../../../gateway/chain/consensus/validator-set.js';
import { ChainKeySetFinality } from '../../../../gateway/chain/light/key-set-finality.js';
import { startLocalValidator } from '../../../../gateway/chain/node/local-validator.js';

t.test('LockKeySet committed on the chain → the lock accepts the set offline from the genesis; forged proofs are refused', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'carchain-keyset-'));
  const chain = await startLocalValidator({ dataDir: dir, blockIntervalMs: 50, emptyBlockIntervalMs: 50 });
  t.teardown(async () => {
    await chain.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  const client = new ChainClient([chain.rpc.url]);
  const chainId = chain.genesis.chainId;
  const owner = sha256(utf8('owner'));
  const device = sha256(utf8('device'));
  const lock = sha256(utf8('lock'));
  const vidHash = vehicleIdHash('LBVNU79049SB81546');
  const soon = Date.now() + 60_000;
  const statement: DeviceSetupStatement = {
    vidHash, devicePublicKey: publicKeyFromPrivate(device), ownerPublicKey: publicKeyFromPrivate(owner), rsaFingerprint: sha256(utf8('rsa')),
    agent: 'test', time: Date.now(), nonce: Uint8Array.from(randomBytes(16)),
  };
  const setup = { statement, ownerSignature: signDeviceSetup(statement, owner), deviceSignature: signDeviceSetup(statement, device) };
  await client.submit(buildTx({ type: 'DeviceSetup', chainId, signerPriv: owner, expiresAt: soon, body: encodeDeviceSetupBody(setup) }).bytes, { waitForCommit: true });
  const keySet = signKeySet({ vidHash, epoch: 1, lockPublicKey: publicKeyFromPrivate(lock), ownerPublicKey: publicKeyFromPrivate(owner), issuedAt: Date.now(), delegates: [], revoked: [] }, owner);
  const published = buildTx({ type: 'LockKeySet', chainId, signerPriv: owner, expiresAt: soon, body: encodeLockKeySetBody({ vidHash, epoch: 1, keySet }) });
  const at = await client.submit(published.bytes, { waitForCommit: true });
  const proof = utf8(JSON.stringify(await client.txProof(at.txId)));

  const validators = new ValidatorSet(chain.genesis.validators.map((v) => ({ publicKey: Uint8Array.from(Buffer.from(v.publicKey, 'hex')), power: v.power })));
  const finality = new ChainKeySetFinality({ chainId, validators });
  const accepted = acceptKeySet({ current: null, bytes: keySet, proof, vidHash, lockPublicKey: publicKeyFromPrivate(lock), finality, now: Date.now() });
  t.equal(accepted.outcome, 'installed');
  t.equal(accepted.height, at.height, 'final at the height the chain committed it');

  const refuse = (what: string, p: Uint8Array, bytes = keySet): void => {
    t.throws(() => acceptKeySet({ current: null, bytes, proof: p, vidHash, lockPublicKey: publicKeyFromPrivate(lock), finality, now: Date.now() }), { code: 'PROOF_INVALID' }, what);
  };
  refuse('no proof', new Uint8Array());
  refuse('garbage', utf8('{"format":"x"}'));
  const tampered = JSON.parse(Buffer.from(proof).toString('utf8')) as { hops: { commit: string }[] };
  const last = tampered.hops[tampered.hops.length - 1]!;
  last.commit = last.commit.slice(0, 100) + (last.commit[100] === '0' ? '1' : '0') + last.commit.slice(101);
  refuse('a forged commit', utf8(JSON.stringify(tampered)));
  const otherGenesis = new ChainKeySetFinality({ chainId, validators: new ValidatorSet([{ publicKey: publicKeyFromPrivate(sha256(utf8('someone'))), power: 1 }]) });
  t.throws(() => otherGenesis.verify(proof, { vidHash, epoch: 1, keySetHash: sha256(keySet) }, Date.now()), { code: 'PROOF_INVALID' }, 'a chain the lock does not trust');
  const epoch2 = signKeySet({ vidHash, epoch: 2, lockPublicKey: publicKeyFromPrivate(lock), ownerPublicKey: publicKeyFromPrivate(owner), issuedAt: Date.now(), delegates: [], revoked: [] }, owner);
  refuse('a proof of epoch 1 presented for an unpublished epoch 2', proof, epoch2);
});
