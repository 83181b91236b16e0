// Pairing over the dongle's local HTTP endpoint: setup, setDup, refusals, reset only by the current owner.
import t from 'tap';
import { mkdtempSync, rmSync, statSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileKeystore } from '../../../firmware/keystore/device-keystore.js';
import { FilePairingStateStore } from '../../../firmware/pairing/pairing-state.js';
import { PairingService } from '../../../firmware/pairing/pairing-service.js';
import { startPairingServer } from '../../../firmware/pairing/pairing-server.js';
import { pairDongle, resetDongle } from '../../../tools/wallet/pairing-client.js';
import { masterKeyFromSeed } from '../../../protocol/hd-keys.js';
import { deductFrom } from '../../../protocol/pools.js';
import { verifyDeviceSetup } from '../../../protocol/device-statements.js';
import { verifyPoolAuthorisation } from '../../../protocol/pool-authorisation.js';

const dir = mkdtempSync(join(tmpdir(), 'carchain-pairing-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const alice = masterKeyFromSeed(new Uint8Array(64).fill(0xa1));
const mallory = masterKeyFromSeed(new Uint8Array(64).fill(0x66));
const VID = 'LBVNU79049SB81546';

async function boot() {
  const keystore = FileKeystore.loadOrCreate(join(dir, 'keystore.json'));
  const service = new PairingService(keystore, new FilePairingStateStore(join(dir, 'pairing.json')));
  const server = await startPairingServer(service);
  return { keystore, service, server };
}

t.test('keystore: created 0600 on first boot, the same identity after a restart, refuses a world-readable file', (t) => {
  const a = FileKeystore.loadOrCreate(join(dir, 'ks-test.json'));
  t.equal(statSync(join(dir, 'ks-test.json')).mode & 0o777, 0o600);
  t.equal(FileKeystore.loadOrCreate(join(dir, 'ks-test.json')).deviceAddress, a.deviceAddress);
  chmodSync(join(dir, 'ks-test.json'), 0o644);
  t.throws(() => FileKeystore.loadOrCreate(join(dir, 'ks-test.json')), { code: 'KEYSTORE_INSECURE' });
  writeFileSync(join(dir, 'ks-bad.json'), 'nope', { mode: 0o600 });
  t.throws(() => FileKeystore.loadOrCreate(join(dir, 'ks-bad.json')), { code: 'KEYSTORE_CORRUPT' });
  t.end();
});

t.test('pairing, refusals and reset', async (t) => {
  let { service, server } = await boot();
  const code = service.info().pairingCode!;
  t.match(code, /^carchain-pair:v1:1\w+:[A-Z0-9]{10}$/);

  await t.rejects(pairDongle({ url: server.url, pairingCode: code.replace(/:[A-Z0-9]+$/, ':WRONGWRONG'), root: alice, vid: VID, vehicleIndex: 0, poolSize: 8, agent: 'gw' }), { code: 'PAIRING_BAD_SECRET' });

  const paired = await pairDongle({ url: server.url, pairingCode: code, root: alice, vid: VID, vehicleIndex: 0, poolSize: 8, agent: 'gateway-1' });
  t.equal(paired.authorised, 8);
  t.ok(verifyDeviceSetup(paired.setup).ownerAddress.startsWith('1'), 'DeviceSetup carries both signatures');
  t.equal(service.info().claimed, true);
  t.equal(service.info().pairingCode, null, 'no pairing code once claimed');

  await t.rejects(pairDongle({ url: server.url, pairingCode: code, root: mallory, vid: VID, vehicleIndex: 0, poolSize: 8, agent: 'gw' }), { code: 'PAIRING_ALREADY_CLAIMED' }, 'a claimed dongle refuses setup');

  // Restart: the state survives, and the binding gives the day's address and an authorised key.
  await server.close();
  ({ service, server } = await boot());
  const binding = service.binding()!;
  t.equal(binding.vid, VID);
  const today = deductFrom(binding.poolAddresses, Date.now(), binding.userSeed);
  const key = service.signingKeyFor(today)!;
  t.ok(key, "the uplink finds k_i for today's address");
  verifyPoolAuthorisation(key.authorisation, { now: Date.now(), poolAddress: today });
  t.equal(service.signingKeyFor('1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2'), null);
  t.ok(service.nextSessionId() < service.nextSessionId(), 'session ids increase');

  await t.rejects(resetDongle(server.url, mallory), { code: 'PAIRING_RESET_UNAUTHORISED' }, 'reset without the owner signature is refused');
  t.equal(service.info().claimed, true, 'still paired');
  const bad = await fetch(`${server.url}/reset`, { method: 'POST', body: '{"ownerPublicKey": 5' });
  t.equal(bad.status, 400);
  t.equal(((await bad.json()) as { error: { code: string } }).error.code, 'PAIRING_BAD_REQUEST');

  await resetDongle(server.url, alice);
  t.equal(service.info().claimed, false);
  t.equal(service.binding(), null, 'pool and RSA key wiped');
  t.ok(service.signingKeyFor(today), "records already in the outbox for the old owner can still be sent");
  t.not(service.info().pairingCode, code, 'a new pairing secret after reset');
  await server.close();
});
