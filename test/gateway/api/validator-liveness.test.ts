// Validator liveness as the dashboard computes it, from real chains: a single embedded validator, and four validator processes with one killed -9.
import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ValidatorLiveness } from '../../../gateway/api/validator-liveness.js';
import { ChainClient } from '../../../gateway/chain/client/chain-client.js';
import { startLocalValidator } from '../../../gateway/chain/node/local-validator.js';
import { Localnet } from '../../../tools/chain/localnet.js';

t.test('validator liveness from a real validator: last signed height follows the chain, no misses', async (t) => {
  t.setTimeout(60_000);
  const dir = mkdtempSync(join(tmpdir(), 'carchain-liveness-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const validator = await startLocalValidator({ dataDir: dir, blockIntervalMs: 50, emptyBlockIntervalMs: 100 });
  t.teardown(() => validator.stop());
  const client = new ChainClient([validator.rpc.url]);
  while ((await client.status()).height < 5) await new Promise((r) => setTimeout(r, 50));
  const liveness = new ValidatorLiveness(client, 4, 3);
  const first = await liveness.refresh();
  const entry = first.validators[0]!;
  t.equal(entry.address, validator.node.address);
  t.equal(entry.lastSignedHeight, first.height);
  t.equal(entry.expected, 3, 'a first refresh reads only the last blocksPerRefresh blocks');
  t.equal(entry.missed, 0);
  while ((await client.status()).height < first.height + 3) await new Promise((r) => setTimeout(r, 50));
  const later = await liveness.refresh();
  t.ok(later.height >= first.height + 3);
  t.equal(later.validators[0]!.lastSignedHeight, later.height);
  t.equal(later.validators[0]!.expected, 4, 'the window holds at most windowBlocks blocks');
});

t.test('four validators, one killed -9: it stops signing and its misses count; the other three sign every block', async (t) => {
  t.setTimeout(240_000);
  const net = await new Localnet(4).create();
  t.teardown(() => net.close());
  net.startAll();
  await net.waitForHeight(3, 90_000);
  const liveness = new ValidatorLiveness(net.client(0), 100, 100);
  const healthy = await liveness.refresh();
  t.same(healthy.validators.map((v) => v.address).sort(), [0, 1, 2, 3].map((i) => net.address(i)).sort(), 'every validator listed');
  t.ok(healthy.validators.every((v) => v.power > 0 && v.expected === healthy.height), 'each was expected at every block read');

  await net.kill(3);
  const killedAt = await net.maxHeight([0, 1, 2]);
  await net.waitForHeight(killedAt + 4, 90_000, [0, 1, 2]);
  const after = await liveness.refresh();
  const dead = after.validators.find((v) => v.address === net.address(3))!;
  t.ok(dead.lastSignedHeight === null || dead.lastSignedHeight <= killedAt + 1, `the killed validator signed nothing after ${killedAt + 1} (last: ${dead.lastSignedHeight})`);
  t.ok(dead.missed >= after.height - killedAt - 1, `its misses (${dead.missed}) cover the blocks since (${after.height - killedAt - 1})`);
  // 3 of 4 equal powers are the least that commit: every commit after the kill holds all three.
  for (const i of [0, 1, 2]) {
    const v = after.validators.find((e) => e.address === net.address(i))!;
    t.equal(v.lastSignedHeight, after.height, `validator ${i} signed the latest block`);
  }
});
