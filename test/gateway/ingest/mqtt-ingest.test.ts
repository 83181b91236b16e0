// Ingest end to end on a private Mosquitto: devices publish, the gateway stores, de-duplicates, logs leaves and counts rejections.
import t from 'tap';
import { spawn, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { connectAsync } from 'mqtt';
import { MqttIngest } from '../../../gateway/ingest/mqtt-ingest.js';
import { UplinkVerifier } from '../../../gateway/ingest/uplink-verifier.js';
import { LeafLog } from '../../../gateway/batches/leaf-log.js';
import { SqliteKvStore } from '../../../gateway/kv/sqlite-kv-store.js';
import { builtinFormatDictionary } from '../../../protocol/builtin-formats.js';
import { devicePoolKey, deviceRoot } from '../../../protocol/device-keys.js';
import { masterKeyFromSeed } from '../../../protocol/hd-keys.js';
import { poolKeyPair, poolMaterialFor } from '../../../protocol/owner-keys.js';
import { authorisePoolKey } from '../../../protocol/pool-authorisation.js';
import { derivePoolAddresses } from '../../../protocol/pools.js';
import { decodeRecord, recordId, sealRecord } from '../../../protocol/record.js';
import { createUplinkMessage, encodeUplinkMessage } from '../../../protocol/uplink.js';
import { startMosquitto } from '../../firmware/uplink/fixtures/mosquitto.js';

const formats = builtinFormatDictionary();
const rsa = generateKeyPairSync('rsa', { modulusLength: 2048, publicExponent: 65537 });
const owner = masterKeyFromSeed(new Uint8Array(64).fill(6));
const addresses = derivePoolAddresses(poolMaterialFor(owner, 0, 4));
const device = deviceRoot(new Uint8Array(32).fill(7));
const now = Date.now();
const auth = authorisePoolKey(poolKeyPair(owner, 0, 0).privateKey, { devicePublicKey: devicePoolKey(device, 0).publicKey, notBefore: now - 86_400_000, notAfter: now + 86_400_000 });
const records = (from: number, n: number) => Array.from({ length: n }, (_, k) => sealRecord(formats.get('dtc'), addresses[0]!, { TIME: 20261121000000 + from + k, SESSION_ID: 1 }, { VID: 'V', stored: [] }, rsa.publicKey));
const message = (from: number, n: number) => encodeUplinkMessage(createUplinkMessage(records(from, n), auth, devicePoolKey(device, 0).privateKey));

t.test('store, de-duplicate, log leaves, count rejections; good traffic keeps flowing', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'carchain-ingest-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const broker = await startMosquitto({ dir });
  t.teardown(() => broker.stop());
  const kv = SqliteKvStore.open({ path: join(dir, 'kv.db') });
  const leafLog = new LeafLog(join(dir, 'leaves.db'));
  const ingest = new MqttIngest({ brokerUrl: broker.url, clientId: 'gw-test', kv, leafLog, verifier: new UplinkVerifier({ formats: () => formats }) });
  await ingest.start();
  t.teardown(async () => {
    await ingest.stop();
    await kv.close();
    leafLog.close();
  });

  const dev = await connectAsync(broker.url, { protocolVersion: 5, clientId: 'device-1' });
  const topic = 'carchain/v1/devices/1Device/uplink';
  const sent: Uint8Array[] = [];
  for (let m = 0; m < 20; m++) {
    const bytes = message(m * 10, 10);
    sent.push(bytes);
    await dev.publishAsync(topic, Buffer.from(bytes), { qos: 1 });
  }
  await dev.publishAsync(topic, Buffer.from(sent[3]!), { qos: 1 }); // a replay
  await dev.publishAsync(topic, Buffer.from('garbage'), { qos: 1 });
  const tampered = Uint8Array.from(sent[4]!);
  tampered[tampered.length - 1] = tampered[tampered.length - 1]! ^ 1;
  await dev.publishAsync(topic, Buffer.from(tampered), { qos: 1 });
  await dev.publishAsync(topic, Buffer.from(message(500, 5)), { qos: 1 }); // good traffic after the bad
  await dev.endAsync();
  // The broker acknowledged the device; the gateway works through its own queue.
  for (let i = 0; i < 100 && ingest.stats().messages < 24; i++) await new Promise((r) => setTimeout(r, 100));

  const stats = ingest.stats();
  t.equal(stats.messages, 24);
  t.equal(stats.accepted, 205, 'every record stored once');
  t.equal(stats.duplicates, 10, 'the replayed message is all duplicates');
  t.equal(stats.rejectedMessages, 2);
  t.equal(stats.rejectedByReason['unsupported-version'] + stats.rejectedByReason.malformed, 1);
  t.equal(stats.rejectedByReason['bad-signature'], 1);
  t.equal(leafLog.pendingLeaves(), 205, 'one leaf per stored record');
  const key = records(0, 1)[0]!.encodedKey;
  const stored = decodeRecord((await kv.get(addresses[0]!, key))!.record);
  t.same(recordId(stored.address, stored.encodedKey), recordId(addresses[0]!, key), 'the stored record is the one sent');
});

