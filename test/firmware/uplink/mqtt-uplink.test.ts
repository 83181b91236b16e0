// Tests for the MQTT uplink against a private Mosquitto: delivery and PUBACK-then-remove, state/health topics,
// unauthorised addresses, broker refusals (MQTT 5 reason codes), reconnect backoff, graceful stop.
import t from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectAsync } from 'mqtt';
import { SqliteOutbox } from '../../../firmware/outbox/sqlite-outbox.js';
import { MqttUplink, type UplinkEvent } from '../../../firmware/uplink/mqtt-uplink.js';
import { deviceTopics } from '../../../firmware/mqtt-topics.js';
import { freePort, startMosquitto } from './fixtures/mosquitto.js';
import { startTcpProxy } from './fixtures/tcp-proxy.js';
import { dtcRecord, idOf, keyProviderFor, keysFor, poolAddresses, snapshotRecord } from './fixtures/test-identity.js';
import { collectUplinks } from './fixtures/uplink-collector.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const dir = mkdtempSync(join(tmpdir(), 'carchain-uplink-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
let fileNo = 0;
const freshOutbox = () => SqliteOutbox.open({ path: join(dir, `outbox-${fileNo++}.sqlite`) });
const [A, B, C] = [poolAddresses[0]!, poolAddresses[1]!, poolAddresses[2]!];

async function until(what: string, predicate: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
    await sleep(20);
  }
}

/** Every id in the outbox, batch by batch. */
function queuedIds(outbox: SqliteOutbox): Set<string> {
  const ids = new Set<string>();
  for (let batch = outbox.peekBatch({ maxRecords: 100, maxBytes: 1 << 22 }); batch.length > 0; batch = outbox.peekBatch({ maxRecords: 100, maxBytes: 1 << 22, excludeIds: ids })) {
    for (const e of batch) ids.add(e.id);
  }
  return ids;
}

async function retainedValue(url: string, topic: string): Promise<string | null> {
  const client = await connectAsync(url, { clientId: `reader-${Math.random().toString(16).slice(2)}` });
  const got = new Promise<string>((resolve) => client.on('message', (_t, payload) => resolve(payload.toString())));
  await client.subscribeAsync(topic, { qos: 1 });
  const value = await Promise.race([got, sleep(1000).then(() => null)]);
  await client.endAsync();
  return value;
}

t.test('delivers signed messages of one address each, removes records only after PUBACK, publishes state and health', async (t) => {
  const broker = await startMosquitto({ dir: mkdtempSync(join(dir, 'broker-')) });
  t.teardown(() => broker.stop());
  const deviceId = 'dongle-1';
  const topics = deviceTopics(deviceId);
  const collector = await collectUplinks(broker.url, topics.uplink);
  t.teardown(() => collector.close());
  const outbox = freshOutbox();
  t.teardown(() => outbox.close());
  const records = [...Array.from({ length: 10 }, (_, n) => dtcRecord(A, 30, n)), ...Array.from({ length: 5 }, (_, n) => snapshotRecord(B, 30, n, 100))];
  outbox.enqueue(records);

  const events: UplinkEvent[] = [];
  const uplink = new MqttUplink({ url: broker.url, deviceId, outbox, keys: keyProviderFor([0, 1]), maxRecordsPerMessage: 4, healthIntervalMs: 100 });
  uplink.onEvent((e) => {
    events.push(e);
    // At the publish callback (PUBACK) the records are gone from the outbox, not before.
    if (e.type === 'published' && e.ids.some((id) => queuedIds(outbox).has(id))) t.fail('record still queued after PUBACK');
  });
  await uplink.start();
  await uplink.whenConnected(5000);
  await until('all records delivered', () => collector.counts.size === records.length);
  await until('outbox empty', () => outbox.stats().records === 0);
  t.same([...collector.counts.keys()].sort(), records.map(idOf).sort());
  t.equal(collector.maxRecordsPerMessage, 4);
  t.equal(collector.messages, 3 + 2, 'A: 4+4+2, B: 4+1 — one address per message');
  t.same(collector.problems, []);
  t.equal(events.filter((e) => e.type === 'published').length, 5);
  const stats = uplink.stats();
  t.match(stats, { state: 'running', connected: true, connects: 1, publishedMessages: 5, publishedRecords: 15, inFlightMessages: 0, blockedAddresses: [] });
  t.ok(stats.lastPublishAt !== null);

  t.equal(await retainedValue(broker.url, topics.state), 'online');
  // Health is refreshed every 100 ms; read it until it reflects the finished drain.
  let health: Record<string, unknown> = {};
  for (let i = 0; i < 50 && !JSON.stringify(health).includes('"publishedRecords":15'); i++) {
    health = JSON.parse((await retainedValue(broker.url, topics.health)) ?? '{}') as Record<string, unknown>;
  }
  t.match(health, { version: 1, deviceId, uplink: { connected: true, publishedRecords: 15 }, outbox: { records: 0, addresses: 0 } });
  t.notOk(JSON.stringify(health).includes(A), 'no pool address in the health report');

  t.same(await uplink.stop(), { drained: true, abandonedMessages: 0 });
  t.same(await uplink.stop(), { drained: true, abandonedMessages: 0 }, 'stop is idempotent');
  t.equal(uplink.stats().state, 'stopped');
  t.equal(await retainedValue(broker.url, topics.state), 'offline', 'a graceful stop publishes offline');
});

