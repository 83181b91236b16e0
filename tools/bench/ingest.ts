// `npm run bench:ingest`: gateway ingest throughput (MQTT → verify → SQLite KV + leaf log → PUBACK) vs a bare pipe, same run, JSON.
//
// Broker: the machine's Mosquitto on 127.0.0.1:1883 when it answers, else the embedded Aedes broker.
// Each round publishes the same pre-signed uplink messages (fresh KV and leaf log per round, so every
// record is a real insert) and measures records/s until the last one is durable:
//   gateway   Mosquitto: MqttIngest (CONNECTIONS subscribers in a private $share group) until every
//             record is stored and its message PUBACKed; embedded: the device's PUBACKs (sent once durable).
//   bare pipe the same messages through the same broker to subscribers that just acknowledge
//             (the same number of connections; on Aedes one plain subscriber, as it has no $share).
// Knobs (env): BENCH_ROUNDS (5), BENCH_MESSAGES per round (400), BENCH_RECORDS per message (64),
// BENCH_CONNECTIONS (8 gateway subscriber connections), BENCH_PUBLISHERS (16 device connections), BENCH_SYNCHRONOUS (FULL | NORMAL, default FULL), BENCH_BROKER (auto | mosquitto | embedded).
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect as tcpConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { connectAsync, type MqttClient } from 'mqtt';
import { startEmbeddedBroker } from '../../gateway/broker/embedded-broker.js';
import { LeafLog } from '../../gateway/batches/leaf-log.js';
import { IngestPipeline, MqttIngest, UPLINK_FILTER } from '../../gateway/ingest/mqtt-ingest.js';
import { UplinkVerifier } from '../../gateway/ingest/uplink-verifier.js';
import { SqliteKvStore, type SqliteSynchronous } from '../../gateway/kv/sqlite-kv-store.js';
import { builtinFormatDictionary } from '../../protocol/builtin-formats.js';
import { devicePoolKey, deviceRoot } from '../../protocol/device-keys.js';
import { masterKeyFromSeed } from '../../protocol/hd-keys.js';
import { poolKeyPair, poolMaterialFor } from '../../protocol/owner-keys.js';
import { authorisePoolKey } from '../../protocol/pool-authorisation.js';
import { derivePoolAddresses } from '../../protocol/pools.js';
import { sealRecord } from '../../protocol/record.js';
import { createUplinkMessage, encodeUplinkMessage } from '../../protocol/uplink.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const MESSAGES = Number(process.env.BENCH_MESSAGES ?? 400);
const RECORDS = Number(process.env.BENCH_RECORDS ?? 64);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 8);
const PUBLISHERS = Number(process.env.BENCH_PUBLISHERS ?? 16);
const SYNCHRONOUS = (process.env.BENCH_SYNCHRONOUS ?? 'FULL') as SqliteSynchronous;
const BROKER = process.env.BENCH_BROKER ?? 'auto';
const run = randomBytes(4).toString('hex');
const topic = `carchain/v1/devices/bench-${run}/uplink`;
const formats = builtinFormatDictionary();

function makeMessages(): Buffer[] {
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048, publicExponent: 65537 });
  const owner = masterKeyFromSeed(randomBytes(64));
  const addresses = derivePoolAddresses(poolMaterialFor(owner, 0, 4));
  const device = deviceRoot(randomBytes(32));
  const now = Date.now();
  const auths = addresses.map((_, i) => ({
    authorisation: authorisePoolKey(poolKeyPair(owner, 0, i).privateKey, { devicePublicKey: devicePoolKey(device, i).publicKey, notBefore: now - 86_400_000, notAfter: now + 86_400_000 }),
    privateKey: devicePoolKey(device, i).privateKey,
  }));
  // A realistic record: a DTC list with a VIN, sealed to the owner's RSA key (~500 bytes encoded).
  return Array.from({ length: MESSAGES }, (_, m) => {
    const pool = m % addresses.length;
    const records = Array.from({ length: RECORDS }, (_, k) =>
      sealRecord(formats.get('dtc'), addresses[pool]!, { TIME: 20261121000000 + m * RECORDS + k, SESSION_ID: 1 }, { VID: 'LBVNU79049SB81546', stored: ['P0301', 'P0420'] }, rsa.publicKey));
    return Buffer.from(encodeUplinkMessage(createUplinkMessage(records, auths[pool]!.authorisation, auths[pool]!.privateKey)));
  });
}

async function mosquittoReachable(): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = tcpConnect({ host: '127.0.0.1', port: 1883 }, () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
    socket.setTimeout(500, () => {
      socket.destroy();
      resolve(false);
    });
  });
}

async function until(done: () => boolean, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > deadline) throw new Error('bench round timed out');
    await new Promise((r) => setTimeout(r, 2));
  }
}

interface Store {
  pipeline: IngestPipeline;
  parts: ConstructorParameters<typeof IngestPipeline>[0];
  close(): Promise<void>;
}

