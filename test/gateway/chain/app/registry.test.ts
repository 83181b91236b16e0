// The registry's life cycle through the queries: formats, device setup/reset, transfer, lock key sets, grants, write grants, anchors.
import t, { type Test } from 'tap';
import { sha256 } from '../../../../protocol/hash.js';
import { utf8 } from '../../../../protocol/wire.js';
import {
  getBatchAnchor,
  getDevice,
  getFormat,
  getGrant,
  getLockKeySet,
  getVehicle,
  getWriteGrant,
  grantsByGrantee,
  grantsByGrantor,
  isGrantActive,
  isWriteGrantActive,
  listFormats,
  vehiclesByOwner,
  writeGrantsByShop,
  writeGrantsByVehicle,
} from '../../../../gateway/chain/app/queries.js';
import type { TxResult } from '../../../../gateway/chain/app/state-machine.js';
import { anchorTx, deviceResetTx, deviceSetupTx, formatRegisterTx, grantTx, hex, key, lockKeySetTx, signedKeySet, TestChain, testFormat, transferTx, vid, writeGrantTx } from './fixtures.js';

const owner = key('owner');
const buyer = key('buyer');
const device = key('device');

function ok(tt: Test, r: TxResult, what: string): TxResult {
  tt.ok(r.ok, `${what} ${r.code ?? ''} ${r.reason ?? ''}`);
  return r;
}

t.test('vehicle life cycle', (t) => {
  const chain = new TestChain();
  ok(t, chain.run(deviceSetupTx(chain, owner, device, vid())), 'setup');
  const setupHeight = chain.height;
  const v = getVehicle(chain.state, vid())!;
  t.equal(v.ownerAddress, owner.address);
  t.equal(v.ownerSince, setupHeight);
  t.same(v.device?.devicePublicKey, device.pub);
  t.same(v.device?.rsaFingerprint, sha256(utf8(`rsa-${owner.address}`)));
  t.same(getDevice(chain.state, device.pub)?.vidHash, vid());
  t.same(vehiclesByOwner(chain.state, owner.address), [vid()]);

  ok(t, chain.run(lockKeySetTx(chain, owner, vid(), 1)), 'lock key set epoch 1');
  t.same(getLockKeySet(chain.state, vid()), { epoch: 1, keySet: signedKeySet(owner, vid(), 1), height: chain.height, staleAfterTransfer: false });

  ok(t, chain.run(deviceResetTx(chain, owner, device)), 'reset');
  t.equal(getVehicle(chain.state, vid())!.device, null, 'device link removed');
  t.equal(getVehicle(chain.state, vid())!.ownerAddress, owner.address, 'ownership stays');
  t.equal(getDevice(chain.state, device.pub), undefined);
  ok(t, chain.run(deviceSetupTx(chain, owner, key('device-new'), vid())), 'a new device after the reset');
  t.equal(getVehicle(chain.state, vid())!.ownerSince, setupHeight, 'owner since the first setup');

  const wg = ok(t, chain.run(writeGrantTx(chain, owner)), 'write grant');
  t.ok(isWriteGrantActive(chain.state, getWriteGrant(chain.state, wg.txId)!, chain.time));

  ok(t, chain.run(transferTx(chain, owner, buyer, vid())), 'transfer');
  const after = getVehicle(chain.state, vid())!;
  t.equal(after.ownerAddress, buyer.address);
  t.equal(after.ownerSince, chain.height);
  t.equal(after.device, null, 'device link cleared');
  t.equal(getDevice(chain.state, key('device-new').pub), undefined);
  t.same(vehiclesByOwner(chain.state, owner.address), []);
  t.same(vehiclesByOwner(chain.state, buyer.address), [vid()]);
  t.equal(getLockKeySet(chain.state, vid())!.staleAfterTransfer, true, 'the old key set is stale after the transfer');
  t.notOk(isWriteGrantActive(chain.state, getWriteGrant(chain.state, wg.txId)!, chain.time), "the seller's write grant no longer authorises");
  t.equal(chain.run(lockKeySetTx(chain, owner, vid(), 2)).code, 'NOT_OWNER', 'the seller cannot publish key sets');
  t.equal(chain.run(lockKeySetTx(chain, buyer, vid(), 1)).code, 'EPOCH_NOT_INCREASING', 'the buyer must raise the epoch');
  ok(t, chain.run(lockKeySetTx(chain, buyer, vid(), 2)), 'buyer epoch 2');
  t.equal(getLockKeySet(chain.state, vid())!.staleAfterTransfer, false);
  ok(t, chain.run(deviceSetupTx(chain, buyer, key('device-new'), vid())), "the buyer pairs the previous owner's dongle again");
  t.end();
});

