// A peer in another process: gossip and requests across processes, kill -9 mid-stream, restart on the same port, reconnect.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { utf8 } from '../../../../protocol/wire.js';
import type { PeerProcessConfig } from './fixtures/peer-process.js';
import { CHAIN_ID, startNet, testKey, waitFor } from './helpers.js';

const SCRIPT = fileURLToPath(new URL('./fixtures/peer-process.ts', import.meta.url));
const parentKey = testKey(31);
const childKey = testKey(32);
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

interface Child {
  process: ChildProcess;
  lines: string[];
  exited: Promise<unknown>;
}

function startChild(t: { teardown(f: () => void): void }, port: number): Child {
  const config: PeerProcessConfig = {
    chainId: CHAIN_ID,
    privateKeyHex: hex(childKey.privateKey),
    port,
    peerPorts: [],
    allowedHex: [hex(parentKey.publicKey)],
  };
  const child = spawn(process.execPath, ['--import', 'tsx', SCRIPT, JSON.stringify(config)], { stdio: ['ignore', 'pipe', 'inherit'] });
  const lines: string[] = [];
  createInterface({ input: child.stdout }).on('line', (line) => lines.push(line));
  const exited = once(child, 'exit');
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  return { process: child, lines, exited };
}

async function listeningPort(child: Child): Promise<number> {
  await waitFor('the child to listen', () => child.lines.some((l) => l.startsWith('listening ')), 30_000);
  return Number(child.lines.find((l) => l.startsWith('listening '))!.split(' ')[1]);
}

t.test('a peer process killed -9 mid-stream and restarted on its port is reconnected to', async (t) => {
  const first = startChild(t, 0);
  const port = await listeningPort(first);
  const parent = await startNet(t, parentKey, { allowed: [childKey], peerPorts: [port], listen: undefined });
  await waitFor('linked', () => parent.net.connectedPeers().length === 1, 15_000);
  const ticks = (): string[] => parent.inbox.texts(childKey.address).filter((x) => x.startsWith('tick '));
  await waitFor('ticks from the child', () => ticks().length >= 5);
  parent.net.send(childKey.address, 2, utf8('echo:first life'));
  await waitFor('the echo', () => parent.inbox.texts().includes('echoed:first life'));
  const pong = await parent.net.request(childKey.address, 3, utf8('ping'), 5000);
  t.equal(Buffer.from(pong).toString(), 'pong:ping', 'request answered across processes');
  t.ok(first.lines.includes(`got ${parentKey.address} echo:first life`), 'the child saw the parent by its authenticated address');

  first.process.kill('SIGKILL');
  const [, signal] = (await first.exited) as [number | null, string | null];
  t.equal(signal, 'SIGKILL');
  await waitFor('the parent notices', () => parent.inbox.disconnected.length === 1);
  t.same(parent.net.connectedPeers(), []);
  const ticksBefore = ticks().length;

  const second = startChild(t, port);
  t.equal(await listeningPort(second), port, 'restarted on the same port');
  await waitFor('redialled', () => parent.net.connectedPeers().length === 1, 15_000);
  await waitFor('ticks from the new process', () => ticks().length >= ticksBefore + 5);
  t.ok(ticks().slice(0, ticksBefore).every((x) => x.startsWith(`tick ${first.process.pid} `)), 'ticks before came from the first process');
  t.ok(ticks().slice(ticksBefore).every((x) => x.startsWith(`tick ${second.process.pid} `)), 'ticks after come from the new process');
  parent.net.send(childKey.address, 2, utf8('echo:second life'));
  await waitFor('the echo after restart', () => parent.inbox.texts().includes('echoed:second life'));
  t.equal(parent.net.stats().peers[childKey.address]!.connects, 2, 'exactly one reconnection');

  second.process.kill('SIGTERM');
  const [code] = (await second.exited) as [number | null];
  t.equal(code, 0, 'a SIGTERM closes the child cleanly');
});
