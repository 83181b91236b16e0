// Fault test: the producer (outbox + uplink) is killed with SIGKILL at random moments, 25 times, on one outbox file.
//
// Asserts at-least-once delivery end to end: every record the child printed as committed reaches a
// real Mosquitto subscriber, the file passes PRAGMA integrity_check after every kill, and the outbox
// is empty once a final run drains it. Duplicates are expected (a kill between PUBACK and remove())
// and only reported. Set CARCHAIN_FAULT_SEED to replay a run's kill schedule.
import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectAsync } from 'mqtt';
import { checkOutboxFile } from '../../../firmware/outbox/outbox-file.js';
import { SqliteOutbox } from '../../../firmware/outbox/sqlite-outbox.js';
import { deviceTopics } from '../../../firmware/mqtt-topics.js';
import { startMosquitto } from './fixtures/mosquitto.js';
import { startProducer } from './fixtures/producer-process.js';
import { collectUplinks, duplicateSummary } from './fixtures/uplink-collector.js';

const KILLS = 25;

/** mulberry32: a small seeded PRNG so a failing kill schedule can be replayed. */
function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = Math.imul(a ^ (a >>> 15), 1 | a);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

t.test(`kill -9 the producer ${KILLS} times: nothing committed is lost, the file stays sound`, async (t) => {
  const seed = Number(process.env.CARCHAIN_FAULT_SEED ?? Date.now() % 2 ** 31);
  t.comment(`kill schedule seed ${seed} (CARCHAIN_FAULT_SEED to replay)`);
  const random = seededRandom(seed);
  const dir = mkdtempSync(join(tmpdir(), 'carchain-kill9-'));
  const broker = await startMosquitto({ dir });
  t.teardown(async () => {
    await broker.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  const deviceId = 'kill9-dongle';
  const collector = await collectUplinks(broker.url, deviceTopics(deviceId).uplink, { clientId: 'kill9-gateway' });
  t.teardown(() => collector.close());
  const db = join(dir, 'outbox.sqlite');
  const base = { db, url: broker.url, deviceId, authorised: [0, 1, 2], produceTo: [0, 1, 2], maxRecordsPerMessage: 16 };

  const committed = new Set<string>();
  const runs: string[] = [];
  for (let run = 0; run < KILLS; run++) {
    const producer = startProducer({ ...base, mode: 'produce' });
    t.teardown(() => producer.child.kill('SIGKILL'));
    await producer.waitFor('ready');
    const lifeMs = 100 + Math.floor(random() * 600);
    await new Promise((r) => setTimeout(r, lifeMs));
    producer.child.kill('SIGKILL');
    const { signal } = await producer.exited;
    t.equal(signal, 'SIGKILL', `run ${run} died by SIGKILL`);
    for (const id of producer.committed) committed.add(id);
    const check = checkOutboxFile(db);
    t.ok(check.ok, `integrity_check after kill ${run + 1}`, { problems: check.problems });
    runs.push(`${lifeMs}ms/${producer.committed.length}`);
  }
  t.comment(`runs (life after ready / records committed): ${runs.join(' ')}`);
  t.ok(committed.size > KILLS, `${committed.size} records committed across ${KILLS} killed runs`);

  const drain = startProducer({ ...base, mode: 'drain' });
  t.teardown(() => drain.child.kill('SIGKILL'));
  await drain.waitFor('drained', 120_000);
  t.equal((await drain.exited).code, 0);

  const outbox = SqliteOutbox.open({ path: db });
  t.equal(outbox.stats().records, 0, 'the outbox is empty after draining');
  t.same(outbox.integrityCheck(), []);
  outbox.close();

  const missing = await collector.waitForAll(committed, 20_000);
  t.same(missing, [], 'every committed record was received at least once');
  t.same(collector.problems, [], 'every message decoded and verified');
  t.ok(collector.maxRecordsPerMessage <= 16, `at most 16 records per message (saw ${collector.maxRecordsPerMessage})`);
  const dup = duplicateSummary(collector.counts);
  const received = [...collector.counts.values()].reduce((a, b) => a + b, 0);
  t.comment(`received ${collector.counts.size} distinct records in ${collector.messages} messages (${received} copies); duplicates: ${dup.duplicatedIds} ids, ${dup.extraCopies} extra copies (absorbed by the gateway's de-dup)`);
});

t.test('the retained state is online while running, and the will turns it offline after kill -9', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'carchain-will-'));
  const broker = await startMosquitto({ dir });
  t.teardown(async () => {
    await broker.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  const deviceId = 'will-dongle';
  const producer = startProducer({ db: join(dir, 'outbox.sqlite'), url: broker.url, deviceId, mode: 'produce', authorised: [0], produceTo: [0], intervalMs: 50 });
  t.teardown(() => producer.child.kill('SIGKILL'));
  await producer.waitFor('connected');
  const retained = async () => {
    const client = await connectAsync(broker.url, { clientId: `state-reader-${Date.now()}` });
    const state = new Promise<string>((resolve) => client.on('message', (_topic, payload) => resolve(payload.toString())));
    await client.subscribeAsync(deviceTopics(deviceId).state, { qos: 1 });
    const value = await Promise.race([state, new Promise<string>((r) => setTimeout(() => r('(none)'), 3000))]);
    await client.endAsync();
    return value;
  };
  // The online message is published right after CONNACK; give it a moment to land.
  await new Promise((r) => setTimeout(r, 200));
  t.equal(await retained(), 'online');
  producer.child.kill('SIGKILL');
  await producer.exited;
  // Mosquitto notices the dead socket at once (RST) and publishes the will.
  let state = '';
  for (let i = 0; i < 20 && state !== 'offline'; i++) {
    state = await retained();
    if (state !== 'offline') await new Promise((r) => setTimeout(r, 100));
  }
  t.equal(state, 'offline', 'the retained will says offline');
});