function openStore(): Store {
  const dir = mkdtempSync(join(tmpdir(), 'carchain-bench-ingest-'));
  const kv = SqliteKvStore.open({ path: join(dir, 'kv.db'), synchronous: SYNCHRONOUS });
  const leafLog = new LeafLog(join(dir, 'leaves.db'));
  const parts = { kv, leafLog, verifier: new UplinkVerifier({ formats: () => formats }) };
  return {
    pipeline: new IngestPipeline(parts),
    parts,
    close: async () => {
      await kv.close();
      leafLog.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

// Each publisher is one device connection: a broker handles one connection's publishes in order, so
// a single publisher would hand the gateway one message at a time and defeat its group commit.
const publishAll = (clients: MqttClient[], messages: Buffer[]) => Promise.all(messages.map((m, i) => clients[i % clients.length]!.publishAsync(topic, m, { qos: 1 })));
const connectPublishers = (url: string, protocolVersion: 4 | 5) =>
  Promise.all(Array.from({ length: PUBLISHERS }, (_, i) => connectAsync(url, { protocolVersion, clientId: `carchain-bench-pub-${run}-${i}`, clean: true })));
const endAll = (clients: MqttClient[]) => Promise.all(clients.map((c) => c.endAsync()));
const recordsIn = (messages: Buffer[]) => messages.length * RECORDS;
const rate = (messages: Buffer[], start: number) => Math.round((recordsIn(messages) / (performance.now() - start)) * 1000);

async function mosquittoGatewayRound(messages: Buffer[]): Promise<number> {
  const store = openStore();
  const ingest = new MqttIngest({
    ...store.parts, brokerUrl: 'mqtt://127.0.0.1:1883', clientId: `carchain-bench-gw-${run}`, shareGroup: `bench-gw-${run}`,
    connections: CONNECTIONS, receiveMaximum: 64, sessionExpirySeconds: 0,
  });
  await ingest.start();
  const publishers = await connectPublishers('mqtt://127.0.0.1:1883', 5);
  const start = performance.now();
  await publishAll(publishers, messages);
  await until(() => ingest.stats().accepted >= recordsIn(messages));
  const result = rate(messages, start);
  await endAll(publishers);
  await ingest.stop();
  await store.close();
  return result;
}

async function mosquittoBareRound(messages: Buffer[]): Promise<number> {
  let received = 0;
  const subscribers = await Promise.all(Array.from({ length: CONNECTIONS }, (_, i) =>
    connectAsync('mqtt://127.0.0.1:1883', { protocolVersion: 5, clientId: `carchain-bench-bare-${run}-${i}`, clean: true, properties: { receiveMaximum: 64 } })));
  for (const s of subscribers) {
    s.on('message', () => received++);
    await s.subscribeAsync(`$share/bench-bare-${run}/${UPLINK_FILTER}`, { qos: 1 });
  }
  const publishers = await connectPublishers('mqtt://127.0.0.1:1883', 5);
  const start = performance.now();
  await publishAll(publishers, messages);
  await until(() => received >= messages.length);
  const result = rate(messages, start);
  await endAll(publishers);
  await Promise.all(subscribers.map((s) => s.endAsync()));
  return result;
}

async function embeddedGatewayRound(messages: Buffer[]): Promise<number> {
  const store = openStore();
  const broker = await startEmbeddedBroker({ host: '127.0.0.1', port: 0, uplinkSink: (_topic, payload) => store.pipeline.submit(payload) });
  const publishers = await connectPublishers(broker.url, 4);
  const start = performance.now();
  await publishAll(publishers, messages); // each PUBACK is sent once the message is durable
  const result = rate(messages, start);
  if (store.pipeline.stats().accepted !== recordsIn(messages)) throw new Error(`stored ${store.pipeline.stats().accepted} of ${recordsIn(messages)}`);
  await endAll(publishers);
  await broker.close();
  await store.close();
  return result;
}

async function embeddedBareRound(messages: Buffer[]): Promise<number> {
  const broker = await startEmbeddedBroker({ host: '127.0.0.1', port: 0 });
  let received = 0;
  const subscriber = await connectAsync(broker.url, { protocolVersion: 4, clientId: `carchain-bench-bare-${run}`, clean: true });
  subscriber.on('message', () => received++);
  await subscriber.subscribeAsync(UPLINK_FILTER, { qos: 1 });
  const publishers = await connectPublishers(broker.url, 4);
  const start = performance.now();
  await publishAll(publishers, messages);
  await until(() => received >= messages.length);
  const result = rate(messages, start);
  await endAll(publishers);
  await subscriber.endAsync();
  await broker.close();
  return result;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

async function main(): Promise<void> {
  const useMosquitto = BROKER === 'mosquitto' || (BROKER === 'auto' && (await mosquittoReachable()));
  const messages = makeMessages();
  const gatewayRound = useMosquitto ? mosquittoGatewayRound : embeddedGatewayRound;
  const bareRound = useMosquitto ? mosquittoBareRound : embeddedBareRound;
  await gatewayRound(messages.slice(0, Math.min(50, messages.length))); // warm up JIT, sockets and SQLite
  await bareRound(messages.slice(0, Math.min(50, messages.length)));
  const gateway: number[] = [];
  const bare: number[] = [];
  // Interleaved, so drift on a shared machine hits both alike.
  for (let r = 0; r < ROUNDS; r++) {
    gateway.push(await gatewayRound(messages));
    bare.push(await bareRound(messages));
  }
  const g = median(gateway);
  const b = median(bare);
  process.stdout.write(`${JSON.stringify({
    bench: 'ingest',
    broker: useMosquitto ? 'mosquitto 127.0.0.1:1883 (MQTT 5, $share)' : 'embedded aedes (MQTT 3.1.1, sink before PUBACK)',
    kv: `sqlite synchronous=${SYNCHRONOUS}`,
    recordsPerMessage: RECORDS,
    messageBytes: messages[0]!.length,
    messagesPerRound: MESSAGES,
    gatewayConnections: useMosquitto ? CONNECTIONS : 1,
    publisherConnections: PUBLISHERS,
    gatewayRecordsPerSecond: { median: g, rounds: gateway },
    barePipeRecordsPerSecond: { median: b, rounds: bare },
    ratio: Math.round((g / b) * 100) / 100,
    goal: { recordsPerSecond: 20_000, ratio: 0.5, met: g >= 20_000 && g / b >= 0.5 },
  }, null, 2)}\n`);
}

await main();
