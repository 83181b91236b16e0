// Batch anchoring against a real (in-process) validator: anchored once, crash-resumed, conflicts refused, record proofs verify.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { buildTx } from '../../../protocol/chain/transactions.js';
import { encodeBatchAnchorBody } from '../../../protocol/chain/tx-bodies.js';
import { sha256 } from '../../../protocol/hash.js';
import { leafHash } from '../../../protocol/merkle.js';
import { utf8 } from '../../../protocol/wire.js';
import { BatchAnchorer } from '../../../gateway/anchoring/batch-anchorer.js';
import { LeafLog } from '../../../gateway/batches/leaf-log.js';
import { ChainClient } from '../../../gateway/chain/client/chain-client.js';
import { ValidatorSet } from '../../../gateway/chain/consensus/validator-set.js';
import { verifyProof } from '../../../gateway/chain/light/light-client.js';
import { recordProof } from '../../../gateway/chain/light/proof-file.js';
import { type LocalValidator, startLocalValidator } from '../../../gateway/chain/node/local-validator.js';

const quiet = (): void => undefined;

/** A validator in this process, an empty leaf log and a client, all removed after the test. */
async function setUp(t: Test): Promise<{ chain: LocalValidator; leafLog: LeafLog; client: ChainClient }> {
  const dir = mkdtempSync(join(tmpdir(), 'carchain-anchor-'));
  const chain = await startLocalValidator({ dataDir: join(dir, 'chain'), blockIntervalMs: 50, emptyBlockIntervalMs: 50 });
  const leafLog = new LeafLog(join(dir, 'leaves.db'));
  t.teardown(async () => {
    leafLog.close();
    await chain.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  return { chain, leafLog, client: new ChainClient([chain.rpc.url]) };
}

t.test('sealed batches are anchored once each, a crash between submit and record is resumed, records are proven', async (t) => {
  const { chain, leafLog, client } = await setUp(t);
  const records = Array.from({ length: 25 }, (_, i) => utf8(`record ${i}`));
  leafLog.append(records.map((r) => ({ recordId: sha256(r), leafHash: leafHash(r) })));
  const batches = [leafLog.sealBatch(10)!, leafLog.sealBatch(10)!, leafLog.sealBatch(10)!];
  t.same(batches.map((b) => b.size), [10, 10, 5]);

  // A crash after submitting batch 1 but before recording it: the anchor is on the chain only.
  const early = buildTx({ type: 'BatchAnchor', chainId: chain.genesis.chainId, signerPriv: chain.privateKey, expiresAt: Date.now() + 60_000, body: encodeBatchAnchorBody({ batchId: batches[0]!.batchId, root: batches[0]!.root, leafCount: 10 }) });
  const earlyAt = await client.submit(early.bytes, { waitForCommit: true });

  const anchorer = new BatchAnchorer({ chain: client, leafLog, privateKey: chain.privateKey, chainId: () => Promise.resolve(chain.genesis.chainId), log: quiet });
  await anchorer.anchorPending();
  t.equal(leafLog.unanchoredBatches().length, 0, 'every batch anchored');
  const first = leafLog.batch(batches[0]!.batchId)!;
  t.equal(first.anchor!.height, earlyAt.height, 'the batch anchored before the "crash" keeps its original anchor');
  t.same(Buffer.from(first.anchor!.txHash).toString('hex'), earlyAt.txId);
  await anchorer.anchorPending();
  t.equal(anchorer.anchored, 3, 'running again anchors nothing twice');

  // The full proof of record 13: record → batch → BatchAnchor → header → genesis.
  const loc = leafLog.locate(sha256(records[13]!))!;
  const txProof = await client.txProof(Buffer.from(loc.anchor!.txHash).toString('hex'));
  const proof = recordProof(txProof, { recordBytes: records[13]!, leafHash: loc.leafHash, batchId: loc.batchId, leafIndex: loc.leafIndex, treeSize: loc.size, path: loc.path });
  const validators = new ValidatorSet(chain.genesis.validators.map((v) => ({ publicKey: Uint8Array.from(Buffer.from(v.publicKey, 'hex')), power: v.power })));
  const verified = verifyProof({ chainId: chain.genesis.chainId, validators }, proof);
  t.equal(verified.batch!.leafIndex, 3, 'record 13 is leaf 3 of batch 2, proven from genesis');
});

t.test('a leaf log that does not match the key\'s anchors is refused, not adopted', async (t) => {
  const { chain, leafLog, client } = await setUp(t);
  leafLog.append([{ recordId: sha256(utf8('a')), leafHash: leafHash(utf8('a')) }]);
  const batch = leafLog.sealBatch(10)!;
  const other = buildTx({ type: 'BatchAnchor', chainId: chain.genesis.chainId, signerPriv: chain.privateKey, expiresAt: Date.now() + 60_000, body: encodeBatchAnchorBody({ batchId: batch.batchId, root: sha256(utf8('another log')), leafCount: 1 }) });
  await client.submit(other.bytes, { waitForCommit: true });
  const errors: unknown[] = [];
  const anchorer = new BatchAnchorer({ chain: client, leafLog, privateKey: chain.privateKey, chainId: () => Promise.resolve(chain.genesis.chainId), log: (_l, _m, f) => errors.push(f) });
  await anchorer.anchorPending();
  t.equal(leafLog.unanchoredBatches().length, 1, 'the batch stays unanchored');
  t.equal(anchorer.failures, 1);
  t.match(JSON.stringify(errors), /another root/, 'and the reason is logged');
});
