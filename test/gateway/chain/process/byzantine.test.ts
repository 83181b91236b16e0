// A double-signing validator is caught and slashed; a validator killed -9 mid-round again and again never double-signs.
import t from 'tap';
import { Localnet } from '../../../../tools/chain/localnet.js';

interface ValidatorJson { address: string; power: number }

t.test('a validator that double-signs prevotes: evidence committed, stake slashed, removed from the set; the rest go on', async (t) => {
  const net = await new Localnet(4).create((i, config) => {
    if (i === 3) config.misbehaviour = { equivocatePrevotes: true };
  });
  t.teardown(() => net.close());
  net.startAll();
  const liar = net.address(3);
  const deadline = Date.now() + 90_000;
  let validators: ValidatorJson[] = [];
  while (Date.now() < deadline) {
    validators = await net.client(0).query<ValidatorJson[]>('validators').catch(() => []);
    if (validators.length === 3) break;
    await new Promise((r) => setTimeout(r, 300));
  }
  t.equal(validators.length, 3, 'the set shrank to three');
  t.notOk(validators.some((v) => v.address === liar), 'the double-signer is no longer a validator');
  const account = await net.client(0).query<{ bonded: number; balance: number }>(`account/${liar}`);
  t.equal(account.bonded, 0, 'its bonded stake is slashed');
  const h = await net.maxHeight([0, 1, 2]);
  let evidence = 0;
  for (let x = 1; x <= h; x++) evidence += (await net.client(0).block(x)).txs.length;
  t.ok(evidence >= 1, `evidence transaction(s) in blocks: ${evidence}`);
  await net.waitForHeight(h + 3, 60_000, [0, 1, 2]);
  t.pass('the three honest validators keep committing');
  t.equal(await net.assertNoFork(h + 3, [0, 1, 2]), h + 3);
});

t.test('kill -9 a validator at random moments 10 times: it never double-signs and the chain never forks', async (t) => {
  const net = await new Localnet(4).create();
  t.teardown(() => net.close());
  net.startAll();
  await net.waitForHeight(2);
  for (let k = 0; k < 10; k++) {
    await new Promise((r) => setTimeout(r, 300 + Math.floor(Math.random() * 900)));
    await net.kill(0);
    net.start(0);
  }
  const target = (await net.maxHeight([1, 2, 3])) + 2;
  await net.waitForHeight(target, 90_000, [0, 1, 2, 3]);
  const logs = net.logs.flat();
  t.equal(logs.filter((l) => l.includes('equivocation detected')).length, 0, 'no peer saw a conflicting vote');
  const validators = await net.client(1).query<ValidatorJson[]>('validators');
  t.equal(validators.length, 4, 'nobody was slashed');
  t.equal(await net.assertNoFork(target, [0, 1, 2, 3]), target, `identical blocks at heights 1..${target}`);
});
