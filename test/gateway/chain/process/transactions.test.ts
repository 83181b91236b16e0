// Transactions through real validator processes: invalid ones refused with reasons and never in a block; anchors proven offline.
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { buildTx } from '../../../../protocol/chain/transactions.js';
import { encodeAmountBody, encodeBatchAnchorBody, encodeGrantBody, encodeLockKeySetBody } from '../../../../protocol/chain/tx-bodies.js';
import { sha256 } from '../../../../protocol/hash.js';
import { leafHash, MerkleTree } from '../../../../protocol/merkle.js';
import { utf8 } from '../../../../protocol/wire.js';
import { ChainClientError } from '../../../../gateway/chain/client/chain-client.js';
import { recordProof } from '../../../../gateway/chain/light/proof-file.js';
import { CLI, Localnet } from '../../../../tools/chain/localnet.js';

const verifyCli = (file: string, genesis: string): { status: number | null; out: string } => {
  const r = spawnSync(process.execPath, ['--import', 'tsx', CLI, 'proof', 'verify', file, '--genesis', genesis, '--json'], { encoding: 'utf8' });
  return { status: r.status, out: r.stdout + r.stderr };
};

t.test('invalid transactions are refused with reasons; anchors and records are proven offline across a validator-set change', async (t) => {
  const net = await new Localnet(4).create();
  t.teardown(() => net.close());
  net.startAll();
  await net.waitForHeight(2);
  const chainId = 'carchain-test';
  const key0 = net.privateKey(0);
  const client = net.client(1);
  // Well inside the 1 h lifetime: the replay step runs minutes later on a loaded machine and must meet REPLAY, not EXPIRED.
  const soon = (): number => Date.now() + 20 * 60_000;
  const rejected = async (tx: Uint8Array, reason: string, what: string): Promise<void> => {
    await t.rejects(client.submit(tx, { waitForCommit: true, timeoutMs: 5000 }), { code: 'TX_REJECTED', reason }, what);
  };

  // A validator-set change (node 0 bonds 50 more) so the proof must follow it.
  const stake = buildTx({ type: 'Stake', chainId, signerPriv: key0, expiresAt: soon(), body: encodeAmountBody({ amount: 50 }) });
  const staked = await client.submit(stake.bytes, { waitForCommit: true });
  t.ok(staked.height! > 0, `stake committed at ${staked.height}`);

  // Five records in one batch, anchored by validator 0.
  const records = [0, 1, 2, 3, 4].map((i) => utf8(`record ${i}`));
  const tree = new MerkleTree(records.map((r) => leafHash(r)));
  const anchor = buildTx({ type: 'BatchAnchor', chainId, signerPriv: key0, expiresAt: soon(), body: encodeBatchAnchorBody({ batchId: 7, root: tree.root, leafCount: 5 }) });
  const anchored = await client.submit(anchor.bytes, { waitForCommit: true });
  t.ok(anchored.height! > staked.height!, 'anchor committed after the set change');

  const proof = await net.client(2).txProof(anchored.txId);
  t.ok(proof.hops.length >= 2, `proof follows the set change (${proof.hops.length} hops)`);
  const dir = net.dir;
  const txFile = join(dir, 'tx-proof.json');
  writeFileSync(txFile, JSON.stringify(proof));
  const ok = verifyCli(txFile, net.init.genesisFile);
  t.equal(ok.status, 0, `tx proof verifies offline: ${ok.out}`);
  t.match(JSON.parse(ok.out), { valid: true, kind: 'tx', txType: 'BatchAnchor', height: anchored.height });

  const rec = recordProof(proof, { recordBytes: records[3]!, leafHash: leafHash(records[3]!), batchId: 7, leafIndex: 3, treeSize: 5, path: tree.inclusionProof(3) });
  const recFile = join(dir, 'record-proof.json');
  writeFileSync(recFile, JSON.stringify(rec));
  t.equal(verifyCli(recFile, net.init.genesisFile).status, 0, 'record proof verifies offline');

  // Tampering anywhere fails verification (exit status ≠ 0).
  const tamper = (name: string, f: (p: typeof rec) => void): void => {
    const copy = structuredClone(rec);
    f(copy);
    const file = join(dir, `bad-${name}.json`);
    writeFileSync(file, JSON.stringify(copy));
    const r = verifyCli(file, net.init.genesisFile);
    t.not(r.status, 0, `tampered ${name} is refused (${r.out.trim().split('\n')[0]})`);
  };
  const flip = (hex: string, at = 10): string => hex.slice(0, at) + (hex[at] === '0' ? '1' : '0') + hex.slice(at + 1);
  tamper('record', (p) => { p.record!.recordBytes = Buffer.from('record 9').toString('hex'); p.record!.leafHash = Buffer.from(leafHash(utf8('record 9'))).toString('hex'); });
  tamper('leaf index', (p) => { p.record!.leafIndex = 2; });
  tamper('tx bytes', (p) => { p.tx.bytes = flip(p.tx.bytes, 40); });
  tamper('header', (p) => { p.hops[p.hops.length - 1]!.header = flip(p.hops[p.hops.length - 1]!.header, 80); });
  tamper('commit', (p) => { p.hops[p.hops.length - 1]!.commit = flip(p.hops[p.hops.length - 1]!.commit, 200); });
  tamper('skipped set change', (p) => { p.hops = p.hops.slice(-1); });
  tamper('chain id', (p) => { p.chainId = 'other'; });

  // Invalid transactions: each refused with its reason.
  // A fresh tx: the id does not cover the signature, so a re-signed copy of a committed tx is a REPLAY first.
  const badSig = Uint8Array.from(buildTx({ type: 'BatchAnchor', chainId, signerPriv: key0, expiresAt: soon(), body: encodeBatchAnchorBody({ batchId: 10, root: tree.root, leafCount: 5 }) }).bytes);
  badSig[badSig.length - 5]! ^= 1;
  await rejected(badSig, 'BAD_SIGNATURE', 'bad signature');
  await rejected(anchor.bytes, 'REPLAY', 'replay of a committed tx');
  await rejected(buildTx({ type: 'BatchAnchor', chainId, signerPriv: key0, expiresAt: Date.now() - 1, body: encodeBatchAnchorBody({ batchId: 8, root: tree.root, leafCount: 5 }) }).bytes, 'EXPIRED', 'expired');
  await rejected(buildTx({ type: 'BatchAnchor', chainId, signerPriv: key0, expiresAt: soon(), body: encodeBatchAnchorBody({ batchId: 7, root: sha256(utf8('x')), leafCount: 1 }) }).bytes, 'DUPLICATE_BATCH', 'duplicate batch id');
  const stranger = sha256(utf8('not a validator'));
  await rejected(buildTx({ type: 'BatchAnchor', chainId, signerPriv: stranger, expiresAt: soon(), body: encodeBatchAnchorBody({ batchId: 1, root: tree.root, leafCount: 5 }) }).bytes, 'NOT_ANCHORER', 'non-anchorer');
  await rejected(buildTx({ type: 'LockKeySet', chainId, signerPriv: stranger, expiresAt: soon(), body: encodeLockKeySetBody({ vidHash: sha256(utf8('vin')), epoch: 1, keySet: utf8('ks') }) }).bytes, 'UNKNOWN_VEHICLE', 'lock key set for an unknown vehicle');
  await rejected(buildTx({
    type: 'Grant', chainId, signerPriv: stranger, expiresAt: soon(),
    body: encodeGrantBody({ kind: 'grant', grantee: net.address(1), granteeRsaFingerprint: new Uint8Array(32), fromDay: 20261101, toDay: 20261130, formats: ['no-such-format'], resell: false, expiresAt: 0, revokes: null }),
  }).bytes, 'UNKNOWN_FORMAT', 'grant of an unknown format');
  await rejected(buildTx({ type: 'BatchAnchor', chainId: 'other-chain', signerPriv: key0, expiresAt: soon(), body: encodeBatchAnchorBody({ batchId: 9, root: tree.root, leafCount: 5 }) }).bytes, 'WRONG_CHAIN', 'wrong chain');
  await t.rejects(client.submit(utf8('garbage')), ChainClientError, 'garbage is refused');

  // None of the refused transactions is in any block.
  const height = await net.maxHeight([1]);
  let txs = 0;
  for (let h = 1; h <= height; h++) txs += (await client.block(h)).txs.length;
  t.equal(txs, 2, 'exactly the two valid transactions are in blocks');
  const validators = await client.query<{ address: string; power: number }[]>('validators');
  t.equal(validators.find((v) => v.address === net.address(0))?.power, 150, 'the stake raised node 0 to power 150');
});
