// The chain node in one process: blocks commit with transactions, nodes agree, crashes and restarts, catch-up, partitions.
import t from 'tap';
import { utf8 } from '../../../../protocol/wire.js';
import { decodeBlock } from '../../../../gateway/chain/block/block.js';
import { MempoolError } from '../../../../gateway/chain/node/mempool.js';
import { testKey } from '../consensus/fixtures.js';
import { ledgerTestApp } from './fixtures/ledger-test-app.js';
import { MemoryCluster, testGenesis } from './fixtures/memory-cluster.js';

const keys = [0, 1, 2, 3].map(testKey);
const genesis = testGenesis(ledgerTestApp, keys);

t.test('4 nodes commit blocks with the submitted transactions, identically', async (t) => {
  const c = new MemoryCluster(4, ledgerTestApp, genesis);
  t.teardown(() => c.close());
  c.startAll();
  await c.waitForHeight(2);
  const n0 = c.nodes[0]!;
  const { txId } = n0.submit(utf8('speed=42'));
  const at = await n0.waitForTx(txId, 10_000);
  t.ok(at.height >= 3, `committed at ${at.height}`);
  await c.waitForHeight(at.height);
  for (const n of c.running()) {
    t.same(n.store.get(utf8('kv/speed')), utf8('speed=42').subarray(6), `${n.address} applied it`);
    const block = decodeBlock(n.store.blockBytes(at.height)!);
    t.same(block.txs[at.index], utf8('speed=42'));
  }
  t.ok(c.assertNoFork() >= at.height);
  t.throws(() => n0.submit(utf8('bad=1')), MempoolError, 'an invalid tx is refused with its reason');
  t.throws(() => n0.submit(utf8('speed=42')), { code: 'TX_REJECTED', verdict: { code: 'REPLAY' } }, 'a committed tx is a replay');
});

t.test('progress with 3 of 4, none with 2 of 4, and restarted nodes catch up without forking', async (t) => {
  const c = new MemoryCluster(4, ledgerTestApp, genesis);
  t.teardown(() => c.close());
  c.startAll();
  await c.waitForHeight(3);
  await c.stop(3);
  const h = Math.max(...c.running().map((n) => n.height));
  await c.waitForHeight(h + 3);
  t.pass('3 of 4 keep committing');
  await c.stop(2);
  const stuck = Math.max(...c.running().map((n) => n.height));
  await new Promise((r) => setTimeout(r, 1500));
  t.ok(Math.max(...c.running().map((n) => n.height)) <= stuck + 1, 'no progress with 2 of 4 (at most the height already in flight)');
  c.start(2);
  c.start(3);
  await c.waitForHeight(stuck + 3, 30_000);
  t.ok(c.assertNoFork() >= stuck + 3, 'all four agree at every height after the restart');
});

t.test('a 2|2 partition halts, healing resumes, no fork', async (t) => {
  const c = new MemoryCluster(4, ledgerTestApp, genesis);
  t.teardown(() => c.close());
  c.startAll();
  await c.waitForHeight(2);
  const [a, b, x, y] = c.keys.map((k) => k.address);
  for (const l of [a, b]) for (const r of [x, y]) { c.hub.blocked.add(`${l}>${r}`); c.hub.blocked.add(`${r}>${l}`); }
  await new Promise((r) => setTimeout(r, 300));
  const stuck = Math.max(...c.running().map((n) => n.height));
  await new Promise((r) => setTimeout(r, 1200));
  t.ok(Math.max(...c.running().map((n) => n.height)) <= stuck + 1, 'no side commits alone');
  c.hub.blocked.clear();
  await c.waitForHeight(stuck + 3, 30_000);
  t.ok(c.assertNoFork() >= stuck + 3);
});

