// Transaction batches: the byte form shared by gossip and POST /txs, the per-tick gossip batcher, and the decoded-tx cache.
import t from 'tap';
import { buildTx, decodeTx } from '../../../../protocol/chain/transactions.js';
import { sha256 } from '../../../../protocol/hash.js';
import { utf8, ByteWriter } from '../../../../protocol/wire.js';
import { decodeTxBatch, encodeTxBatch, MAX_TXS_PER_BATCH } from '../../../../gateway/chain/node/tx-batch.js';
import { TxGossip } from '../../../../gateway/chain/node/tx-gossip.js';
import { DecodedTxCache } from '../../../../gateway/chain/node/decoded-tx-cache.js';
import { MemoryHub, WIRE } from '../../../../gateway/chain/node/transport.js';

const key = sha256(utf8('tx-batch-test'));
const tx = (i: number): Uint8Array => buildTx({ type: 'Stake', chainId: 'c', signerPriv: key, nonce: i, expiresAt: 10_000, body: Uint8Array.of(0, 0, 0, 0, 0, 0, 0, 1) }).bytes;
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

t.test('a batch keeps every tx byte for byte, in order; malformed batches are refused', (t) => {
  const txs = [tx(1), tx(2), new Uint8Array(0), tx(3)];
  t.same(decodeTxBatch(encodeTxBatch(txs), 4096).map(hex), txs.map(hex));
  t.same(decodeTxBatch(encodeTxBatch([]), 4096), []);
  const bytes = encodeTxBatch(txs);
  t.throws(() => decodeTxBatch(bytes.subarray(0, bytes.length - 1), 4096), { name: 'ProtocolError' }, 'truncated');
  t.throws(() => decodeTxBatch(Uint8Array.from([...bytes, 0]), 4096), { name: 'ProtocolError' }, 'trailing bytes');
  t.throws(() => decodeTxBatch(encodeTxBatch([new Uint8Array(100)]), 99), { name: 'ProtocolError' }, 'a tx over the size limit');
  t.throws(() => decodeTxBatch(new ByteWriter().varint(MAX_TXS_PER_BATCH + 1).finish(), 4096), { code: 'DECODE_TOO_LARGE' }, 'too many txs');
  t.end();
});

t.test('gossip: one frame per peer per tick, never back to the peer a tx came from', async (t) => {
  const hub = new MemoryHub();
  const a = hub.join('A');
  const seen: { to: string; from: string; kind: number; txs: string[] }[] = [];
  for (const name of ['B', 'C']) {
    hub.join(name).onMessage((from, kind, payload) => seen.push({ to: name, from, kind, txs: decodeTxBatch(payload, 4096).map(hex) }));
  }
  await new Promise((r) => setImmediate(r));
  const gossip = new TxGossip(a, 5);
  gossip.queue(tx(1));
  gossip.queue(tx(2), 'B');
  gossip.queue(tx(3));
  await new Promise((r) => setTimeout(r, 50));
  seen.sort((x, y) => x.to.localeCompare(y.to));
  t.same(seen.map((s) => [s.to, s.from, s.kind]), [['B', 'A', WIRE.txs], ['C', 'A', WIRE.txs]], 'one frame to each peer');
  t.same(seen[0]!.txs, [tx(1), tx(3)].map(hex), 'B does not get back the tx it sent');
  t.same(seen[1]!.txs, [tx(1), tx(2), tx(3)].map(hex), 'C gets all three in order');
  gossip.stop();
  gossip.queue(tx(4));
  await new Promise((r) => setTimeout(r, 30));
  t.equal(seen.length, 2, 'nothing after stop');
  t.end();
});

t.test('decoded-tx cache: keyed by the exact bytes, bounded, committed txs forgotten', (t) => {
  const cache = new DecodedTxCache(2);
  const [x, y, z] = [tx(1), tx(2), tx(3)];
  cache.set(x, decodeTx(x));
  t.same(hex(cache.get(Uint8Array.from(x))!.txId), hex(decodeTx(x).txId), 'a copy of the bytes finds the entry');
  const padded = new Uint8Array(x.length + 2);
  padded.set(x, 1);
  t.ok(cache.get(padded.subarray(1, 1 + x.length)), 'a view into a larger buffer finds it too');
  t.equal(cache.get(y), undefined);
  cache.set(y, decodeTx(y));
  cache.set(z, decodeTx(z));
  t.equal(cache.size, 2, 'bounded');
  t.equal(cache.get(x), undefined, 'the oldest went first');
  cache.forget([y]);
  t.equal(cache.get(y), undefined);
  t.ok(cache.get(z));
  t.end();
});
