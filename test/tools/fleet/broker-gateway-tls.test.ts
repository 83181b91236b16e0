// A real gateway (startGateway, SQLite, no chain) reading a real Mosquitto over mutual TLS with the identity and
// gateway-broker.yaml `carchain fleet broker-config` generates, and a provisioned dongle's firmware uplink feeding it.
import t from 'tap';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { connect as tcpConnect, createServer } from 'node:net';
import { userInfo } from 'node:os';
import { basename, join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { loadDongleConfig } from '../../../firmware/config/dongle-config.js';
import { FileKeystore } from '../../../firmware/keystore/device-keystore.js';
import { SqliteOutbox } from '../../../firmware/outbox/sqlite-outbox.js';
import type { KeyProvider } from '../../../firmware/uplink/uplink-batch.js';
import { MqttUplink } from '../../../firmware/uplink/mqtt-uplink.js';
import { parseGatewayConfig } from '../../../gateway/node/gateway-config.js';
import { startGateway, type GatewayStats } from '../../../gateway/node/gateway-node.js';
import { masterKeyFromSeed } from '../../../protocol/hd-keys.js';
import { poolKeyPair, poolMaterialFor } from '../../../protocol/owner-keys.js';
import { authorisePoolKey } from '../../../protocol/pool-authorisation.js';
import { derivePoolAddresses } from '../../../protocol/pools.js';
import { dtcRecord, idOf } from '../../firmware/uplink/fixtures/test-identity.js';
import { runCli, runJson, tempDir } from './fleet-cli.js';

t.setTimeout(900_000);
const dir = tempDir(t, 'fleet-gateway-tls');
const DAY = 86_400_000;

async function freePort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  server.close();
  await once(server, 'close');
  return port;
}

async function listening(port: number): Promise<boolean> {
  return new Promise<boolean>((resolve) => {
    const socket = tcpConnect({ host: '127.0.0.1', port }, () => {
      socket.destroy();
      resolve(true);
    }).on('error', () => resolve(false));
  });
}

