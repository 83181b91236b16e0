// The owner's key-set library against a real in-process validator: epochs, replacing and revoking delegates, who may change the set, transfers.
import t from 'tap';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ChainClient } from '../../../gateway/chain/client/chain-client.js';
import { parseGenesis } from '../../../gateway/chain/app/genesis.js';
import { ValidatorSet } from '../../../gateway/chain/consensus/validator-set.js';
import { ChainKeySetFinality } from '../../../gateway/chain/light/key-set-finality.js';
import { startLocalValidator } from '../../../gateway/chain/node/local-validator.js';
import { fetchNewerKeySet } from '../../../firmware/lock/chain-key-set-source.js';
import { buildTx } from '../../../protocol/chain/transactions.js';
import { encodeDeviceSetupBody } from '../../../protocol/chain/tx-bodies.js';
import { signDeviceSetup, vehicleIdHash, type DeviceSetupStatement } from '../../../protocol/device-statements.js';
import { sha256 } from '../../../protocol/hash.js';
import { masterKeyFromSeed, mnemonicToSeed } from '../../../protocol/hd-keys.js';
import { permissionsOf } from '../../../protocol/lock/commands.js';
import { acceptKeySet } from '../../../protocol/lock/key-set.js';
import { ownerIdentity } from '../../../protocol/owner-keys.js';
import { publicKeyFromPrivate } from '../../../protocol/signature.js';
import { utf8 } from '../../../protocol/wire.js';
import { LockOwner, parsePublicKey } from '../../../tools/wallet/lock-owner.js';

const dir = mkdtempSync(join(tmpdir(), 'carchain-lock-owner-'));
const chain = await startLocalValidator({ dataDir: dir, blockIntervalMs: 50, emptyBlockIntervalMs: 200 });
t.teardown(async () => {
  await chain.stop();
  rmSync(dir, { recursive: true, force: true });
});
const client = new ChainClient([chain.rpc.url]);
const root = (words: string) => masterKeyFromSeed(mnemonicToSeed(words));
// BIP39 test mnemonics (valid checksums).
const SELLER = root('abandon amount liar amount expire adjust cage candy arch gather drum bullet absurd math era live bid rhythm alien crouch range attend journey unaware');
const BUYER = root('legal winner thank year wave sausage worth useful legal winner thank yellow');
const VID = vehicleIdHash('LBVNU79049SB81546');
const LOCK = publicKeyFromPrivate(sha256(utf8('the lock')));
const key = (name: string) => publicKeyFromPrivate(sha256(utf8(name)));
const genesis = parseGenesis(JSON.parse(readFileSync(chain.genesisFile, 'utf8')));
const finality = new ChainKeySetFinality({ chainId: genesis.chainId, validators: new ValidatorSet(genesis.validators.map((v) => ({ publicKey: Uint8Array.from(Buffer.from(v.publicKey, 'hex')), power: v.power }))) });

{
  const owner = ownerIdentity(SELLER);
  const device = sha256(utf8('device'));
  const statement: DeviceSetupStatement = {
    vidHash: VID, devicePublicKey: publicKeyFromPrivate(device), ownerPublicKey: owner.publicKey, rsaFingerprint: sha256(utf8('rsa')), agent: 'test', time: Date.now(), nonce: Uint8Array.from(randomBytes(16)),
  };
  const body = encodeDeviceSetupBody({ statement, ownerSignature: signDeviceSetup(statement, owner.privateKey), deviceSignature: signDeviceSetup(statement, device) });
  await client.submit(buildTx({ type: 'DeviceSetup', chainId: genesis.chainId, signerPriv: owner.privateKey, expiresAt: Date.now() + 60_000, body }).bytes, { waitForCommit: true });
}

const seller = new LockOwner(client, SELLER);
const buyer = new LockOwner(client, BUYER);

