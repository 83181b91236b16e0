// POST /txs and ChainClient.submitMany against a real in-process validator: one result per tx, refusals do not sink the batch.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { buildTx } from '../../../../protocol/chain/transactions.js';
import { encodeBatchAnchorBody } from '../../../../protocol/chain/tx-bodies.js';
import { sha256 } from '../../../../protocol/hash.js';
import { ByteWriter } from '../../../../protocol/wire.js';
import { ChainClient } from '../../../../gateway/chain/client/chain-client.js';
import { startLocalValidator } from '../../../../gateway/chain/node/local-validator.js';

t.setTimeout(120_000);

t.test('a batch is admitted tx by tx, committed, and answered in order', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'carchain-rpc-batch-'));
  const chain = await startLocalValidator({ dataDir: dir, blockIntervalMs: 50, emptyBlockIntervalMs: 50 });
  t.teardown(async () => {
    await chain.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  const client = new ChainClient([chain.rpc.url]);
  const anchor = (batchId: number): Uint8Array => buildTx({
    type: 'BatchAnchor', chainId: chain.genesis.chainId, signerPriv: chain.privateKey, expiresAt: Date.now() + 60_000,
    body: encodeBatchAnchorBody({ batchId, root: sha256(new ByteWriter().u64(batchId).finish()), leafCount: 8 }),
  }).bytes;
  const good = Array.from({ length: 40 }, (_, i) => anchor(i + 1));
  const forged = Uint8Array.from(anchor(100));
  forged[forged.length - 1]! ^= 1;
  const batch = [...good.slice(0, 20), forged, ...good.slice(20)];

  const results = await client.submitMany(batch, { waitForCommit: true, timeoutMs: 60_000 });
  t.equal(results.length, batch.length, 'one result per tx');
  t.match(results[20], { error: { code: 'TX_REJECTED', reason: 'BAD_SIGNATURE' } }, 'the forged tx is refused with the application\'s reason');
  const committed = results.filter((r) => r.error === undefined);
  t.equal(committed.length, 40, 'the others are all admitted');
  t.ok(committed.every((r) => typeof r.height === 'number' && r.height > 0 && typeof r.index === 'number'), 'and committed, with their block heights');
  for (const [i, r] of committed.entries()) {
    const located = await client.tx(r.txId);
    t.equal(located.height, r.height, `tx ${i} is where the batch said`);
  }

  const again = await client.submitMany([good[0]!]);
  t.match(again[0], { error: { code: 'TX_REJECTED', reason: 'REPLAY' } }, 'a committed tx submitted again is a replay');

  const json = await fetch(`${chain.rpc.url}/txs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ txs: [Buffer.from(anchor(200)).toString('hex')] }) });
  t.equal(json.status, 200, 'JSON form');
  t.match(await json.json(), { results: [{ txId: /^[0-9a-f]{64}$/ }] });
  for (const body of [JSON.stringify({ txs: [] }), JSON.stringify({ txs: ['zz'] }), 'not json']) {
    const res = await fetch(`${chain.rpc.url}/txs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    t.equal(res.status, 400, `refused: ${body}`);
    t.match(await res.json(), { error: { code: 'BAD_REQUEST' } });
  }
  const garbage = await fetch(`${chain.rpc.url}/txs`, { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body: Uint8Array.of(5, 1) });
  t.equal(garbage.status, 400, 'a binary body that is not a batch');
});