async function until<T>(what: string, probe: () => Promise<T>, done: (v: T) => boolean, tries = 2400): Promise<T> {
  let last = await probe();
  for (let i = 0; i < tries && !done(last); i++) {
    await new Promise((r) => setTimeout(r, 50));
    last = await probe();
  }
  if (!done(last)) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(last)}`);
  return last;
}

t.test('broker.tls: the config refuses a client certificate it would not use', (t) => {
  const tls = { ca: '/x/ca.pem', cert: '/x/gw.pem', key: '/x/gw.key' };
  const parse = (broker: object) => () => parseGatewayConfig({ gateway: { id: 'g', dataDir: '/tmp/g' }, broker }, 'test');
  t.throws(parse({ url: 'mqtt://127.0.0.1:1883', tls }), { code: 'CONFIG_INVALID', message: /mqtts:\/\/ or wss:\/\// }, 'plain mqtt:// with tls');
  t.throws(parse({ tls }), { code: 'CONFIG_INVALID', message: /embedded broker/ }, 'the embedded broker with tls');
  t.throws(parse({ url: 'mqtts://127.0.0.1:8883', tls: { ca: '/x/ca.pem', cert: '/x/gw.pem' } }), { code: 'CONFIG_INVALID' }, 'a certificate without its key');
  t.same(parseGatewayConfig({ gateway: { id: 'g', dataDir: '/tmp/g' }, broker: { url: 'mqtts://127.0.0.1:8883', tls } }).broker.tls, tls);
  t.equal(parseGatewayConfig({ gateway: { id: 'g', dataDir: '/tmp/g' }, broker: { url: 'mqtt://127.0.0.1:1883' } }).broker.tls, null, 'no tls: null');
  t.end();
});

t.test('a provisioned dongle → Mosquitto (generated config, mutual TLS) → a gateway with the generated broker section: record stored', async (t) => {
  const caDir = join(dir, 'ca');
  const fleetDir = join(dir, 'fleet');
  const brokerDir = join(dir, 'broker');
  const port = await freePort();
  t.equal((await runCli(['fleet', 'ca', 'init', '--out', caDir])).code, 0);
  const { devices } = await runJson<{ devices: { deviceId: string; dir: string }[] }>(['fleet', 'provision', '--ca', caDir, '--count', '1', '--prefix', 'car', '--out', fleetDir, '--broker', `mqtts://127.0.0.1:${port}`]);
  const generated = await runJson<{ configFile: string; gateway: { brokerSection: string; brokerUrl: string } }>([
    'fleet', 'broker-config', '--manifest', join(fleetDir, 'manifest.json'), '--ca', caDir, '--out', brokerDir, '--port', String(port), '--bind', '127.0.0.1',
    // The gateway runs from the generated directory here; on a gateway host these are /etc/carchain/tls.
    '--gateway-tls-dir', join(brokerDir, 'gateway'), ...(userInfo().uid === 0 ? ['--run-as', 'root'] : []),
  ]);
  t.equal(generated.gateway.brokerUrl, `mqtts://127.0.0.1:${port}`);
  const conf = readFileSync(generated.configFile, 'utf8');
  t.equal(conf.match(/^listener /gm)?.length, 1, 'one listener: mutual TLS only, no anonymous loopback listener');
  t.notMatch(conf, /allow_anonymous true/);

  let stderr = '';
  const broker = spawn('mosquitto', ['-c', generated.configFile], { stdio: ['ignore', 'ignore', 'pipe'] });
  broker.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  t.teardown(async () => {
    if (broker.exitCode === null && broker.signalCode === null) {
      const exited = once(broker, 'exit');
      broker.kill('SIGTERM');
      await exited;
    }
  });
  await until('mosquitto to listen', async () => {
    if (broker.exitCode !== null) throw new Error(`mosquitto exited with ${broker.exitCode}: ${stderr}`);
    return listening(port);
  }, (ok) => ok);

  // The gateway's config: the generated broker section as written, plus SQLite, no chain, an ephemeral API port.
  const section = parseYaml(readFileSync(generated.gateway.brokerSection, 'utf8')) as { broker: Record<string, unknown> };
  t.match(section.broker, { url: generated.gateway.brokerUrl, tls: { cert: join(brokerDir, 'gateway', 'gateway.pem'), key: join(brokerDir, 'gateway', 'gateway.key') } });
  const config = parseGatewayConfig({
    gateway: { id: 'gw-tls', dataDir: join(dir, 'gateway') }, ...section,
    kv: { backend: 'sqlite' }, chain: { mode: 'none' }, api: { host: '127.0.0.1', port: 0, grants: 'permissive' }, batches: { intervalMs: 200, maxLeaves: 64 },
  }, 'gateway.yaml');
  const logs: string[] = [];
  // startGateway waits for its broker connections; a refused certificate would make it wait forever.
  let timer: NodeJS.Timeout | undefined;
  const gateway = await Promise.race([
    startGateway(config, (level, message, fields) => logs.push(`${level} ${message} ${JSON.stringify(fields ?? {})}`)),
    new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`the gateway did not connect: ${logs.slice(-3).join(' | ')}; mosquitto: ${stderr.slice(-500)}`)), 240_000))),
  ]).finally(() => clearTimeout(timer));
  t.teardown(() => gateway.stop());
  const stats = async () => (await (await fetch(`${gateway.apiUrl}/stats`)).json()) as GatewayStats;
  await until('the gateway to be connected', stats, (s) => s.ingest.connected);
  // Mosquitto logs each client's username, which use_identity_as_username takes from the certificate CN.
  t.match(stderr, /as carchain-gateway-gw-tls \(p5, c0, k\d+, u'carchain-gateway'\)/, 'the gateway connected as the CN of its issued certificate');

  // The dongle: nothing but its provisioned files (keystore, dongle.yaml, TLS files mapped from /etc/carchain).
  const deviceDir = join(fleetDir, devices[0]!.dir);
  const dongle = loadDongleConfig(join(deviceDir, 'dongle.yaml'));
  const keystore = FileKeystore.loadOrCreate(join(deviceDir, 'keystore.json'));
  t.equal(keystore.deviceAddress, devices[0]!.deviceId);
  // An owner who paired it: pool address 0 of vehicle 0, authorising this keystore's pool key 0.
  const owner = masterKeyFromSeed(new Uint8Array(64).fill(41));
  const address = derivePoolAddresses(poolMaterialFor(owner, 0, 1))[0]!;
  const authorisation = authorisePoolKey(poolKeyPair(owner, 0, 0).privateKey, { devicePublicKey: keystore.poolPublicKey(0), notBefore: Date.now() - DAY, notAfter: Date.now() + 30 * DAY });
  const keys: KeyProvider = (a) => (a === address ? { authorisation, privateKey: keystore.poolPrivateKey(0) } : null);
  const outbox = SqliteOutbox.open({ path: join(dir, 'outbox.sqlite') });
  t.teardown(() => outbox.close());
  const record = dtcRecord(address, 9, 1);
  outbox.enqueue([record]);
  const fromDevice = (path: string) => readFileSync(join(deviceDir, basename(path)));
  const uplink = new MqttUplink({
    url: dongle.uplink.brokerUrl, deviceId: keystore.deviceAddress, outbox, keys, protocolVersion: dongle.uplink.protocolVersion,
    tls: { ca: fromDevice(dongle.uplink.tls!.ca), cert: fromDevice(dongle.uplink.tls!.cert), key: fromDevice(dongle.uplink.tls!.key) },
  });
  t.teardown(() => uplink.stop());
  await uplink.start();
  await uplink.whenConnected(120_000);

  const after = await until('the record to be accepted', stats, (s) => s.ingest.accepted >= 1 || s.ingest.rejectedMessages > 0);
  t.equal(after.ingest.accepted, 1, `stored by the gateway (stats: ${JSON.stringify(after.ingest)}; log: ${logs.slice(-5).join(' | ')})`);
  t.equal(after.ingest.rejectedMessages, 0);
  await until('the dongle\'s PUBACK', () => Promise.resolve(outbox.stats().records), (n) => n === 0);
  t.pass('the dongle got its PUBACK: the outbox is empty');
  const res = await fetch(`${gateway.apiUrl}/v1/kv/${address}/${Buffer.from(record.encodedKey).toString('hex')}`);
  t.equal(res.status, 200, 'GET /v1/kv/:address/:key');
  const stored = (await res.json()) as { recordId: string; format: string };
  t.equal(stored.recordId, idOf(record), 'the record the dongle sent');
  t.equal(stored.format, 'dtc');
  t.equal(broker.exitCode, null, 'the broker is still running');
});
