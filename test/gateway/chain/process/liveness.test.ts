// Four validator processes on loopback: kill -9 one (progress), a second (halt), restart both (resume, catch up); no fork ever.
import t from 'tap';
import { Localnet } from '../../../../tools/chain/localnet.js';

t.test('kill -9 one keeps committing, two halts, restart resumes and catches up, no fork', async (t) => {
  const net = await new Localnet(4).create();
  t.teardown(() => net.close());
  net.startAll();
  await net.waitForHeight(3);
  await net.kill(3);
  const afterOne = await net.maxHeight();
  await net.waitForHeight(afterOne + 3, 60_000);
  t.pass(`3 of 4 keep committing (from ${afterOne} to ≥ ${afterOne + 3})`);
  await net.kill(2);
  await new Promise((r) => setTimeout(r, 1000));
  const stuck = await net.maxHeight();
  await new Promise((r) => setTimeout(r, 4000));
  t.equal(await net.maxHeight(), stuck, 'no block commits with 2 of 4');
  net.start(2);
  net.start(3);
  await net.waitForHeight(stuck + 3, 90_000, [0, 1, 2, 3]);
  t.pass('progress resumes once 3 are up, and the restarted nodes catch up');
  const common = Math.min(...(await net.heights([0, 1, 2, 3])));
  t.equal(await net.assertNoFork(common, [0, 1, 2, 3]), common, `identical block ids at heights 1..${common}`);
});

t.test('pause (SIGSTOP) one validator, resume: it catches up; no fork', async (t) => {
  const net = await new Localnet(4).create();
  t.teardown(() => net.close());
  net.startAll();
  await net.waitForHeight(2);
  net.pause(1);
  const at = await net.maxHeight([0, 2, 3]);
  await net.waitForHeight(at + 4, 60_000, [0, 2, 3]);
  net.resume(1);
  const target = await net.maxHeight([0, 2, 3]);
  await net.waitForHeight(target, 60_000, [1]);
  t.pass('the paused node caught up');
  t.equal(await net.assertNoFork(target, [0, 1, 2, 3]), target);
});

t.test('partition 2|2 halts, healing resumes; message drops and delays do not fork', async (t) => {
  const net = await new Localnet(4).create();
  t.teardown(() => net.close());
  net.startAll();
  await net.waitForHeight(2);
  const [a, b, c, d] = [0, 1, 2, 3].map((i) => net.address(i));
  await net.setFaults(0, { blocked: [c, d] });
  await net.setFaults(1, { blocked: [c, d] });
  await net.setFaults(2, { blocked: [a, b] });
  await net.setFaults(3, { blocked: [a, b] });
  await new Promise((r) => setTimeout(r, 1000));
  const stuck = await net.maxHeight();
  await new Promise((r) => setTimeout(r, 3000));
  t.equal(await net.maxHeight(), stuck, 'neither half commits alone');
  for (let i = 0; i < 4; i++) await net.setFaults(i, { blocked: [] });
  await net.waitForHeight(stuck + 2, 60_000);
  t.pass('healing the partition resumes progress');
  for (let i = 0; i < 4; i++) await net.setFaults(i, { dropRate: 0.25, delayMs: { min: 0, max: 60 } });
  const lossy = await net.maxHeight();
  await net.waitForHeight(lossy + 4, 90_000);
  t.pass('blocks commit with 25% of frames dropped and up to 60 ms delay');
  for (let i = 0; i < 4; i++) await net.setFaults(i, { dropRate: 0, delayMs: { min: 0, max: 0 } });
  const common = Math.min(...(await net.heights()));
  t.equal(await net.assertNoFork(common), common, `no fork at heights 1..${common}`);
});
