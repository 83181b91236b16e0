// Tests for socat-made pty pairs: bytes through the real serialport binding, cleanup, missing socat.
import t from 'tap';
import { spawn } from 'node:child_process';
import { lstat, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SerialPortLink } from '../../../hardware/serial/serial-port-link.js';
import { openPtyPair } from '../../../hardware/serial/pty-pair.js';

const isAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};
const exists = (path: string): Promise<boolean> => lstat(path).then(() => true, () => false);

async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return true;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return check();
}

function collect(link: SerialPortLink): { text: () => string } {
  let received = '';
  link.onData((chunk) => (received += Buffer.from(chunk).toString('latin1')));
  return { text: () => received };
}

t.test('a pty pair carries bytes both ways through SerialPortLink, and close() kills socat', async (t) => {
  const pair = await openPtyPair();
  t.ok(isAlive(pair.pid), 'socat runs');
  t.not(pair.devicePath, pair.hostPath);
  const device = await SerialPortLink.open({ path: pair.devicePath, baudRate: 38400 });
  const host = await SerialPortLink.open({ path: pair.hostPath, baudRate: 38400 });
  const atDevice = collect(device);
  const atHost = collect(host);
  await host.write(new Uint8Array(Buffer.from('ATI\r')));
  t.ok(await waitFor(() => atDevice.text() === 'ATI\r', 3000), 'host → device');
  await device.write(new Uint8Array([0x00, 0xff, 0x0d, 0x0a, 0x3e]));
  t.ok(await waitFor(() => atHost.text() === '\x00\xff\r\n>', 3000), 'device → host, binary-safe (raw mode)');
  await host.close();
  await device.close();
  await pair.close();
  t.notOk(isAlive(pair.pid), 'socat is gone');
  t.notOk(await exists(pair.hostPath), 'links removed');
  await pair.close(); // idempotent
});

t.test('a missing socat is a typed error', async (t) => {
  await t.rejects(openPtyPair({ socatPath: '/nonexistent/socat' }), { code: 'PTY_SOCAT_MISSING', temporary: false });
});

t.test('socat does not outlive a parent that dies without closing', async (t) => {
  const helper = fileURLToPath(new URL('./pty-orphan-helper.ts', import.meta.url));
  const child = spawn(process.execPath, ['--import', 'tsx', helper], { stdio: ['ignore', 'pipe', 'inherit'] });
  const started = await new Promise<{ pid: number; hostPath: string }>((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const line = out.split('\n')[0];
      if (out.includes('\n') && line) resolve(JSON.parse(line));
    });
    child.once('exit', () => reject(new Error('helper exited early')));
  });
  // The helper dies by SIGKILL and cannot remove its temp dir.
  t.teardown(() => rm(dirname(started.hostPath), { recursive: true, force: true }));
  const socatPid = started.pid;
  t.ok(isAlive(socatPid), 'socat started by the child');
  child.kill('SIGKILL');
  t.ok(await waitFor(() => !isAlive(socatPid), 5000), 'the watchdog killed socat after the parent was SIGKILLed');
});