t.test('grants: create, query by both parties, replace, revoke', (t) => {
  const chain = new TestChain();
  const grantee = key('grantee');
  const first = ok(t, chain.run(grantTx(chain, owner, { formats: ['trip-gps', 'dtc'], expiresAt: chain.time + 3_600_000 })), 'grant');
  const g = getGrant(chain.state, first.txId)!;
  t.equal(g.grantor, owner.address);
  t.equal(g.grantee, grantee.address);
  t.same(g.formats, ['dtc', 'trip-gps']);
  t.equal(g.revokedAt, 0);
  t.ok(isGrantActive(g, chain.time));
  t.notOk(isGrantActive(g, chain.time + 3_600_000), 'expired at its expiresAt');
  t.same(grantsByGrantor(chain.state, owner.address).map((x) => hex(x.grantId)), [hex(first.txId)]);
  t.same(grantsByGrantee(chain.state, grantee.address).map((x) => hex(x.grantId)), [hex(first.txId)]);

  const replacement = ok(t, chain.run(grantTx(chain, owner, { formats: ['trip-gps'], revokes: first.txId })), 'replacement');
  t.equal(getGrant(chain.state, first.txId)!.revokedAt, chain.height, 'the replaced grant is revoked');
  t.equal(grantsByGrantor(chain.state, owner.address).length, 2);
  ok(t, chain.run(grantTx(chain, owner, { kind: 'revoke', revokes: replacement.txId })), 'pure revocation');
  t.notOk(isGrantActive(getGrant(chain.state, replacement.txId)!, chain.time));
  t.equal(grantsByGrantor(chain.state, owner.address).length, 2, 'a pure revocation creates no grant');
  t.end();
});

t.test('write grants: indexed by shop and by vehicle', (t) => {
  const chain = new TestChain();
  ok(t, chain.run(deviceSetupTx(chain, owner, device, vid())), 'setup');
  const wg = ok(t, chain.run(writeGrantTx(chain, owner, { expiresAt: chain.time + 60_000 })), 'write grant');
  const info = getWriteGrant(chain.state, wg.txId)!;
  t.equal(info.grantor, owner.address);
  t.same(info.shopPublicKey, key('shop').pub);
  t.same(writeGrantsByShop(chain.state, key('shop').pub).map((x) => hex(x.id)), [hex(wg.txId)]);
  t.same(writeGrantsByVehicle(chain.state, vid()).map((x) => hex(x.id)), [hex(wg.txId)]);
  t.notOk(isWriteGrantActive(chain.state, info, chain.time + 60_000), 'expired');
  t.end();
});

t.test('formats and anchors', (t) => {
  const chain = new TestChain();
  const m = key('maintainer');
  ok(t, chain.run(formatRegisterTx(chain, m, testFormat('fuel-log'))), 'register');
  t.equal(getFormat(chain.state, 'fuel-log')!.maintainerAddress, m.address);
  t.equal(getFormat(chain.state, 'fuel-log')!.definition.version, 1);
  ok(t, chain.run(formatRegisterTx(chain, m, testFormat('fuel-log', 3))), 'v3');
  t.equal(getFormat(chain.state, 'fuel-log')!.definition.version, 3);
  t.ok(listFormats(chain.state).some((f) => f.definition.name === 'fuel-log'));
  t.equal(getFormat(chain.state, 'nope'), undefined);

  const anchored = ok(t, chain.run(anchorTx(chain, key('gateway'), 42)), 'anchor');
  t.same(getBatchAnchor(chain.state, key('gateway').address, 42), { height: chain.height, txId: anchored.txId, root: sha256(utf8('root-42')), leafCount: 10 });
  t.equal(getBatchAnchor(chain.state, key('gateway').address, 43), undefined);
  t.end();
});
