// The lock as a real process on 127.0.0.1: wallet over TCP, kill -9 between epoch persist and apply, hostile framing.
import t from 'tap';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { connectTcpLockTransport } from '../../../firmware/lock/tcp-lock-client.js';
import { decodeError, MAX_FRAME_BYTES } from '../../../protocol/lock/messages.js';
import { LockClient, pushKeySet } from '../../../tools/wallet/lock-client.js';
import { KEYS, keySet, proofFor, VID_HASH } from '../../protocol/lock/fixtures/world.js';

const dir = mkdtempSync(join(tmpdir(), 'carchain-lock-proc-'));
const children = new Set<ChildProcess>();
t.teardown(() => {
  for (const c of children) c.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

async function startLock(env: Record<string, string> = {}): Promise<{ child: ChildProcess; port: number; epoch: number }> {
  const child = spawn(process.execPath, ['--import', 'tsx', new URL('./fixtures/lock-process.ts', import.meta.url).pathname, dir], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.add(child);
  child.once('exit', () => children.delete(child));
  const line = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout }).once('line', resolve);
    child.once('exit', (code, signal) => reject(new Error(`lock process exited early (${code ?? signal})`)));
  });
  return { child, ...(JSON.parse(line) as { port: number; epoch: number }) };
}

function exited(child: ChildProcess): Promise<NodeJS.Signals | null> {
  return new Promise((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve(child.signalCode) : child.once('exit', (_c, s) => resolve(s))));
}

const wallet = async (port: number, key: { privateKey: Uint8Array }) =>
  LockClient.connect(await connectTcpLockTransport(port), { vidHash: VID_HASH, lockPublicKey: KEYS.lock.publicKey, privateKey: key.privateKey });

t.test('kill -9 of the lock process between epoch persist and apply → the restart refuses rollback', async (t) => {
  let lock = await startLock();
  const one = keySet({ epoch: 1, issuedAt: Date.now() - 1000, delegates: [] });
  t.same(await pushKeySet(await connectTcpLockTransport(lock.port), one, proofFor(one, Date.now() - 1000)), { epoch: 1, outcome: 0 });
  const owner = await wallet(lock.port, KEYS.owner);
  t.equal((await owner.run('unlock')).error, '', 'owner unlocks over TCP');
  await owner.close();
  lock.child.kill('SIGTERM');
  await exited(lock.child);

  // Restart with the power-loss hook armed: persisting epoch 2 kills the process before it applies it.
  lock = await startLock({ CARLOCK_KILL_AFTER_PERSIST: '1' });
  t.equal(lock.epoch, 1);
  const two = keySet({ epoch: 2, owner: KEYS.newOwner, delegates: [], revoked: [KEYS.owner.publicKey], issuedAt: Date.now() });
  await t.rejects(pushKeySet(await connectTcpLockTransport(lock.port), two, proofFor(two, Date.now() - 500)), { code: 'TRANSPORT_CLOSED' }, 'no answer: the lock died');
  t.equal(await exited(lock.child), 'SIGKILL', 'killed -9 at the hook');

  lock = await startLock();
  t.equal(lock.epoch, 2, 'the restarted lock runs epoch 2');
  await t.rejects(pushKeySet(await connectTcpLockTransport(lock.port), one, proofFor(one)), { code: 'EPOCH_NOT_INCREASING' }, 'rollback to epoch 1 refused');
  const seller = await wallet(lock.port, KEYS.owner);
  await t.rejects(seller.send('unlock'), { code: 'KEY_REVOKED' }, 'the old owner is out');
  await seller.close();
  const buyer = await wallet(lock.port, KEYS.newOwner);
  t.equal((await buyer.run('unlock')).error, '', 'the new owner is in');
  await buyer.close();
  lock.child.kill('SIGTERM');
  await exited(lock.child);
});

// Runs on the state the test above left (epoch 2, new owner).
t.test('truncated, over-long and lying-length frames on the TCP link', async (t) => {
  const lock = await startLock();
  const raw = async (bytes: Uint8Array): Promise<{ frames: Buffer; closed: boolean }> =>
    new Promise((resolve) => {
      const s = connect({ port: lock.port, host: '127.0.0.1' }, () => s.write(bytes));
      const chunks: Buffer[] = [];
      s.on('data', (c: Buffer) => chunks.push(c));
      const done = (closed: boolean) => {
        s.destroy();
        resolve({ frames: Buffer.concat(chunks), closed });
      };
      s.on('close', () => done(true));
      setTimeout(() => done(false), 1500);
    });
  const prefix = (n: number) => {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, n);
    return b;
  };
  const lying = await raw(prefix(MAX_FRAME_BYTES + 1));
  t.equal(lying.closed, true, 'a length prefix over the limit closes the link');
  t.equal(decodeError(new Uint8Array(lying.frames.subarray(4))), 'BAD_FRAME');
  const zero = await raw(prefix(0));
  t.equal(zero.closed, true, 'a zero length closes the link');
  const garbage = await raw(Uint8Array.of(...prefix(3), 1, 0x55, 0));
  t.equal(decodeError(new Uint8Array(garbage.frames.subarray(4))), 'BAD_FRAME', 'an unknown frame type is answered with BAD_FRAME');
  const truncated = await raw(Uint8Array.of(...prefix(99), 1, 1, 2, 3));
  t.equal(truncated.frames.length, 0, 'a truncated frame gets no answer (it waits for the rest until the idle timeout)');
  const owner = await wallet(lock.port, KEYS.newOwner);
  t.equal((await owner.run('lock')).error, '', 'the lock still serves honest wallets');
  await owner.close();
  lock.child.kill('SIGTERM');
  await exited(lock.child);
});
