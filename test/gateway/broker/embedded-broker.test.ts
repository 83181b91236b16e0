// The embedded Aedes broker: MQTT 3.1.1 only, PUBACK held until the uplink sink has stored the message, and a gateway
// with the embedded broker killed -9 mid-stream loses nothing a device saw acknowledged.
import t, { type Test } from 'tap';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { connectAsync } from 'mqtt';
import { startEmbeddedBroker } from '../../../gateway/broker/embedded-broker.js';
import { LeafLog } from '../../../gateway/batches/leaf-log.js';
import { MqttIngest } from '../../../gateway/ingest/mqtt-ingest.js';
import { UplinkVerifier } from '../../../gateway/ingest/uplink-verifier.js';
import { SqliteKvStore } from '../../../gateway/kv/sqlite-kv-store.js';
import { SqliteOutbox } from '../../../firmware/outbox/sqlite-outbox.js';
import { MqttUplink } from '../../../firmware/uplink/mqtt-uplink.js';
import { builtinFormatDictionary } from '../../../protocol/builtin-formats.js';
import { recordId } from '../../../protocol/record.js';
import { createUplinkMessage, encodeUplinkMessage } from '../../../protocol/uplink.js';
import { dtcRecord, idOf, keyProviderFor, keysFor, poolAddresses } from '../../firmware/uplink/fixtures/test-identity.js';

const formats = builtinFormatDictionary();
const cli = fileURLToPath(new URL('../../../tools/cli/carchain.ts', import.meta.url));
const topic = 'carchain/v1/devices/dev-1/uplink';
const keys = keysFor(0);
const message = (session: number, from: number, n: number) =>
  Buffer.from(encodeUplinkMessage(createUplinkMessage(Array.from({ length: n }, (_, k) => dtcRecord(poolAddresses[0]!, session, from + k)), keys.authorisation, keys.privateKey)));
const tick = () => new Promise((r) => setImmediate(r));