t.test('records of an address without a usable authorisation stay queued and are reported; others flow', async (t) => {
  const broker = await startMosquitto({ dir: mkdtempSync(join(dir, 'broker-')) });
  t.teardown(() => broker.stop());
  const deviceId = 'dongle-2';
  const collector = await collectUplinks(broker.url, deviceTopics(deviceId).uplink);
  t.teardown(() => collector.close());
  const outbox = freshOutbox();
  t.teardown(() => outbox.close());
  const expired = keysFor(2, { notBefore: Date.now() - 10 * 86_400_000, notAfter: Date.now() - 86_400_000 });
  let knowB = false;
  const keys = (address: string) => (address === A ? keysFor(0) : address === B && knowB ? keysFor(1) : address === C ? expired : null);
  // B's and C's records are the oldest: they must not hold up A's.
  outbox.enqueue([dtcRecord(B, 31, 1), dtcRecord(C, 31, 1), dtcRecord(A, 31, 1), dtcRecord(A, 31, 2)]);
  const blocked: string[] = [];
  const uplink = new MqttUplink({ url: broker.url, deviceId, outbox, keys, blockedRetryMs: 60_000 });
  uplink.onEvent((e) => {
    if (e.type === 'blocked') blocked.push(`${e.address === B ? 'B' : 'C'}: ${e.reason}`);
  });
  t.teardown(() => uplink.stop());
  await uplink.start();
  await until('A delivered', () => collector.counts.size === 2);
  await until("A's PUBACK handled", () => outbox.stats().records === 2);
  t.same(outbox.stats().byAddress.map((a) => a.address).sort(), [B, C].sort(), "B's and C's records are still in the outbox");
  t.match(blocked.sort(), [/^B: no pool authorisation/, /^C: AUTH_EXPIRED/]);
  t.same(uplink.stats().blockedAddresses.map((b) => b.address).sort(), [B, C].sort());

  knowB = true;
  uplink.keysChanged();
  await until('B delivered after keysChanged()', () => collector.counts.size === 3);
  await until("B's PUBACK handled", () => outbox.stats().records === 1);
  t.same(outbox.stats().byAddress.map((a) => a.address), [C]);
});

t.test('a publish the broker refuses (MQTT 5 PUBACK reason code) leaves the records queued', async (t) => {
  const brokerDir = mkdtempSync(join(dir, 'broker-'));
  const acl = join(brokerDir, 'acl');
  // Anonymous clients may write state and health, but not uplink data.
  writeFileSync(acl, 'topic readwrite carchain/v1/devices/+/state\ntopic readwrite carchain/v1/devices/+/health\n');
  const broker = await startMosquitto({ dir: brokerDir, listenerLines: ['allow_anonymous true', `acl_file ${acl}`] });
  t.teardown(() => broker.stop());
  const outbox = freshOutbox();
  t.teardown(() => outbox.close());
  outbox.enqueue([dtcRecord(A, 32, 1), dtcRecord(A, 32, 2)]);
  const failures: string[] = [];
  const uplink = new MqttUplink({ url: broker.url, deviceId: 'dongle-3', outbox, keys: keyProviderFor([0]) });
  uplink.onEvent((e) => {
    if (e.type === 'publish-failed') failures.push(e.error);
  });
  t.teardown(() => uplink.stop());
  await uplink.start();
  await until('a refused publish', () => failures.length > 0);
  t.match(failures[0], /not authori[sz]ed/i);
  t.equal(outbox.stats().records, 2, 'nothing removed');
  t.match(uplink.stats(), { publishFailures: 1, publishedRecords: 0, lastError: /publish refused/ });
});

