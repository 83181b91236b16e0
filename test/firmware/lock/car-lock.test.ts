// The lock firmware in-process: key-set installs and rotations, power loss, time floor, staleness, brute force → blocked, audit.
import t from 'tap';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CarLock } from '../../../firmware/lock/car-lock.js';
import { readAuditEntries } from '../../../firmware/lock/audit-log-file.js';
import { SimulatedLockActuator } from '../../../hardware/lock/lock-actuator.js';
import { verifyAuditLog } from '../../../protocol/lock/audit.js';
import { decodeAuditEntry } from '../../../protocol/lock/audit.js';
import { LockClient, pushKeySet } from '../../../tools/wallet/lock-client.js';
import { DAY, finality, HOUR, KEYS, keySet, proofFor, T0, VID_HASH } from '../../protocol/lock/fixtures/world.js';
import { memoryTransport } from './fixtures/memory-transport.js';

const root = mkdtempSync(join(tmpdir(), 'carchain-lock-'));
t.teardown(() => rmSync(root, { recursive: true, force: true }));
let dirCount = 0;

function world(options: { blockAfter?: number } = {}) {
  const dir = join(root, `lock-${dirCount++}`);
  mkdirSync(dir);
  const clock = { now: T0 };
  const actuator = new SimulatedLockActuator();
  const open = (afterPersist?: () => void) =>
    CarLock.open({
      dir,
      vidHash: VID_HASH,
      lockPrivateKey: KEYS.lock.privateKey,
      finality,
      actuator,
      clock: () => clock.now,
      rateLimit: { freeFailures: 3, baseBackoffMs: 1000, maxBackoffMs: 60_000, blockAfter: options.blockAfter ?? 8, blockWindowMs: 10 * 60_000 },
      afterPersist,
    });
  return { dir, clock, actuator, open };
}

async function client(lock: CarLock, key: { privateKey: Uint8Array }, clock: { now: number }, source = 'mem:1') {
  return LockClient.connect(memoryTransport(lock, source), { vidHash: VID_HASH, lockPublicKey: KEYS.lock.publicKey, privateKey: key.privateKey, clock: () => clock.now });
}

t.test('no key set: NO_KEYSET; the first set installs only with a finality proof', async (t) => {
  const w = world();
  const lock = w.open();
  await t.rejects(client(lock, KEYS.owner, w.clock), { code: 'NO_KEYSET' });
  const ks = keySet({ epoch: 1 });
  await t.rejects(pushKeySet(memoryTransport(lock), ks, new Uint8Array(0)), { code: 'PROOF_INVALID' }, 'missing proof');
  const ok = await pushKeySet(memoryTransport(lock), ks, proofFor(ks));
  t.same(ok, { epoch: 1, outcome: 0 });
  const c = await client(lock, KEYS.owner, w.clock);
  t.equal((await c.run('unlock')).error, '');
  t.same(w.actuator.history, ['unlock']);
  lock.close();
});

t.test('owner unlocks, starts, locks; the audit log verifies under the lock key', async (t) => {
  const w = world();
  const lock = w.open();
  const ks = keySet({ epoch: 1 });
  lock.updateKeySet(ks, proofFor(ks));
  const c = await client(lock, KEYS.owner, w.clock);
  for (const cmd of ['unlock', 'start', 'stop', 'lock'] as const) t.equal((await c.run(cmd)).command, cmd);
  t.equal((await c.send('status')).state & 1, 1, 'locked');
  lock.close();
  const entries = readAuditEntries(join(w.dir, 'audit.log'));
  const { count } = verifyAuditLog(entries, KEYS.lock.publicKey, VID_HASH);
  t.equal(count, 6, 'keyset + 5 commands');
  t.match(decodeAuditEntry(entries[1]!).detail, 'unlock ok');
});

t.test('replayed HELLO is REPLAY at the lock', async (t) => {
  const w = world();
  const lock = w.open();
  const ks = keySet({ epoch: 1 });
  lock.updateKeySet(ks, proofFor(ks));
  const { PhoneSession } = await import('../../../protocol/lock/phone-session.js');
  const { decodeError } = await import('../../../protocol/lock/messages.js');
  const hello = new PhoneSession({ vidHash: VID_HASH, lockPublicKey: KEYS.lock.publicKey, privateKey: KEYS.owner.privateKey }).hello(T0);
  await lock.connect('a').handle(hello);
  const [reply] = await lock.connect('b').handle(hello);
  t.equal(decodeError(reply!), 'REPLAY');
  lock.close();
});