t.test('init, add, replace, revoke: each a new epoch, each final with a proof the lock accepts', async (t) => {
  await t.rejects(seller.addDelegate(VID, { publicKey: key('alice'), notBefore: 0, notAfter: 1, permissions: 1 }), { code: 'NO_KEYSET' });
  const one = await seller.init(VID, LOCK);
  t.equal(one.signed.keySet.epoch, 1);
  t.same(one.signed.keySet.delegates, []);
  const accepted = acceptKeySet({ current: null, bytes: one.signed.bytes, proof: utf8(JSON.stringify(one.proof)), vidHash: VID, lockPublicKey: LOCK, finality, now: Date.now() });
  t.equal(accepted.height, one.height, 'the proof verifies from the genesis');

  const now = Date.now();
  const two = await seller.addDelegate(VID, { publicKey: key('alice'), notBefore: now, notAfter: now + 3600_000, permissions: permissionsOf(['unlock']) });
  t.equal(two.signed.keySet.epoch, 2);
  const three = await seller.addDelegate(VID, { publicKey: key('alice'), notBefore: now, notAfter: now + 7200_000, permissions: permissionsOf(['unlock', 'lock']) });
  t.equal(three.signed.keySet.delegates.length, 1, 'the same key again replaces its entry');
  t.equal(three.signed.keySet.delegates[0]!.notAfter, now + 7200_000);
  await t.rejects(seller.revoke(VID, key('nobody')), { code: 'KEY_UNKNOWN' });
  await t.rejects(seller.addDelegate(VID, { publicKey: LOCK, notBefore: now, notAfter: now + 1, permissions: 1 }), { code: 'USAGE' }, 'the lock key is not a delegate');
  const four = await seller.revoke(VID, key('alice'));
  t.same(four.signed.keySet.delegates, []);
  t.same(four.signed.keySet.revoked, [key('alice')]);
  const five = await seller.addDelegate(VID, { publicKey: key('alice'), notBefore: now, notAfter: now + 60_000, permissions: permissionsOf(['lock']) });
  t.same(five.signed.keySet.revoked, [], 'adding a revoked key again un-revokes it');

  const fetched = await fetchNewerKeySet(client, VID, 4);
  t.equal(fetched?.epoch, 5, "what a lock polling the chain finds: the newest set and its transaction's proof");
  t.equal(await fetchNewerKeySet(client, VID, 5), null, 'nothing newer');
  t.same(fetched!.keySet, five.signed.bytes);
});

t.test('only the owner changes the set; a transfer needs the buyer\'s acceptance for this vehicle and address', async (t) => {
  await t.rejects(buyer.addDelegate(VID, { publicKey: key('bob'), notBefore: 0, notAfter: 1, permissions: 1 }), { code: 'NOT_OWNER' });
  await t.rejects(seller.acceptTransfer(VID), { code: 'TRANSFER_INVALID' }, 'the owner cannot buy its own car');
  const acceptance = await buyer.acceptTransfer(VID);
  await t.rejects(seller.transfer(VID, seller.address, acceptance), { code: 'TRANSFER_INVALID' }, 'signed by someone else than --to');
  await t.rejects(seller.transfer(vehicleIdHash('WVWZZZ1JZXW000001'), buyer.address, acceptance), { code: 'TRANSFER_INVALID' }, 'another vehicle');
  const forged = { ...acceptance, acceptanceSignature: acceptance.acceptanceSignature.replace(/^./, (c) => (c === '0' ? '1' : '0')) };
  await t.rejects(seller.transfer(VID, buyer.address, forged), { code: 'TX_REJECTED' }, 'the chain refuses a forged acceptance');

  const six = await seller.transfer(VID, buyer.address, acceptance);
  t.equal(six.signed.keySet.epoch, 6);
  t.same(six.signed.keySet.ownerPublicKey, buyer.ownerPublicKey);
  t.same(six.signed.keySet.delegates, []);
  t.same([...six.signed.keySet.revoked].map((k) => Buffer.from(k).toString('hex')).sort(), [seller.ownerPublicKey, key('alice')].map((k) => Buffer.from(k).toString('hex')).sort(), 'the seller and its delegate revoked');
  await t.rejects(seller.addDelegate(VID, { publicKey: key('bob'), notBefore: 0, notAfter: 1, permissions: 1 }), { code: 'NOT_OWNER' }, 'the seller is out');
  const seven = await buyer.addDelegate(VID, { publicKey: key('bob'), notBefore: Date.now(), notAfter: Date.now() + 60_000, permissions: 1 });
  t.equal(seven.signed.keySet.epoch, 7, 'the buyer runs the set now');
  t.throws(() => parsePublicKey('02zz'), { code: 'USAGE' });
});
