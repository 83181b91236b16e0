// The peer network over real loopback TCP: a full mesh, restarts, request/response, duplicate dials, back-pressure.
import t from 'tap';
import { NetError } from '../../../../gateway/chain/net/errors.js';
import { MAX_PAYLOAD } from '../../../../gateway/chain/net/envelope.js';
import { utf8 } from '../../../../protocol/wire.js';
import { dial, freePort, manualHandshake, settle, startNet, testKey, waitFor } from './helpers.js';

const keys = [testKey(11), testKey(12), testKey(13), testKey(14)];
const text = (s: string): Uint8Array => utf8(s);

async function rejection(promise: Promise<unknown>): Promise<string> {
  const r = await settle(promise);
  return r.ok ? 'resolved' : r.error.code;
}

t.test('four nodes that all dial each other form one link per pair; one restarts on its port and is found again', async (t) => {
  const ports = await Promise.all(keys.map(() => freePort()));
  const nodes = await Promise.all(
    keys.map((k, i) => startNet(t, k, { allowed: keys, port: ports[i]!, peerPorts: ports.filter((_, j) => j !== i) })),
  );
  await waitFor('full mesh', () => nodes.every((n) => n.net.connectedPeers().length === 3));
  for (const [i, n] of nodes.entries()) {
    t.same(n.net.connectedPeers(), keys.filter((_, j) => j !== i).map((k) => k.address).sort(), `node ${i} is linked to the other three`);
    t.equal(n.net.port, ports[i], 'listens on its configured port');
  }
  // Duplicate links (every pair dialled both ways) are retired within moments; then both ends of
  // each pair hold the same TCP connection (mirrored ports), the one dialled by the lower address.
  const linkOf = (i: number, j: number) => nodes[i]!.net.stats().peers[keys[j]!.address]?.link;
  const pairs = [[0, 1], [0, 2], [0, 3], [1, 2], [1, 3], [2, 3]] as const;
  await waitFor('one link per pair', () => pairs.every(([i, j]) => linkOf(i, j) !== undefined && linkOf(i, j)!.localPort === linkOf(j, i)?.remotePort && linkOf(i, j)!.remotePort === linkOf(j, i)?.localPort));
  for (const [i, j] of pairs) {
    t.equal(linkOf(i, j)!.dialledBy, [keys[i]!.address, keys[j]!.address].sort()[0], `pair ${i}-${j}: one connection, dialled by the lower address`);
  }
  for (const [i, n] of nodes.entries()) n.net.broadcast(1, text(`hello from ${i}`));
  await waitFor('all greetings', () => nodes.every((n) => n.inbox.messages.length === 3));
  t.same(nodes[0]!.inbox.texts().sort(), ['hello from 1', 'hello from 2', 'hello from 3']);
  t.same(nodes[0]!.inbox.messages.map((m) => m.kind), [1, 1, 1], 'the kind byte travels');

  // Kill node 3 and restart it on the same port (a new process would do the same).
  await nodes[3]!.net.close();
  await waitFor('the others notice', () => nodes.slice(0, 3).every((n) => n.net.connectedPeers().length === 2));
  t.ok(nodes.slice(0, 3).every((n) => n.inbox.disconnected.includes(keys[3]!.address)), 'disconnect reported');
  const restarted = await startNet(t, keys[3]!, { allowed: keys, port: ports[3]!, peerPorts: [] });
  await waitFor('the others redial the restarted node', () => restarted.net.connectedPeers().length === 3, 15_000);
  await waitFor('and see it', () => nodes.slice(0, 3).every((n) => n.net.connectedPeers().length === 3));
  nodes[0]!.net.send(keys[3]!.address, 2, text('welcome back'));
  restarted.net.broadcast(2, text('I am back'));
  await waitFor('messages after the restart', () => restarted.inbox.messages.length === 1 && nodes.slice(0, 3).every((n) => n.inbox.texts().includes('I am back')));
  t.same(restarted.inbox.texts(), ['welcome back']);
  t.ok(nodes[0]!.net.stats().peers[keys[3]!.address]!.connects >= 2, 'the stats count the reconnection');
});