t.test('an old session surviving a rotation: dropped at once; old owner out, new owner in', async (t) => {
  const w = world();
  const lock = w.open();
  const one = keySet({ epoch: 1 });
  lock.updateKeySet(one, proofFor(one));
  const seller = await client(lock, KEYS.owner, w.clock);
  const alice = await client(lock, KEYS.alice, w.clock, 'mem:2');
  t.equal((await seller.run('unlock')).error, '');
  t.equal((await alice.run('lock')).error, '');
  // The car is sold: epoch 2, new owner, no delegates, the seller revoked.
  const two = keySet({ epoch: 2, owner: KEYS.newOwner, delegates: [], revoked: [KEYS.owner.publicKey] });
  t.same(await pushKeySet(memoryTransport(lock), two, proofFor(two, T0, 200)), { epoch: 2, outcome: 1 });
  await t.rejects(seller.send('unlock'), { code: 'SESSION_EXPIRED' }, "the seller's open session is dead");
  await t.rejects(alice.send('unlock'), { code: 'SESSION_EXPIRED' }, "the delegate's open session is dead");
  await t.rejects((await client(lock, KEYS.owner, w.clock, 'mem:3')).send('unlock'), { code: 'KEY_REVOKED' }, 'seller cannot start a new one');
  await t.rejects((await client(lock, KEYS.alice, w.clock, 'mem:4')).send('unlock'), { code: 'UNKNOWN_KEY' });
  const buyer = await client(lock, KEYS.newOwner, w.clock, 'mem:5');
  t.equal(buyer.epoch, 2);
  t.equal((await buyer.run('unlock')).error, '');
  // A rollback to the older set, validly signed and proven, is refused.
  await t.rejects(pushKeySet(memoryTransport(lock), one, proofFor(one)), { code: 'EPOCH_NOT_INCREASING' });
  lock.close();
});

t.test('power loss between persisting the epoch and applying the set (crash hook + reopen)', async (t) => {
  const w = world();
  let lock = w.open(() => {
    throw new Error('power lost');
  });
  const one = keySet({ epoch: 1 });
  t.throws(() => lock.updateKeySet(one, proofFor(one)), /power lost/);
  lock.close();
  lock = w.open(() => {
    throw new Error('power lost');
  });
  t.equal(lock.epoch, 1, 'after restart the persisted epoch 1 set is in force');
  const two = keySet({ epoch: 2, owner: KEYS.newOwner, delegates: [], revoked: [KEYS.owner.publicKey] });
  t.throws(() => lock.updateKeySet(two, proofFor(two)), /power lost/);
  t.equal(lock.epoch, 1, 'not yet applied in the crashed process');
  lock.close();
  lock = w.open();
  t.equal(lock.epoch, 2, 'restart comes back with epoch 2');
  t.throws(() => lock.updateKeySet(one, proofFor(one)), { code: 'EPOCH_NOT_INCREASING' }, 'and refuses the rollback');
  await t.rejects((await client(lock, KEYS.owner, w.clock)).send('unlock'), { code: 'KEY_REVOKED' });
  lock.close();
});

t.test('a delegate on a stale proof; refreshing the same set with a newer proof restores it; the owner is always accepted', async (t) => {
  const w = world();
  const lock = w.open();
  const ks = keySet({ epoch: 1, delegates: [{ publicKey: KEYS.alice.publicKey, notBefore: T0 - HOUR, notAfter: T0 + 30 * DAY, permissions: 0b111111 }] });
  lock.updateKeySet(ks, proofFor(ks, T0 - HOUR));
  w.clock.now = T0 + 8 * DAY;
  await t.rejects((await client(lock, KEYS.alice, w.clock)).send('unlock'), { code: 'STALE_PROOF' });
  t.equal((await (await client(lock, KEYS.owner, w.clock)).run('unlock')).error, '', 'owner offline on a stale proof');
  t.equal(lock.updateKeySet(ks, proofFor(ks, T0 + 8 * DAY - HOUR, 300)).outcome, 'refreshed');
  t.equal((await (await client(lock, KEYS.alice, w.clock, 'mem:9')).run('unlock')).error, '');
  lock.close();
});

t.test('a clock rolled back below the floor never revives an expired delegation', async (t) => {
  const w = world();
  let lock = w.open();
  const ks = keySet({ epoch: 1 });
  lock.updateKeySet(ks, proofFor(ks, T0 - HOUR));
  t.equal((await (await client(lock, KEYS.alice, w.clock)).run('unlock')).error, '', 'alice inside her window');
  w.clock.now = T0 + 25 * HOUR; // alice's window ended at T0 + 24 h
  await t.rejects((await client(lock, KEYS.alice, w.clock, 'mem:2')).send('unlock'), { code: 'DELEGATION_EXPIRED' });
  t.equal((await (await client(lock, KEYS.owner, w.clock, 'mem:3')).run('lock')).error, '', 'owner at T0+25h leaves an audit entry');
  w.clock.now = T0; // someone rolls the clock back a day
  await t.rejects((await client(lock, KEYS.alice, w.clock, 'mem:4')).send('unlock'), { code: 'CLOCK_BELOW_FLOOR' });
  t.equal((await (await client(lock, KEYS.owner, w.clock, 'mem:5')).run('unlock')).error, '', 'owner still accepted');
  lock.close();
  lock = w.open();
  await t.rejects((await client(lock, KEYS.alice, w.clock, 'mem:6')).send('unlock'), { code: 'CLOCK_BELOW_FLOOR' }, 'the floor survives a restart (audit log)');
  lock.close();
});

