// `carchain fleet broker-config` against a real Mosquitto started with the generated config, and mqtt.js
// clients holding the issued certificates: a device reaches the gateway on its own topic and nowhere
// else, and certificates from another CA, or none, are refused at TLS.
import t from 'tap';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { connect as tcpConnect, createServer } from 'node:net';
import { userInfo } from 'node:os';
import { basename, join } from 'node:path';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { loadDongleConfig } from '../../../firmware/config/dongle-config.js';
import { FileKeystore } from '../../../firmware/keystore/device-keystore.js';
import { deviceTopics } from '../../../firmware/mqtt-topics.js';
import { SqliteOutbox } from '../../../firmware/outbox/sqlite-outbox.js';
import { MqttUplink } from '../../../firmware/uplink/mqtt-uplink.js';
import { dtcRecord, keyProviderFor, poolAddresses } from '../../firmware/uplink/fixtures/test-identity.js';
import { runCli, runJson, tempDir } from './fleet-cli.js';

t.setTimeout(900_000);
const dir = tempDir(t, 'fleet-broker');

async function freePort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  server.close();
  await once(server, 'close');
  return port;
}

async function waitForPort(port: number, child: ChildProcess, stderr: () => string): Promise<void> {
  for (let i = 0; i < 1200; i++) {
    if (child.exitCode !== null) throw new Error(`mosquitto exited with ${child.exitCode}: ${stderr()}`);
    const ok = await new Promise<boolean>((resolve) => {
      const socket = tcpConnect({ host: '127.0.0.1', port }, () => {
        socket.destroy();
        resolve(true);
      }).on('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`mosquitto did not listen on ${port}: ${stderr()}`);
}

/** Resolves with the connected client, or with the reason the broker/TLS refused it. */
function connect(url: string, options: IClientOptions): Promise<{ client: MqttClient } | { refused: string }> {
  return new Promise((resolve) => {
    const client = mqtt.connect(url, { reconnectPeriod: 0, connectTimeout: 60_000, protocolVersion: 5, ...options });
    let settled = false;
    const refuse = (why: string) => {
      if (settled) return;
      settled = true;
      client.end(true);
      resolve({ refused: why });
    };
    client.once('connect', () => {
      settled = true;
      resolve({ client });
    });
    client.once('error', (err) => refuse(err.message));
    client.once('close', () => refuse('closed before CONNACK'));
  });
}

/** Messages a client receives, and a way to wait for one. */
function collect(client: MqttClient): { seen: { topic: string; payload: string }[]; waitFor(payload: string): Promise<void>; waitForTopic(topic: string): Promise<void> } {
  const seen: { topic: string; payload: string }[] = [];
  const waiters: { match: (m: { topic: string; payload: string }) => boolean; resolve: () => void }[] = [];
  client.on('message', (topic, payload) => {
    const m = { topic, payload: payload.toString() };
    seen.push(m);
    for (const w of waiters.filter((w) => w.match(m))) w.resolve();
  });
  const waitFor = (match: (m: { topic: string; payload: string }) => boolean) =>
    seen.some(match) ? Promise.resolve() : new Promise<void>((resolve) => waiters.push({ match, resolve }));
  return { seen, waitFor: (payload) => waitFor((m) => m.payload === payload), waitForTopic: (topic) => waitFor((m) => m.topic === topic) };
}

t.test('the generated Mosquitto config: mutual TLS, identity = CN, per-device ACLs, no anonymous listener', async (t) => {
  const caDir = join(dir, 'ca');
  const fleetDir = join(dir, 'fleet');
  const brokerDir = join(dir, 'broker');
  t.equal((await runCli(['fleet', 'ca', 'init', '--out', caDir])).code, 0);
  const port = await freePort();
  const { devices } = await runJson<{ devices: { deviceId: string; clientId: string; files: Record<string, string> }[] }>(['fleet', 'provision', '--ca', caDir, '--count', '3', '--prefix', 'car', '--out', fleetDir, '--broker', `mqtts://127.0.0.1:${port}`]);
  // A device of another integrator: a valid certificate, from a CA this broker does not trust.
  t.equal((await runCli(['fleet', 'ca', 'init', '--out', join(dir, 'other-ca')])).code, 0);
  const strangers = await runJson<{ devices: { deviceId: string; files: Record<string, string> }[] }>(['fleet', 'provision', '--ca', join(dir, 'other-ca'), '--count', '1', '--prefix', 'x', '--out', join(dir, 'other-fleet')]);

  const generated = await runJson<{ configFile: string; devices: number; gateway: { id: string; cert: string; key: string; ca: string } }>([
    'fleet', 'broker-config', '--manifest', join(fleetDir, 'manifest.json'), '--ca', caDir, '--out', brokerDir, '--port', String(port), '--bind', '127.0.0.1',
    ...(userInfo().uid === 0 ? ['--run-as', 'root'] : []),
  ]);
  t.equal(generated.devices, 3);
  const conf = readFileSync(generated.configFile, 'utf8');
  for (const line of ['require_certificate true', 'use_identity_as_username true', 'allow_anonymous false']) t.match(conf, line);
  t.equal(conf.match(/^listener /gm)?.length, 1, 'one listener; the gateway uses its identity on it (gateway/gateway-broker.yaml)');
  const acl = readFileSync(join(brokerDir, 'acl'), 'utf8');
  t.match(acl, `user ${devices[0]!.deviceId}\ntopic write ${deviceTopics(devices[0]!.deviceId).uplink}`);

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
  await waitForPort(port, broker, () => stderr);

  const url = `mqtts://127.0.0.1:${port}`;
  const ca = readFileSync(join(caDir, 'ca.pem'));
  const identity = (files: Record<string, string>, base: string) => ({ ca, cert: readFileSync(join(base, files.cert!)), key: readFileSync(join(base, files.key!)) });
  const clients: MqttClient[] = [];
  t.teardown(() => Promise.all(clients.map((c) => c.endAsync(true))));
  const connected = async (options: IClientOptions, u = url): Promise<MqttClient> => {
    const r = await connect(u, options);
    if ('refused' in r) throw new Error(`refused: ${r.refused}\n${stderr}`);
    clients.push(r.client);
    return r.client;
  };

  const gateway = await connected({ clientId: 'carchain-gw-test', ca, cert: readFileSync(generated.gateway.cert), key: readFileSync(generated.gateway.key) });
  const gatewaySeen = collect(gateway);
  const granted = await gateway.subscribeAsync('$share/carchain-gateways/carchain/v1/devices/+/uplink', { qos: 1 });
  t.equal(granted[0]!.qos, 1, 'the gateway identity may subscribe to every uplink through a shared subscription');

  const [a, b, c] = devices as [(typeof devices)[0], (typeof devices)[0], (typeof devices)[0]];
  const deviceA = await connected({ clientId: a.clientId, ...identity(a.files, fleetDir) });
  await deviceA.publishAsync(deviceTopics(a.deviceId).uplink, 'a-own-1', { qos: 1 });
  await gatewaySeen.waitFor('a-own-1');
  t.pass('device A → its own uplink → the gateway');

  // MQTT 5: Mosquitto answers a denied QoS 1 publish with PUBACK reason 0x87 and drops it.
  const denied = await deviceA.publishAsync(deviceTopics(b.deviceId).uplink, 'a-as-b', { qos: 1 }).then((packet) => (packet as { reasonCode?: number } | undefined)?.reasonCode ?? 0, (err: { code?: number }) => err.code ?? -1);
  t.equal(denied, 0x87, 'publishing to device B\'s uplink is refused (not authorized)');
  // Ordered after the refused one on the same connection: once this arrives, the refused one never will.
  await deviceA.publishAsync(deviceTopics(a.deviceId).uplink, 'a-own-2', { qos: 1 });
  await gatewaySeen.waitFor('a-own-2');
  t.same(gatewaySeen.seen.filter((m) => m.payload === 'a-as-b'), [], 'nothing A published as B reached the gateway');
  t.same(gatewaySeen.seen.map((m) => m.topic), [deviceTopics(a.deviceId).uplink, deviceTopics(a.deviceId).uplink]);

  const deviceB = await connected({ clientId: b.clientId, ...identity(b.files, fleetDir) });
  await deviceB.publishAsync(deviceTopics(b.deviceId).uplink, 'b-own', { qos: 1 });
  await gatewaySeen.waitFor('b-own');
  t.pass('device B → its own uplink → the gateway');

  // Downlink: Mosquitto 2.0 grants any subscription and applies the ACL on delivery, so what counts is
  // what arrives. The gateway writes B's downlink, then A's; A subscribed to both.
  const aSeen = collect(deviceA);
  const bSeen = collect(deviceB);
  await deviceA.subscribeAsync([deviceTopics(b.deviceId).downlinkFilter, deviceTopics(a.deviceId).downlinkFilter], { qos: 1 });
  await deviceB.subscribeAsync(deviceTopics(b.deviceId).downlinkFilter, { qos: 1 });
  await gateway.publishAsync(`${deviceTopics(b.deviceId).downlink}/reset`, 'for-b', { qos: 1 });
  await gateway.publishAsync(`${deviceTopics(a.deviceId).downlink}/reset`, 'for-a', { qos: 1 });
  await Promise.all([aSeen.waitFor('for-a'), bSeen.waitFor('for-b')]);
  t.same(aSeen.seen.map((m) => m.payload), ['for-a'], 'device A reads its own downlink and never device B\'s');

  // The dongle's own uplink code with nothing but device C's provisioned files: its keystore gives the
  // device id, its dongle.yaml the TLS files (mapped from /etc/carchain to the provisioned dir).
  const cDir = join(fleetDir, c.files.config!, '..');
  const config = loadDongleConfig(join(cDir, 'dongle.yaml'));
  const fromDevice = (path: string) => readFileSync(join(cDir, basename(path)));
  const keystore = FileKeystore.loadOrCreate(join(cDir, 'keystore.json'));
  t.equal(keystore.deviceAddress, c.deviceId);
  const outbox = SqliteOutbox.open({ path: join(dir, 'outbox.sqlite') });
  t.teardown(() => outbox.close());
  outbox.enqueue([dtcRecord(poolAddresses[0]!, 7, 1)]);
  const uplink = new MqttUplink({
    url: config.uplink.brokerUrl, deviceId: keystore.deviceAddress, outbox, keys: keyProviderFor([0]), protocolVersion: config.uplink.protocolVersion,
    tls: { ca: fromDevice(config.uplink.tls!.ca), cert: fromDevice(config.uplink.tls!.cert), key: fromDevice(config.uplink.tls!.key) },
  });
  await uplink.start();
  await uplink.whenConnected(120_000);
  const uplinkArrived = gatewaySeen.waitForTopic(deviceTopics(c.deviceId).uplink);
  await uplinkArrived;
  for (let i = 0; i < 1200 && outbox.stats().records > 0; i++) await new Promise((r) => setTimeout(r, 50));
  t.equal(outbox.stats().records, 0, 'the firmware uplink, configured from the provisioned files, delivered and got its PUBACK');
  await uplink.stop();

  const stranger = strangers.devices[0]!;
  const fromOtherCa = await connect(url, { clientId: `carchain-${stranger.deviceId}`, ca, cert: readFileSync(join(dir, 'other-fleet', stranger.files.cert!)), key: readFileSync(join(dir, 'other-fleet', stranger.files.key!)) });
  t.ok('refused' in fromOtherCa, `a certificate from another CA is refused at TLS (${'refused' in fromOtherCa ? fromOtherCa.refused : 'connected!'})`);
  const noCert = await connect(url, { clientId: 'carchain-nobody', ca });
  t.ok('refused' in noCert, `no client certificate is refused (${'refused' in noCert ? noCert.refused : 'connected!'})`);
  const plainOnTls = await connect(`mqtt://127.0.0.1:${port}`, { clientId: 'plain' });
  t.ok('refused' in plainOnTls, 'plain MQTT on the TLS port is refused');
  t.equal(broker.exitCode, null, 'the broker is still running');
});

t.test('re-running broker-config after more devices keeps the server and gateway certificates and extends the ACL', async (t) => {
  const caDir = join(dir, 'ca');
  const fleetDir = join(dir, 'fleet');
  const brokerDir = join(dir, 'broker');
  const before = readFileSync(join(brokerDir, 'gateway', 'gateway.pem'), 'utf8');
  await runJson(['fleet', 'provision', '--ca', caDir, '--count', '4', '--prefix', 'car', '--out', fleetDir]);
  const again = await runJson<{ devices: number; server: { reused: boolean }; gateway: { reused: boolean } }>(['fleet', 'broker-config', '--manifest', join(fleetDir, 'manifest.json'), '--ca', caDir, '--out', brokerDir]);
  t.equal(again.devices, 4);
  t.ok(again.server.reused && again.gateway.reused, 'certificates kept');
  t.equal(readFileSync(join(brokerDir, 'gateway', 'gateway.pem'), 'utf8'), before);
  t.equal(readFileSync(join(brokerDir, 'acl'), 'utf8').match(/^user /gm)?.length, 5, 'the gateway and four devices');
  const bad = await runCli(['fleet', 'broker-config', '--manifest', join(dir, 'nope.json'), '--ca', caDir, '--out', brokerDir]);
  t.equal(bad.code, 1);
  t.match(bad.stderr, /MANIFEST_INVALID/);
  const wrongCa = await runCli(['fleet', 'broker-config', '--manifest', join(fleetDir, 'manifest.json'), '--ca', join(dir, 'other-ca'), '--out', join(dir, 'broker-2')]);
  t.equal(wrongCa.code, 1);
  t.match(wrongCa.stderr, /MANIFEST_INVALID.*not of/, 'a manifest of another CA is refused');
});