t.test('duplicate simultaneous dials converge to one link, every time', async (t) => {
  for (let round = 0; round < 5; round++) {
    const [pa, pb] = [await freePort(), await freePort()];
    const a = await startNet(t, keys[0]!, { allowed: keys, port: pa, peerPorts: [pb] });
    const b = await startNet(t, keys[1]!, { allowed: keys, port: pb, peerPorts: [pa] });
    await waitFor('linked', () => a.net.connectedPeers().length === 1 && b.net.connectedPeers().length === 1);
    // Let any second link finish its handshake and lose the tie-break.
    await waitFor('one link on both ends', () => {
      const la = a.net.stats().peers[keys[1]!.address]?.link;
      const lb = b.net.stats().peers[keys[0]!.address]?.link;
      return la !== undefined && lb !== undefined && la.localPort === lb.remotePort && la.remotePort === lb.localPort;
    });
    a.net.send(keys[1]!.address, 3, text(`round ${round}`));
    await waitFor('delivery', () => b.inbox.messages.length === 1);
    t.same(b.inbox.texts(), [`round ${round}`], `round ${round}: one link, message delivered once`);
    await Promise.all([a.net.close(), b.net.close()]);
  }
});

t.test('request/response: answers, handler failures, timeouts, unknown peers, disconnects', async (t) => {
  const server = await startNet(t, keys[0]!, { allowed: keys });
  const client = await startNet(t, keys[1]!, { allowed: keys, listen: undefined, peerPorts: [server.net.port] });
  await waitFor('linked', () => client.net.connectedPeers().length === 1);
  const peer = keys[0]!.address;
  t.equal(await rejection(client.net.request(peer, 1, text('x'), 2000)), 'REQUEST_FAILED', 'no handler yet');

  let release: (() => void) | undefined;
  server.net.onRequest(async (from, kind, payload) => {
    if (kind === 1) return text(`${from === keys[1]!.address ? 'known' : 'unknown'}:${Buffer.from(payload).toString().toUpperCase()}`);
    if (kind === 2) throw new Error('block 7 is not stored here');
    if (kind === 3) await new Promise<void>((resolve) => (release = resolve));
    return new Uint8Array(0);
  });
  const answer = await client.net.request(peer, 1, text('abc'), 2000);
  t.equal(Buffer.from(answer).toString(), 'known:ABC', 'the handler sees the authenticated sender');
  const many = await Promise.all(Array.from({ length: 20 }, (_, i) => client.net.request(peer, 1, text(`q${i}`), 5000)));
  t.same(many.map((r) => Buffer.from(r).toString()), Array.from({ length: 20 }, (_, i) => `known:Q${i}`), 'concurrent requests are matched to their answers');

  const failed = await settle(client.net.request(peer, 2, text(''), 2000));
  t.ok(!failed.ok && failed.error.code === 'REQUEST_FAILED' && failed.error.message.includes('block 7 is not stored here'), 'the handler error comes back');

  const slow = await settle(client.net.request(peer, 3, text(''), 100));
  t.ok(!slow.ok && slow.error.code === 'REQUEST_TIMEOUT' && slow.error.temporary, 'a slow answer times out');
  release?.();
  await waitFor('the late answer is ignored', () => client.net.stats().staleResponses === 1);

  t.equal(await rejection(client.net.request(keys[3]!.address, 1, text(''), 100)), 'NOT_CONNECTED');
  t.throws(() => client.net.request(peer, 1, new Uint8Array(MAX_PAYLOAD + 1), 100), { code: 'FRAME_TOO_LARGE' });

  const pending = settle(client.net.request(peer, 3, text(''), 10_000));
  await waitFor('the request reached the server', () => server.net.stats().peers[keys[1]!.address]!.framesIn >= 25);
  await server.net.close();
  const outcome = await pending;
  t.ok(!outcome.ok && outcome.error.code === 'CLOSED', 'a pending request fails when the peer goes away');
});

