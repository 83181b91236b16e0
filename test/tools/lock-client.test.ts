// The wallet's lock client over real TCP on 127.0.0.1 against an in-process lock: owner, delegate, rotation.
import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CarLock } from '../../firmware/lock/car-lock.js';
import { connectTcpLockTransport } from '../../firmware/lock/tcp-lock-client.js';
import { startTcpLockServer } from '../../firmware/lock/tcp-lock-server.js';
import { SimulatedLockActuator } from '../../hardware/lock/lock-actuator.js';
import { LockClient, pushKeySet } from '../../tools/wallet/lock-client.js';
import { delegate, finality, HOUR, KEYS, keySet, proofFor, T0, VID_HASH } from '../protocol/lock/fixtures/world.js';

const dir = mkdtempSync(join(tmpdir(), 'carchain-lock-client-'));
const clock = { now: T0 };
const actuator = new SimulatedLockActuator();
const lock = CarLock.open({ dir, vidHash: VID_HASH, lockPrivateKey: KEYS.lock.privateKey, finality, actuator, clock: () => clock.now });
const server = await startTcpLockServer(lock);
t.teardown(async () => {
  await server.close();
  lock.close();
  rmSync(dir, { recursive: true, force: true });
});

const wallet = async (key: { privateKey: Uint8Array }, phoneClock = () => clock.now) =>
  LockClient.connect(await connectTcpLockTransport(server.port), { vidHash: VID_HASH, lockPublicKey: KEYS.lock.publicKey, privateKey: key.privateKey, clock: phoneClock });

// Alice: unlock/lock for T0-1h..T0+2h. Bob: everything, from T0+1h.
const one = keySet({
  epoch: 1,
  delegates: [delegate(KEYS.alice.publicKey, T0 - HOUR, T0 + 2 * HOUR, ['unlock', 'lock']), delegate(KEYS.mallory.publicKey, T0 + HOUR, T0 + 3 * HOUR, ['unlock', 'lock', 'start', 'stop', 'trunk', 'status'])],
  revoked: [],
});

t.test('owner pushes the key set, then unlocks, starts and locks over TCP', async (t) => {
  t.same(await pushKeySet(await connectTcpLockTransport(server.port), one, proofFor(one)), { epoch: 1, outcome: 0 });
  const owner = await wallet(KEYS.owner);
  t.equal((await owner.run('unlock')).state & 1, 0, 'unlocked');
  t.equal((await owner.run('start')).state & 2, 2, 'engine on');
  t.equal((await owner.run('stop')).state & 2, 0);
  t.equal((await owner.run('lock')).state & 1, 1, 'locked');
  t.same(actuator.history, ['unlock', 'start', 'stop', 'lock']);
  await owner.close();
});

t.test('a wallet whose clock is an hour off still works (commands stamped in the lock clock)', async (t) => {
  const owner = await wallet(KEYS.owner, () => clock.now + HOUR);
  t.equal((await owner.run('status')).error, '');
  await owner.close();
});

t.test('delegate within its window and permissions; outside them', async (t) => {
  const alice = await wallet(KEYS.alice);
  t.equal((await alice.run('unlock')).error, '');
  t.equal((await alice.send('start')).error, 'PERMISSION_DENIED', 'start is not hers');
  t.equal((await alice.send('trunk')).error, 'PERMISSION_DENIED');
  t.equal((await alice.run('lock')).error, '', 'the session goes on after a refusal');
  await alice.close();
  const early = await wallet(KEYS.mallory);
  await t.rejects(early.send('unlock'), { code: 'DELEGATION_NOT_YET_VALID' }, 'before her window');
  await early.close();
  clock.now = T0 + 2 * HOUR + 1;
  const late = await wallet(KEYS.alice);
  await t.rejects(late.send('unlock'), { code: 'DELEGATION_EXPIRED' }, 'after her window');
  await late.close();
  const now = await wallet(KEYS.mallory);
  t.equal((await now.run('unlock')).error, '', 'the other delegate, now inside its window');
  t.equal((await now.run('start')).error, '');
  await now.close();
});

t.test('rotation to a new epoch kills old sessions over TCP', async (t) => {
  const owner = await wallet(KEYS.owner);
  t.equal((await owner.run('lock')).error, '');
  const two = keySet({ epoch: 2, delegates: [], revoked: [KEYS.alice.publicKey] });
  t.same(await pushKeySet(await connectTcpLockTransport(server.port), two, proofFor(two, clock.now - 1000)), { epoch: 2, outcome: 1 });
  await t.rejects(owner.send('unlock'), { code: 'SESSION_EXPIRED' }, 'the epoch-1 session is gone');
  await owner.close();
  const again = await wallet(KEYS.owner);
  t.equal(again.epoch, 2);
  t.equal((await again.run('unlock')).error, '');
  await again.close();
  await t.rejects((await wallet(KEYS.alice)).send('unlock'), { code: 'KEY_REVOKED' });
});

t.test('a wallet pinned to a newer epoch refuses a lock that runs an older one', async (t) => {
  await t.rejects(
    LockClient.connect(await connectTcpLockTransport(server.port), { vidHash: VID_HASH, lockPublicKey: KEYS.lock.publicKey, privateKey: KEYS.owner.privateKey, minEpoch: 3, clock: () => clock.now }),
    { code: 'EPOCH_NOT_INCREASING' },
  );
});