t.test('a broker that never acknowledges: records stay, stop() gives up after its timeout and says so', async (t) => {
  const broker = await startMosquitto({ dir: mkdtempSync(join(dir, 'broker-')) });
  t.teardown(() => broker.stop());
  const outbox = freshOutbox();
  t.teardown(() => outbox.close());
  const uplink = new MqttUplink({ url: broker.url, deviceId: 'dongle-4', outbox, keys: keyProviderFor([0]), maxRecordsPerMessage: 2, maxInFlight: 2 });
  await uplink.start();
  await uplink.whenConnected(5000);
  broker.signal('SIGSTOP'); // frozen: the socket stays open, no PUBACK ever comes
  outbox.enqueue(Array.from({ length: 6 }, (_, n) => dtcRecord(A, 33, n)));
  await until('two messages in flight', () => uplink.stats().inFlightMessages === 2);
  await sleep(200);
  t.equal(uplink.stats().inFlightMessages, 2, 'the window is full and stays full');
  t.equal(outbox.stats().records, 6, 'no record left the outbox without a PUBACK');
  const result = await uplink.stop({ timeoutMs: 300 });
  t.same(result, { drained: false, abandonedMessages: 2 });
  t.equal(outbox.stats().records, 6, 'they are still there for the next start');
  broker.signal('SIGCONT');
});

t.test('a connection lost with messages in flight: MQTT.js re-sends them on the new connection, then they leave the outbox', async (t) => {
  const broker = await startMosquitto({ dir: mkdtempSync(join(dir, 'broker-')) });
  t.teardown(() => broker.stop());
  const proxy = await startTcpProxy(broker.port);
  t.teardown(() => proxy.close());
  const deviceId = 'dongle-6';
  const collector = await collectUplinks(broker.url, deviceTopics(deviceId).uplink);
  t.teardown(() => collector.close());
  const outbox = freshOutbox();
  t.teardown(() => outbox.close());
  const uplink = new MqttUplink({ url: `mqtt://127.0.0.1:${proxy.port}`, deviceId, outbox, keys: keyProviderFor([0]), maxRecordsPerMessage: 2, maxInFlight: 2, reconnect: { initialMs: 50, maxMs: 200 } });
  t.teardown(() => uplink.stop());
  await uplink.start();
  await uplink.whenConnected(5000);
  proxy.blackhole(true);
  const { ids } = outbox.enqueue(Array.from({ length: 7 }, (_, n) => dtcRecord(A, 35, n)));
  await until('two messages in flight', () => uplink.stats().inFlightMessages === 2);
  await sleep(100);
  t.equal(collector.messages, 0, 'nothing reached the broker');
  proxy.blackhole(false);
  proxy.cutAll();
  await until('outbox drained over the new connection', () => outbox.stats().records === 0);
  t.same(await collector.waitForAll(ids, 5000), []);
  t.match(uplink.stats(), { connects: 2, inFlightMessages: 0, publishedRecords: 7 });
});

t.test('reconnects with capped exponential backoff, and delivers the backlog once the broker appears', async (t) => {
  const port = await freePort();
  const outbox = freshOutbox();
  t.teardown(() => outbox.close());
  outbox.enqueue([dtcRecord(A, 34, 1), dtcRecord(A, 34, 2)]);
  const delays: number[] = [];
  const uplink = new MqttUplink({
    url: `mqtt://127.0.0.1:${port}`,
    deviceId: 'dongle-5',
    outbox,
    keys: keyProviderFor([0]),
    reconnect: { initialMs: 40, maxMs: 320 },
    random: () => 0, // no jitter: the exact schedule
  });
  uplink.onEvent((e) => {
    if (e.type === 'reconnect-scheduled') delays.push(e.delayMs);
  });
  t.teardown(() => uplink.stop());
  await uplink.start();
  await until('six failed attempts', () => delays.length >= 6);
  t.same(delays.slice(0, 6), [40, 80, 160, 320, 320, 320]);
  t.equal(uplink.stats().connected, false);
  outbox.enqueue([dtcRecord(A, 34, 3)]);
  t.equal(outbox.stats().records, 3, 'while the broker is away the outbox just grows');

  const broker = await startMosquitto({ dir: mkdtempSync(join(dir, 'broker-')), port });
  t.teardown(() => broker.stop());
  const collector = await collectUplinks(broker.url, deviceTopics('dongle-5').uplink);
  t.teardown(() => collector.close());
  await uplink.whenConnected(5000);
  await until('backlog delivered', () => outbox.stats().records === 0);
  t.ok(uplink.stats().reconnectAttempts >= 6);
});

t.test('options are checked', (t) => {
  const outbox = freshOutbox();
  t.teardown(() => outbox.close());
  t.throws(() => new MqttUplink({ url: 'mqtt://127.0.0.1:1', deviceId: 'bad/id', outbox, keys: () => null }), RangeError);
  t.throws(() => new MqttUplink({ url: 'mqtt://127.0.0.1:1', deviceId: 'ok', outbox, keys: () => null, maxInFlight: 17 }), RangeError);
  t.end();
});