t.test('unauthorised peers and our own address are never linked', async (t) => {
  const logs: string[] = [];
  const a = await startNet(t, keys[0]!, { allowed: [keys[0]!, keys[1]!] });
  const stranger = await startNet(t, keys[2]!, { allowed: keys, peerPorts: [a.net.port] });
  const self = await startNet(t, keys[1]!, { allowed: keys, log: (level, msg) => logs.push(`${level} ${msg}`), peerPorts: [] });
  await self.net.close();
  const loop = await startNet(t, keys[1]!, { allowed: keys, log: (level, msg) => logs.push(`${level} ${msg}`), port: await freePort(), peerPorts: [] });
  await loop.net.close();
  const selfPort = await freePort();
  const selfish = await startNet(t, keys[1]!, { allowed: keys, log: (level, msg) => logs.push(`${level} ${msg}`), port: selfPort, peerPorts: [selfPort] });
  await waitFor('the self dial is given up', () => logs.includes('warn peer address is our own; not dialling it again'));
  await waitFor('the stranger was refused a few times', () => a.net.stats().handshakesFailed >= 2);
  t.same(a.net.connectedPeers(), [], 'the unauthorised key is not linked');
  t.same(stranger.net.connectedPeers(), []);
  t.same(selfish.net.connectedPeers(), [], 'no link to ourselves');
});

t.test('back-pressure: a peer that stops reading costs bounded memory; gossip is dropped oldest first, requests are kept', async (t) => {
  const a = await startNet(t, keys[0]!, { allowed: keys, sendQueue: { maxQueuedGossip: 8, highWaterBytes: 64 * 1024 } });
  const socket = await dial(t, a.net.port);
  await manualHandshake(socket, { presentKey: keys[1]!});
  socket.pause(); // never read again: the kernel buffers fill, then the socket's, then the queue
  const peer = keys[1]!.address;
  await waitFor('linked', () => a.net.connectedPeers().length === 1);
  const chunk = new Uint8Array(256 * 1024);
  for (let i = 0; i < 200; i++) a.net.send(peer, 1, chunk);
  const request = a.net.request(peer, 2, text('still wanted'), 60_000).catch((err: unknown) => err);
  for (let i = 0; i < 50; i++) a.net.send(peer, 1, chunk);
  const s = a.net.stats().peers[peer]!;
  t.ok(s.droppedQueueFull > 0, `gossip was dropped (${s.droppedQueueFull})`);
  t.equal(s.queuedFrames, 9, 'the queue holds the gossip limit plus the request');
  t.equal(s.droppedQueueFull + s.framesOut + s.queuedFrames, 251, 'every frame is sent, queued or counted as dropped');
  await a.net.close();
  const err = await request;
  t.ok(err instanceof NetError && err.code === 'CLOSED', 'the request was still pending, not dropped');
});

t.test('a throwing message handler does not break the link', async (t) => {
  const logged: string[] = [];
  const a = await startNet(t, keys[0]!, { allowed: keys });
  const b = await startNet(t, keys[1]!, { allowed: keys, peerPorts: [a.net.port], log: (level, msg, fields) => logged.push(`${level} ${msg} ${String(fields?.error)}`) });
  await waitFor('linked', () => a.net.connectedPeers().length === 1 && b.net.connectedPeers().length === 1);
  let calls = 0;
  b.net.onMessage(() => {
    calls++;
    throw new Error('node bug');
  });
  a.net.broadcast(1, text('one'));
  a.net.broadcast(1, text('two'));
  await waitFor('both delivered', () => b.inbox.messages.length === 2 && calls === 2);
  t.same(b.inbox.texts(), ['one', 'two'], 'other handlers still ran');
  t.equal(logged.filter((l) => l === 'error handler threw node bug').length, 2, 'the failure was logged');
  t.same(b.net.connectedPeers(), [keys[0]!.address]);
});