function tempDir(t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'carchain-broker-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

t.test('Aedes speaks MQTT 3.1.1 only; MqttIngest falls back to 3.1.1 and stores everything over a plain subscription', async (t) => {
  const dir = tempDir(t);
  const broker = await startEmbeddedBroker({ host: '127.0.0.1', port: 0 });
  t.teardown(() => broker.close());
  await t.rejects(connectAsync(broker.url, { protocolVersion: 5, clientId: 'v5-probe', reconnectPeriod: 0 }, false), /protocol/i, 'an MQTT 5 CONNECT is refused');

  const kv = SqliteKvStore.open({ path: join(dir, 'kv.db') });
  const leafLog = new LeafLog(join(dir, 'leaves.db'));
  // Aedes has no $share: a gateway on it subscribes to the plain filter (and is the only one).
  const ingest = new MqttIngest({ brokerUrl: broker.url, clientId: 'gw-aedes', shareGroup: null, kv, leafLog, verifier: new UplinkVerifier({ formats: () => formats }) });
  await ingest.start();
  t.teardown(async () => {
    await ingest.stop();
    await kv.close();
    leafLog.close();
  });
  t.equal(ingest.protocolVersion, 4, 'fell back to MQTT 3.1.1');

  const device = await connectAsync(broker.url, { protocolVersion: 4, clientId: 'dev-1', clean: false });
  const sent = Array.from({ length: 10 }, (_, m) => message(1, m * 5, 5));
  for (const bytes of sent) await device.publishAsync(topic, bytes, { qos: 1 });
  await device.publishAsync(topic, sent[0]!, { qos: 1 }); // a replay
  await device.publishAsync(topic, Buffer.from('garbage'), { qos: 1 });
  await device.endAsync();
  for (let i = 0; i < 200 && ingest.stats().messages < 12; i++) await new Promise((r) => setTimeout(r, 50));
  const stats = ingest.stats();
  t.match(stats, { messages: 12, accepted: 50, duplicates: 5, rejectedMessages: 1, connected: true });
  t.equal(leafLog.pendingLeaves(), 50);
});

t.test('uplink sink: the publisher gets its PUBACK only after the sink stored the message; a failing sink means no PUBACK and a resend', async (t) => {
  const events: string[] = [];
  let failNext = 1;
  let release: (() => void) | null = null;
  const broker = await startEmbeddedBroker({
    host: '127.0.0.1',
    port: 0,
    uplinkSink: async (_topic, payload) => {
      const tag = Buffer.from(payload).toString();
      events.push(`sink ${tag}`);
      if (tag === 'fails-once' && failNext-- > 0) throw new Error('KV down');
      if (tag === 'held') await new Promise<void>((resolve) => (release = resolve));
      events.push(`stored ${tag}`);
    },
  });
  t.teardown(() => broker.close());
  const device = await connectAsync(broker.url, { protocolVersion: 4, clientId: 'dev-sink', clean: false, reconnectPeriod: 100 });
  t.teardown(() => device.endAsync(true));

  const held = device.publishAsync(topic, 'held', { qos: 1 }).then(() => events.push('puback held'));
  while (release === null) await tick();
  for (let i = 0; i < 20; i++) await tick();
  t.same(events, ['sink held'], 'no PUBACK while the sink has not stored the message');
  (release as () => void)();
  await held;
  t.same(events, ['sink held', 'stored held', 'puback held']);

  await device.publishAsync(topic, 'fails-once', { qos: 1 });
  t.same(events.slice(3), ['sink fails-once', 'sink fails-once', 'stored fails-once'], 'refused without PUBACK, resent on the new connection, then acknowledged');
  await device.publishAsync('carchain/v1/devices/dev-sink/state', 'online', { qos: 1 });
  t.equal(events.length, 6, 'other topics do not go to the sink');
});

interface GatewayProc {
  child: ChildProcess;
  ready: Promise<void>;
}

function startGatewayProcess(config: string): GatewayProc {
  const child = spawn(process.execPath, ['--import', 'tsx', cli, 'gateway', 'start', '--config', config], { stdio: ['ignore', 'pipe', 'inherit'] });
  const ready = new Promise<void>((resolve, reject) => {
    createInterface({ input: child.stdout }).on('line', (line) => {
      if (line.includes('"gateway started"')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`gateway exited (${code})`)));
  });
  return { child, ready };
}

async function killProcess(proc: GatewayProc, signal: NodeJS.Signals): Promise<number | null> {
  if (proc.child.exitCode !== null || proc.child.signalCode !== null) return proc.child.exitCode;
  const exited = new Promise<number | null>((resolve) => proc.child.once('exit', (code) => resolve(code)));
  proc.child.kill(signal);
  return exited;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

t.test('dongle uplink → gateway with the embedded broker, killed -9 ×3 mid-stream: every acknowledged record is stored exactly once', async (t) => {
  const dir = tempDir(t);
  const port = await freePort();
  const config = join(dir, 'gateway.yaml');
  // No broker section: the embedded broker is the default (here on a fixed free port instead of 1883).
  writeFileSync(config, [`gateway: { id: embedded, dataDir: ${join(dir, 'gateway')} }`, `broker: { embedded: { host: 127.0.0.1, port: ${port} } }`, 'api: { port: 0 }', 'batches: { intervalMs: 100 }'].join('\n'));
  let gateway = startGatewayProcess(config);
  t.teardown(() => killProcess(gateway, 'SIGKILL'));
  await gateway.ready;

  const outbox = SqliteOutbox.open({ path: join(dir, 'outbox.db') });
  const acknowledged = new Set<string>();
  const uplink = new MqttUplink({
    url: `mqtt://127.0.0.1:${port}`, deviceId: 'dev-kill', protocolVersion: 4, outbox, keys: keyProviderFor([0, 1]),
    reconnect: { initialMs: 50, maxMs: 300 }, pollIntervalMs: 20, healthIntervalMs: 60_000, maxRecordsPerMessage: 16,
  });
  uplink.onEvent((e) => {
    if (e.type === 'published') for (const id of e.ids) acknowledged.add(id);
  });
  await uplink.start();
  const enqueued: string[] = [];
  let n = 0;
  const produce = setInterval(() => {
    const records = Array.from({ length: 8 }, () => dtcRecord(poolAddresses[n % 2]!, 777, n++));
    outbox.enqueue(records);
    enqueued.push(...records.map(idOf));
  }, 5);

  for (let kill = 0; kill < 3; kill++) {
    const before = acknowledged.size;
    while (acknowledged.size < before + 150) await new Promise((r) => setTimeout(r, 20));
    await killProcess(gateway, 'SIGKILL');
    await new Promise((r) => setTimeout(r, 200));
    gateway = startGatewayProcess(config);
    await gateway.ready;
  }
  clearInterval(produce);
  while (outbox.stats().records > 0) await new Promise((r) => setTimeout(r, 50));
  await uplink.stop({ timeoutMs: 3000 });
  outbox.close();
  t.equal(await killProcess(gateway, 'SIGTERM'), 0, 'the gateway stops cleanly');

  t.ok(acknowledged.size >= 450, `${acknowledged.size} records acknowledged across 3 kills`);
  t.equal(acknowledged.size, enqueued.length, 'the outbox drained: everything enqueued was acknowledged');
  const kv = new Database(join(dir, 'gateway', 'kv.db'), { readonly: true });
  const counts = new Map<string, number>();
  for (const row of kv.prepare('SELECT address, encoded_key FROM kv_records').all() as { address: string; encoded_key: Buffer }[]) {
    const id = Buffer.from(recordId(row.address, new Uint8Array(row.encoded_key))).toString('hex');
    counts.set(id, (counts.get(id) ?? 0) + 1);
  }
  kv.close();
  t.same([...acknowledged].filter((id) => !counts.has(id)), [], 'every acknowledged record is in the KV store');
  t.ok([...counts.values()].every((c) => c === 1), 'exactly once');
  const leaves = new Database(join(dir, 'gateway', 'leaves.db'), { readonly: true });
  const leafIds = new Set((leaves.prepare('SELECT record_id FROM leaves').all() as { record_id: Buffer }[]).map((r) => r.record_id.toString('hex')));
  leaves.close();
  t.same([...acknowledged].filter((id) => !leafIds.has(id)), [], 'and in the leaf log');
});