t.test('brute force → backoff → blocked; only an owner-signed unblock reopens', async (t) => {
  const w = world({ blockAfter: 8 });
  let lock = w.open();
  const ks = keySet({ epoch: 1 });
  lock.updateKeySet(ks, proofFor(ks));
  const attempt = async (source: string) => (await client(lock, KEYS.mallory, w.clock, source)).send('unlock');
  for (let i = 0; i < 3; i++) await t.rejects(attempt('ble:mallory'), { code: 'UNKNOWN_KEY' }, `free failure ${i + 1}`);
  await t.rejects(attempt('ble:mallory'), { code: 'RATE_LIMITED' }, 'the source backs off');
  w.clock.now += 1000;
  await t.rejects(attempt('ble:mallory'), { code: 'UNKNOWN_KEY' }, 'after the back-off, one more try');
  await t.rejects(attempt('ble:mallory'), { code: 'RATE_LIMITED' }, 'back-off doubled');
  w.clock.now += 1999;
  await t.rejects(attempt('ble:mallory'), { code: 'RATE_LIMITED' }, 'still inside 2 s');
  // Rotating sources does not escape the per-key back-off.
  await t.rejects(attempt('ble:mallory-2'), { code: 'RATE_LIMITED' }, 'same key from another source');
  t.equal((await (await client(lock, KEYS.alice, w.clock, 'ble:alice')).run('unlock')).error, '', 'legit delegate unaffected');
  // Many keys from many sources: the lock blocks.
  const { sha256 } = await import('../../../protocol/hash.js');
  for (let i = 0; i < 4; i++) {
    w.clock.now += 10;
    await (client(lock, { privateKey: sha256(Uint8Array.of(i)) }, w.clock, `ble:${i}`).then((c) => c.send('unlock'))).catch(() => undefined);
  }
  t.equal(lock.blocked, true, 'blocked after 8 failures in the window');
  await t.rejects((await client(lock, KEYS.alice, w.clock, 'ble:alice')).send('unlock'), { code: 'BLOCKED' }, 'delegates refused while blocked');
  lock.close();
  lock = w.open();
  t.equal(lock.blocked, true, 'blocked survives a restart');
  const owner = await client(lock, KEYS.owner, w.clock, 'ble:owner');
  t.equal((await owner.send('unlock')).error, 'BLOCKED', 'even the owner must unblock first');
  t.equal((await owner.run('unblock')).error, '');
  t.equal(lock.blocked, false);
  t.equal((await owner.run('unlock')).error, '');
  t.equal((await (await client(lock, KEYS.alice, w.clock, 'ble:alice')).run('lock')).error, '', 'delegate back');
  const detail = readAuditEntries(join(w.dir, 'audit.log')).map((e) => decodeAuditEntry(e).event);
  t.ok(detail.includes('blocked') && detail.includes('auth-failed'), 'blocking and failures are audited');
  lock.close();
});

t.test('actuator failure is reported as ACTUATOR_FAILED inside the RSP', async (t) => {
  const w = world();
  const lock = w.open();
  const ks = keySet({ epoch: 1 });
  lock.updateKeySet(ks, proofFor(ks));
  const c = await client(lock, KEYS.owner, w.clock);
  w.actuator.jam();
  t.equal((await c.send('unlock')).error, 'ACTUATOR_FAILED');
  w.actuator.jam(false);
  t.equal((await c.send('unlock')).error, '', 'the session continues');
  lock.close();
});

t.test('garbage frames at a connection: typed answers, never a crash, honest sessions unaffected', async (t) => {
  const fc = (await import('fast-check')).default;
  const { decodeError } = await import('../../../protocol/lock/messages.js');
  const w = world({ blockAfter: 1_000_000 });
  const lock = w.open();
  const ks = keySet({ epoch: 1 });
  lock.updateKeySet(ks, proofFor(ks));
  const honest = await client(lock, KEYS.owner, w.clock, 'ble:owner');
  const conn = lock.connect('ble:fuzz');
  await fc.assert(
    fc.asyncProperty(fc.uint8Array({ minLength: 0, maxLength: 200 }), fc.constantFrom(0x01, 0x03, 0x10, 0x20, 0x7f, 0x33), async (body, type) => {
      const replies = await conn.handle(Uint8Array.of(1, type, ...body));
      for (const r of replies) if (r[1] === 0x7f) decodeError(r);
    }),
    { numRuns: 200 },
  );
  t.equal((await honest.run('unlock')).error, '', 'the owner session still works');
  lock.close();
});
