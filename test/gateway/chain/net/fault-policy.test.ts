// Fault injection: validation, seeded determinism, and drops / partitions / delays applied to real links.
import t from 'tap';
import { NetError } from '../../../../gateway/chain/net/errors.js';
import { FaultPolicy } from '../../../../gateway/chain/net/fault-policy.js';
import { utf8 } from '../../../../protocol/wire.js';
import { settle, startNet, testKey, waitFor } from './helpers.js';

const keys = [testKey(21), testKey(22), testKey(23)];
const [A, B, C] = keys as [(typeof keys)[0], (typeof keys)[0], (typeof keys)[0]];

t.test('policy: validation, run-time updates, seeded decisions repeat', (t) => {
  const code = (f: () => void): string => {
    try {
      f();
      return 'ok';
    } catch (err) {
      return err instanceof NetError ? err.code : 'other';
    }
  };
  const p = new FaultPolicy();
  t.equal(code(() => p.update({ dropRate: 1.5 })), 'INVALID_OPTIONS');
  t.equal(code(() => p.update({ dropRate: Number.NaN })), 'INVALID_OPTIONS');
  t.equal(code(() => p.update({ delayMs: { min: 10, max: 5 } })), 'INVALID_OPTIONS');
  t.equal(code(() => p.update({ delayMs: { min: -1, max: 5 } })), 'INVALID_OPTIONS');
  t.equal(code(() => p.update({ seed: 1.5 })), 'INVALID_OPTIONS');
  t.equal(code(() => p.update({ dropRate: 0.5, delayMs: { min: 9, max: 1 } })), 'INVALID_OPTIONS');
  t.equal(p.dropRate, 0, 'a refused update changes nothing');
  p.update({ dropRate: 0.25, blocked: ['x', 'y'] });
  t.same(p.toJSON(), { dropRate: 0.25, delayMs: { min: 0, max: 0 }, blocked: ['x', 'y'] });
  p.update({ blocked: [] });
  t.same(p.toJSON().blocked, [], 'blocked is replaced, not merged');
  p.update({ blocked: ['x'] });
  t.same(p.decide('x', 'send'), { action: 'drop', reason: 'blocked' }, 'blocked wins over chance');

  const run = (seed: number): string => {
    const q = new FaultPolicy({ seed, dropRate: 0.5, delayMs: { min: 1, max: 100 } });
    return Array.from({ length: 200 }, () => {
      const d = q.decide('p', 'send');
      return d.action === 'drop' ? 'd' : String(d.delayMs);
    }).join(',');
  };
  t.equal(run(7), run(7), 'same seed, same decisions');
  t.not(run(7), run(8), 'another seed, other decisions');
  const drops = run(7).split(',').filter((x) => x === 'd').length;
  t.ok(drops > 60 && drops < 140, `about half dropped (${drops}/200)`);
  const delays = run(7).split(',').filter((x) => x !== 'd').map(Number);
  t.ok(delays.every((d) => d >= 1 && d <= 100), 'delays within [min, max]');
  const blocked = new FaultPolicy({ blocked: ['p'] });
  t.same(blocked.decide('p', 'receive'), { action: 'drop', reason: 'blocked' });
  t.same(blocked.decide('q', 'receive'), { action: 'deliver', delayMs: 0 });
  t.end();
});

async function mesh(tt: Parameters<typeof startNet>[0]) {
  const a = await startNet(tt, A, { allowed: keys, faults: new FaultPolicy({ seed: 1 }) });
  const b = await startNet(tt, B, { allowed: keys, peerPorts: [a.net.port] });
  const c = await startNet(tt, C, { allowed: keys, peerPorts: [a.net.port, b.net.port] });
  await waitFor('mesh', () => [a, b, c].every((n) => n.net.connectedPeers().length === 2));
  return { a, b, c };
}

t.test('dropRate 1: nothing arrives in either direction; back to 0, traffic flows again', async (t) => {
  const { a, b } = await mesh(t);
  a.net.faults.update({ dropRate: 1 });
  for (let i = 0; i < 20; i++) {
    a.net.send(B.address, 1, utf8(`a${i}`));
    b.net.send(A.address, 1, utf8(`b${i}`));
  }
  const timedOut = await settle(b.net.request(A.address, 1, utf8('q'), 200));
  t.ok(!timedOut.ok && timedOut.error.code === 'REQUEST_TIMEOUT', 'a request into the void times out');
  a.net.faults.update({ dropRate: 0 });
  a.net.send(B.address, 1, utf8('marker-a'));
  b.net.send(A.address, 1, utf8('marker-b'));
  await waitFor('markers', () => a.inbox.messages.length > 0 && b.inbox.messages.length > 0);
  t.same(b.inbox.texts(), ['marker-a'], 'B got only what was sent after the drops ended');
  t.same(a.inbox.texts(), ['marker-b'], 'A got only what was sent after the drops ended');
  const s = a.net.stats().peers[B.address]!;
  t.equal(s.droppedByFaultsOnSend, 20);
  t.equal(s.droppedByFaultsOnReceive, 21, '20 messages and the request');
});

t.test('a blocked peer: nothing from or to it, others unaffected, and it heals when unblocked', async (t) => {
  const { a, b, c } = await mesh(t);
  a.net.faults.update({ blocked: [B.address] });
  a.net.broadcast(1, utf8('from a'));
  b.net.broadcast(1, utf8('from b'));
  c.net.broadcast(1, utf8('from c'));
  await waitFor('C hears A and B; A hears C', () => c.inbox.messages.length === 2 && a.inbox.texts().includes('from c'));
  await waitFor('B hears C', () => b.inbox.texts().includes('from c'));
  a.net.faults.update({ blocked: [] });
  a.net.broadcast(1, utf8('healed a'));
  b.net.broadcast(1, utf8('healed b'));
  await waitFor('healed', () => a.inbox.texts().includes('healed b') && b.inbox.texts().includes('healed a'));
  t.same(a.inbox.texts(), ['from c', 'healed b'], 'A never saw B during the partition');
  t.same(b.inbox.texts().filter((x) => x !== 'healed a'), ['from c'], 'B never saw A during the partition');
  t.same(c.inbox.texts().sort(), ['from a', 'from b', 'healed a', 'healed b']);
  t.same(a.net.connectedPeers().length, 2, 'the partition kept the TCP link up');
});

t.test('delays are applied and every delayed frame still arrives', async (t) => {
  const { a, b } = await mesh(t);
  a.net.faults.update({ delayMs: { min: 30, max: 60 } });
  const started = Date.now();
  for (let i = 0; i < 10; i++) a.net.send(B.address, 1, utf8(`d${i}`));
  await waitFor('all delayed frames', () => b.inbox.messages.length === 10);
  t.equal(a.net.stats().peers[B.address]!.delayedByFaults, 10, 'each frame was delayed');
  t.ok(Date.now() - started >= 25, 'not delivered before the minimum delay');
  t.same(b.inbox.texts().sort(), Array.from({ length: 10 }, (_, i) => `d${i}`).sort());
});
