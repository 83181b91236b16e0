// Fault test: the broker is stopped (SIGTERM) while the producer keeps committing records, then restarted on the same port.
//
// The broker runs with persistence so the stand-in gateway's persistent session (clean=false) and its
// queued QoS 1 messages survive the restart, as a production broker's would; without it, messages
// published between the broker coming back and the gateway resubscribing would be dropped by the
// broker itself, which says nothing about the device. What is under test: the outbox grows while the
// broker is away, the uplink reconnects with backoff, re-sends what was in flight, and drains the rest.
import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkOutboxFile } from '../../../firmware/outbox/outbox-file.js';
import { SqliteOutbox } from '../../../firmware/outbox/sqlite-outbox.js';
import { deviceTopics } from '../../../firmware/mqtt-topics.js';
import { startMosquitto } from './fixtures/mosquitto.js';
import { startProducer } from './fixtures/producer-process.js';
import { collectUplinks, duplicateSummary } from './fixtures/uplink-collector.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

t.test('broker stopped and restarted mid-production: nothing committed is lost', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'carchain-broker-restart-'));
  const broker = await startMosquitto({ dir, persistence: true });
  t.teardown(async () => {
    await broker.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  const deviceId = 'restart-dongle';
  const collector = await collectUplinks(broker.url, deviceTopics(deviceId).uplink, { clientId: 'restart-gateway', clean: false, protocolVersion: 4 });
  t.teardown(() => collector.close());
  const db = join(dir, 'outbox.sqlite');
  const base = { db, url: broker.url, deviceId, authorised: [0, 1], produceTo: [0, 1], intervalMs: 5 };

  const producer = startProducer({ ...base, mode: 'produce' });
  t.teardown(() => producer.child.kill('SIGKILL'));
  await producer.waitFor('connected');
  await sleep(800);
  const beforeStop = producer.committed.length;
  await broker.stop('SIGTERM');
  t.comment(`broker stopped after ${beforeStop} records`);
  await sleep(1500);
  const duringOutage = producer.committed.length - beforeStop;
  t.ok(duringOutage > 0, `${duringOutage} records committed while the broker was down`);
  await broker.restart();
  for (let i = 0; i < 300 && producer.connects < 2; i++) await sleep(50);
  t.ok(producer.connects >= 2, `the uplink reconnected (${producer.connects} CONNACKs)`);
  await sleep(500); // and keeps producing for a while on the new connection
  // The same process drains: its reconnected session must re-send what was in flight and send the backlog.
  producer.child.kill('SIGUSR1');
  await producer.waitFor('drained', 60_000);
  t.equal((await producer.exited).code, 0, 'drained and stopped gracefully');
  t.ok(checkOutboxFile(db).ok);
  const outbox = SqliteOutbox.open({ path: db });
  t.equal(outbox.stats().records, 0, 'the outbox is empty');
  outbox.close();
  const missing = await collector.waitForAll(producer.committed, 20_000);
  t.same(missing, [], `all ${producer.committed.length} committed records were received`);
  t.same(collector.problems, []);
  const dup = duplicateSummary(collector.counts);
  t.comment(`${collector.messages} messages; duplicates: ${dup.duplicatedIds} ids, ${dup.extraCopies} extra copies`);
});