t.test('grouped writes: several connections, many messages per KV batch and leaf-log transaction', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'carchain-ingest-group-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const broker = await startMosquitto({ dir });
  t.teardown(() => broker.stop());
  const kv = SqliteKvStore.open({ path: join(dir, 'kv.db') });
  const leafLog = new LeafLog(join(dir, 'leaves.db'));
  const ingest = new MqttIngest({ brokerUrl: broker.url, clientId: 'gw-group', connections: 8, kv, leafLog, verifier: new UplinkVerifier({ formats: () => formats }) });
  await ingest.start();
  t.teardown(async () => {
    await ingest.stop();
    await kv.close();
    leafLog.close();
  });
  t.equal(ingest.protocolVersion, 5);
  const dev = await connectAsync(broker.url, { protocolVersion: 5, clientId: 'device-group' });
  const messages = Array.from({ length: 120 }, (_, m) => message(10_000 + m * 2, 2));
  await Promise.all(messages.map((bytes) => dev.publishAsync('carchain/v1/devices/1Group/uplink', Buffer.from(bytes), { qos: 1 })));
  await dev.endAsync();
  for (let i = 0; i < 200 && ingest.stats().messages < 120; i++) await new Promise((r) => setTimeout(r, 50));
  const stats = ingest.stats();
  t.match(stats, { messages: 120, accepted: 240, storeFailures: 0 });
  t.ok(stats.groups < stats.messages, `${stats.messages} messages written in ${stats.groups} groups`);
  t.equal(leafLog.pendingLeaves(), 240);
});

t.test('grouped acks under kill -9: every published record is stored exactly once after restarts', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'carchain-ingest-kill-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const broker = await startMosquitto({ dir, persistence: true });
  t.teardown(() => broker.stop());
  const script = fileURLToPath(new URL('./fixtures/ingest-process.ts', import.meta.url));
  let accepted = 0;
  const startChild = async (): Promise<ChildProcess> => {
    const child = spawn(process.execPath, ['--import', 'tsx', script, broker.url, dir], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((resolve, reject) => {
      createInterface({ input: child.stdout }).on('line', (line) => {
        if (line === 'ready') resolve();
        if (line.startsWith('stats ')) accepted = (JSON.parse(line.slice(6)) as { accepted: number }).accepted;
      });
      child.once('exit', (code, signal) => reject(new Error(`ingest child exited (${code ?? signal})`)));
    });
    return child;
  };
  const stop = (child: ChildProcess, signal: NodeJS.Signals) => {
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill(signal);
    return exited;
  };
  let child = await startChild();
  t.teardown(() => child.kill('SIGKILL'));

  const total = 600;
  const chunk = 150;
  const messages = Array.from({ length: total }, (_, m) => message(50_000 + m * 3, 3));
  const dev = await connectAsync(broker.url, { protocolVersion: 5, clientId: 'device-kill' });
  // A chunk of messages paced at 10 every 40 ms; each kill lands while its chunk is still arriving.
  const publish = async (from: number) => {
    for (let m = from; m < from + chunk; m += 10) {
      await Promise.all(messages.slice(m, m + 10).map((bytes) => dev.publishAsync('carchain/v1/devices/1Kill/uplink', Buffer.from(bytes), { qos: 1 })));
      await new Promise((r) => setTimeout(r, 40));
    }
  };
  const countRows = (file: string, sql: string) => {
    const db = new Database(join(dir, file), { readonly: true });
    const n = (db.prepare(sql).get() as { n: number }).n;
    db.close();
    return n;
  };
  for (let kill = 0; kill < 3; kill++) {
    const publishing = publish(kill * chunk);
    while (accepted < 30) await new Promise((r) => setTimeout(r, 5));
    await stop(child, 'SIGKILL');
    const stored = countRows('kv.db', 'SELECT COUNT(*) AS n FROM kv_records');
    t.ok(stored < (kill + 1) * chunk * 3, `kill ${kill + 1} lands mid-stream (${stored} of ${(kill + 1) * chunk * 3} records stored)`);
    await publishing;
    accepted = 0;
    child = await startChild();
  }
  await publish(3 * chunk);
  await dev.endAsync();
  for (let i = 0; i < 300 && countRows('kv.db', 'SELECT COUNT(*) AS n FROM kv_records') < total * 3; i++) await new Promise((r) => setTimeout(r, 100));
  await stop(child, 'SIGTERM');
  t.equal(countRows('kv.db', 'SELECT COUNT(*) AS n FROM kv_records'), total * 3, 'every record stored (one row per record id)');
  t.equal(countRows('leaves.db', 'SELECT COUNT(*) AS n FROM leaves'), total * 3, 'every leaf logged once');
  const kvDb = new Database(join(dir, 'kv.db'), { readonly: true });
  const keys = new Set((kvDb.prepare('SELECT encoded_key FROM kv_records').all() as { encoded_key: Buffer }[]).map((r) => r.encoded_key.toString('hex')));
  kvDb.close();
  const expected = messages.flatMap((_, m) => records(50_000 + m * 3, 3).map((r) => Buffer.from(r.encodedKey).toString('hex')));
  t.same(expected.filter((k) => !keys.has(k)), [], 'none missing');
});
