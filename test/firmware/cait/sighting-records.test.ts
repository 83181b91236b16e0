// Kept sightings leave as plate-sighting records, end to end with real parts: frames → `cait run` (a process, kill -9 while the broker is away) → Mosquitto → gateway + validator → the owner's wallet; the broker sees nothing else.
import t from 'tap';
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { connect } from 'mqtt';
import sharp from 'sharp';
import { ShopUplink } from '../../../firmware/cait/maintenance-jobs.js';
import { loadShopIdentity } from '../../../firmware/cait/shop-identity.js';
import { sealSightingRecord } from '../../../firmware/cait/sighting-records.js';
import type { CachedGrant } from '../../../firmware/cait/write-grant-store.js';
import { SqliteOutbox } from '../../../firmware/outbox/sqlite-outbox.js';
import { deviceTopics } from '../../../firmware/mqtt-topics.js';
import { ChainClient } from '../../../gateway/chain/client/chain-client.js';
import { parseGatewayConfig } from '../../../gateway/node/gateway-config.js';
import { startGateway, type GatewayHandle } from '../../../gateway/node/gateway-node.js';
import { builtinFormatDictionary } from '../../../protocol/builtin-formats.js';
import { buildTx } from '../../../protocol/chain/transactions.js';
import { encodeDeviceSetupBody } from '../../../protocol/chain/tx-bodies.js';
import { signDeviceSetup, vehicleIdHash, type DeviceSetupStatement } from '../../../protocol/device-statements.js';
import { deviceIdentity, deviceRoot } from '../../../protocol/device-keys.js';
import { generateMnemonic } from '../../../protocol/hd-keys.js';
import { ownerIdentity, ownerRsaKeyPair } from '../../../protocol/owner-keys.js';
import { recordFormat } from '../../../protocol/record.js';
import { rsaKeyFingerprint } from '../../../protocol/rsa.js';
import { decodeUplinkMessage } from '../../../protocol/uplink.js';
import { maintenanceRecords, sightingRecords, type MaintenanceQuery } from '../../../tools/wallet/maintenance-records.js';
import { createWallet } from '../../../tools/wallet/wallet-keystore.js';
import { issueWriteGrant } from '../../../tools/wallet/write-grant-flow.js';
import { freePort, startMosquitto, type Mosquitto } from '../uplink/fixtures/mosquitto.js';
import { renderScene } from './fixtures/plate-scene.js';

const cli = fileURLToPath(new URL('../../../tools/cli/carchain.ts', import.meta.url));
const VID = 'LSGHT000000000001';

// Printed text, what the reader returns, and the ASCII tail (a stronger "not in clear" probe than the UTF-8 of the whole plate).
const GRANTED = { printed: '浙D·137ET', canonical: '浙D137ET' };
const FORMAT_ONLY = { printed: '皖A·12345', canonical: '皖A12345', tail: 'A12345' }; // grant lists maintenance only
const NO_TICKET = { printed: '京N·8P3Q7', canonical: '京N8P3Q7', tail: 'N8P3Q7' }; // grant lists plate-sighting, ticket never imported
const STRANGER = { printed: '鲁B·7K2Q8', canonical: '鲁B7K2Q8', tail: 'B7K2Q8' }; // no grant at all

type Line = Record<string, unknown> & { msg: string };

interface Terminal {
  child: ChildProcess;
  lines: Line[];
  stdout: string[];
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function caitRun(config: string): Terminal {
  const child = spawn(process.execPath, ['--import', 'tsx', cli, 'cait', 'run', '--config', config], { stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: Line[] = [];
  const stdout: string[] = [];
  createInterface({ input: child.stdout }).on('line', (l) => {
    stdout.push(l);
    try {
      lines.push(JSON.parse(l) as Line);
    } catch {
      // not a log line
    }
  });
  child.stderr.resume();
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  return { child, lines, stdout, exited };
}

function carchain(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', cli, ...args], { encoding: 'utf8', timeout: 180_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, timeoutMs = 300_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

function allBytes(dir: string): Buffer {
  const parts: Buffer[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) parts.push(readFileSync(join(entry.parentPath, entry.name)));
  }
  return Buffer.concat(parts);
}

t.test('granted sightings reach the owner as plate-sighting records; nothing else crosses the broker; kill -9 loses no queued sighting', async (t) => {
  t.setTimeout(1_200_000);
  const root = mkdtempSync(join(tmpdir(), 'carchain-sightings-'));
  let broker: Mosquitto | null = null;
  let gateway: GatewayHandle | null = null;
  let sniffer: ReturnType<typeof connect> | null = null;
  const running = new Set<ChildProcess>();
  t.teardown(async () => {
    for (const child of running) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await sniffer?.endAsync(true);
    await gateway?.stop();
    await broker?.stop();
    rmSync(root, { recursive: true, force: true });
  });

  broker = await startMosquitto({ dir: root });
  // Everything anyone publishes on the broker, from before the first device connects.
  const seen: { topic: string; payload: Buffer }[] = [];
  const sniff = connect(broker.url, { protocolVersion: 5, reconnectPeriod: 0 });
  sniffer = sniff;
  await new Promise<void>((resolve, reject) => {
    sniff.once('connect', () => sniff.subscribe('#', { qos: 1 }, (err) => (err ? reject(err) : resolve())));
    sniff.once('error', reject);
  });
  sniff.on('message', (topic, payload) => seen.push({ topic, payload: Buffer.from(payload) }));

  gateway = await startGateway(parseGatewayConfig({
    gateway: { id: 'sightings', dataDir: join(root, 'gateway') },
    broker: { url: broker.url },
    api: { port: 0 },
    batches: { intervalMs: 200 },
    chain: { mode: 'embedded', blockIntervalMs: 200, anchorIntervalMs: 200 },
    log: { level: 'error' },
  }), () => undefined);
  const gw = gateway;
  const chain = new ChainClient([gw.chainRpcUrl!]);

  // The owner: a wallet file the CLI can open, and the car on the chain linked to a (stand-in) dongle sealing to the owner's RSA key.
  const walletFile = join(root, 'owner', 'wallet.json');
  const passphraseFile = join(root, 'passphrase');
  mkdirSync(join(root, 'owner'));
  writeFileSync(passphraseFile, 'owner passphrase\n');
  const device = deviceIdentity(deviceRoot(Uint8Array.from(randomBytes(32))));
  const wallet = await createWallet(walletFile, {
    mnemonic: generateMnemonic(), passphrase: 'owner passphrase', kdf: { N: 1024, r: 8, p: 1 },
    meta: {
      gatewayUrl: gw.apiUrl, chainRpcUrl: gw.chainRpcUrl!,
      devices: [{ deviceId: device.address, devicePublicKey: Buffer.from(device.publicKey).toString('hex'), vid: VID, vehicleIndex: 0, poolSize: 4, pairedAt: Date.now() }],
    },
  });
  const owner = ownerIdentity(wallet.root);
  const rsa = ownerRsaKeyPair(wallet.root);
  const { chainId } = await chain.status();
  const statement: DeviceSetupStatement = {
    vidHash: vehicleIdHash(VID), devicePublicKey: device.publicKey, ownerPublicKey: owner.publicKey, rsaFingerprint: rsaKeyFingerprint(rsa.publicKey),
    agent: 'sightings-test', time: Date.now(), nonce: Uint8Array.from(randomBytes(16)),
  };
  const setupBody = encodeDeviceSetupBody({ statement, ownerSignature: signDeviceSetup(statement, owner.privateKey), deviceSignature: signDeviceSetup(statement, device.privateKey) });
  await chain.submit(buildTx({ type: 'DeviceSetup', chainId, signerPriv: owner.privateKey, expiresAt: Date.now() + 600_000, body: setupBody }).bytes, { waitForCommit: true });

  // The shop: its key, three grants from the owner (only the first allows sightings and has its ticket at the shop).
  const shopDir = join(root, 'shop');
  const ticketsDir = join(shopDir, 'tickets');
  mkdirSync(ticketsDir, { recursive: true, mode: 0o700 });
  const shop = loadShopIdentity(join(shopDir, 'keystore.json'));
  const grant = (plate: string, formats: string[]) => issueWriteGrant({ root: wallet.root, ownerRsaPublicKey: rsa.publicKey, vid: VID, plate, shopPublicKey: shop.publicKey, formats, chain });
  const granted = await grant(GRANTED.printed, ['maintenance', 'plate-sighting']);
  const formatOnly = await grant(FORMAT_ONLY.printed, ['maintenance']);
  const noTicket = await grant(NO_TICKET.printed, ['plate-sighting']);
  writeFileSync(join(ticketsDir, 'granted.json'), JSON.stringify(granted.ticket));
  writeFileSync(join(ticketsDir, 'format-only.json'), JSON.stringify(formatOnly.ticket));

  const frames = join(root, 'frames');
  mkdirSync(frames);
  for (const [i, plate] of [STRANGER, GRANTED, FORMAT_ONLY, NO_TICKET].entries()) {
    const scene = await renderScene({ width: 1280, height: 720, text: plate.printed, x: 200 + 150 * i, y: 250, plateWidth: 220, seed: 9 });
    await sharp(Buffer.from(scene.image.data), { raw: { width: 1280, height: 720, channels: 3 } }).png().toFile(join(frames, `${i}.png`));
  }
  const config = (name: string, brokerUrl: string, cameraDir: string) => {
    const file = join(root, name);
    writeFileSync(file, [
      'terminal:', `  dataDir: ${shopDir}`,
      'camera:', `  directory: ${cameraDir}`, '  includeExisting: true',
      'chain:', `  rpc: [${gw.chainRpcUrl}]`,
      'uplink:', `  brokerUrl: ${brokerUrl}`, '  protocolVersion: 5',
      'sightings:', '  stopDrainMs: 60000',
      'log:', '  level: debug', '',
    ].join('\n'));
    return file;
  };
  const outboxPath = join(shopDir, 'sighting-outbox.db');
  const formatOnlyGrant = (): CachedGrant => ({
    id: formatOnly.writeGrantId, grantorPublicKey: owner.publicKey, vidHash: vehicleIdHash(VID), plateKey: new Uint8Array(32), formats: ['maintenance'],
    expiresAt: 0, revokedAt: 0, ownerCurrent: true, ticket: { vid: VID, ownerRsaPublicKey: rsa.publicKey },
  });
  const shopUplink = deviceTopics(shop.address).uplink;

  await t.test('broker away: the granted sighting is queued, the others are kept locally by reason; kill -9 keeps the queued record', async (t) => {
    const offline = caitRun(config('offline.yaml', `mqtt://127.0.0.1:${await freePort()}`, frames));
    running.add(offline.child);
    await waitFor('four frames read', () => (offline.lines.filter((l) => l.msg === 'frame').length >= 4 ? true : undefined));
    offline.child.kill('SIGKILL');
    t.match(await offline.exited, { signal: 'SIGKILL' });
    const queued = offline.lines.filter((l) => l.msg === 'sighting queued');
    t.same(queued.map((l) => l.grantId), [granted.writeGrantId], 'one record, for the grant that lists plate-sighting');
    const local = offline.lines.filter((l) => l.msg === 'sighting kept locally').map((l) => [l.grantId, l.reason]).sort();
    t.same(local, [[formatOnly.writeGrantId, 'FORMAT_NOT_GRANTED'], [noTicket.writeGrantId, 'NO_TICKET']].sort());
    t.same(offline.lines.filter((l) => l.msg === 'sighting').map((l) => l.plate).sort(), [GRANTED.canonical, FORMAT_ONLY.canonical, NO_TICKET.canonical].sort(), 'three kept sightings');
    t.notOk(offline.stdout.join('\n').includes(STRANGER.canonical), 'the stranger is not in the log');

    const outbox = SqliteOutbox.open({ path: outboxPath });
    try {
      t.equal(outbox.stats().records, 1, 'the queued record survived kill -9');
      const [entry] = outbox.peekBatch({ maxRecords: 10, maxBytes: 1 << 20 });
      t.match(entry, { address: shop.address, format: 'plate-sighting', id: queued[0]!.recordId });
    } finally {
      outbox.close();
    }
    t.equal(allBytes(shopDir).indexOf(Buffer.from(STRANGER.canonical)), -1, 'no file of the terminal holds the stranger\'s plate');
  });

  await t.test('broker back: the next run sends it, a SIGTERM stops with an empty outbox, the owner decrypts exactly the granted sighting', async (t) => {
    const idle = join(root, 'no-frames');
    mkdirSync(idle);
    const online = caitRun(config('online.yaml', broker.url, idle));
    running.add(online.child);
    const started = await waitFor('terminal started', () => online.lines.find((l) => l.msg === 'terminal started'));
    t.match(started, { waiting: 1, records: broker.url }, 'the record left by the killed run is waiting');
    const q: MaintenanceQuery & { ownerPrivateKey: Uint8Array } = {
      gatewayUrl: gw.apiUrl, chain, ownerAddress: owner.address, vids: [VID], formats: builtinFormatDictionary(), rsaPrivateKey: rsa.privateKey, ownerPrivateKey: owner.privateKey,
    };
    const found = await waitFor('the owner reads the sighting', async () => {
      const r = await sightingRecords(q);
      return r.records.length > 0 ? r : undefined;
    });
    online.child.kill('SIGTERM');
    t.match(await online.exited, { code: 0 });
    t.match(online.lines.find((l) => l.msg === 'terminal stopped'), { records: { queued: 0, waiting: 0 } });

    t.equal(found.records.length, 1);
    t.same(found.rejected, []);
    const rec = found.records[0]!;
    t.equal(rec.format, 'plate-sighting');
    t.match(rec.value, { VID, plate: GRANTED.canonical, shop: shop.address });
    t.ok((rec.value.confidence as number) > 0.5 && (rec.value.confidence as number) <= 1, 'confidence of the read');
    // Two grants of this car name the shop and list plate-sighting: the plate in the record picks the right one.
    t.match(rec, { vid: VID, writeGrantId: granted.writeGrantId, shopAddress: shop.address, key: { TERMINAL: shop.address } });
    t.equal(rec.verification.origin, true, 'signed by the shop key');
    t.same((await maintenanceRecords(q)).records, [], 'a sighting is not a maintenance record');

    const cliRun = await carchain(['wallet', '--wallet', walletFile, '--passphrase-file', passphraseFile, '--gateway', gw.apiUrl, '--chain', gw.chainRpcUrl!, 'sightings', '--json']);
    t.equal(cliRun.code, 0, cliRun.stderr);
    const out = JSON.parse(cliRun.stdout) as { records: { recordId: string; value: { plate: string }; writeGrantId: string }[]; shops: string[] };
    t.same(out.records.map((r) => [r.recordId, r.value.plate, r.writeGrantId]), [[rec.recordId, GRANTED.canonical, granted.writeGrantId]]);
    t.same(out.shops, [shop.address]);
  });

  await t.test('the broker saw exactly that one record from the shop, and no plate text in clear anywhere', async (t) => {
    const fromShop = seen.filter((m) => m.topic === shopUplink).flatMap((m) => decodeUplinkMessage(new Uint8Array(m.payload)).decodedRecords);
    t.same(fromShop.map((r) => [r.address, recordFormat(r)]), [[shop.address, 'plate-sighting']], 'one uplink record, the granted sighting');
    t.same(seen.filter((m) => m.topic.includes(shop.address)).map((m) => m.topic).filter((topic) => topic !== shopUplink).every((topic) => /\/(state|health)$/.test(topic)), true,
      'otherwise only the terminal\'s state and health');
    const everything = Buffer.concat(seen.flatMap((m) => [Buffer.from(m.topic), m.payload]));
    t.ok(everything.length > 0);
    for (const p of [STRANGER, FORMAT_ONLY, NO_TICKET]) {
      for (const probe of [p.printed, p.canonical, p.tail]) t.equal(everything.indexOf(Buffer.from(probe)), -1, `${probe} (not granted for sightings) never crossed the broker`);
    }
    t.equal(everything.indexOf(Buffer.from(GRANTED.canonical)), -1, 'the granted plate crossed only sealed');
    const kv = (await (await fetch(`${gw.apiUrl}/v1/kv/${shop.address}?format=plate-sighting`)).json()) as { entries: unknown[] };
    t.equal(kv.entries.length, 1, 'the gateway stores one sighting under the shop address');
  });

  await t.test('a shop that reports a plate the owner did not grant for sightings: the wallet rejects it', async (t) => {
    // A rogue terminal skips the format check; it holds the owner's RSA key from the maintenance-only grant's ticket.
    const rogue = { ...formatOnlyGrant(), formats: ['maintenance', 'plate-sighting'] };
    const record = sealSightingRecord(rogue, shop, { plate: FORMAT_ONLY.canonical, firstSeen: Date.now(), lastSeen: Date.now(), reads: 1, bestConfidence: 0.9, source: 'rogue' }, Date.now() + 5000);
    const uplink = new ShopUplink(shop, { outboxPath: join(root, 'rogue-outbox.db'), brokerUrl: broker.url });
    try {
      uplink.enqueue([record]);
      t.match(await uplink.deliver(60_000), { delivered: true }, 'the gateway takes it (it does not read grants)');
    } finally {
      uplink.close();
    }
    const q = { gatewayUrl: gw.apiUrl, chain, ownerAddress: owner.address, vids: [VID], formats: builtinFormatDictionary(), rsaPrivateKey: rsa.privateKey, ownerPrivateKey: owner.privateKey };
    const res = await sightingRecords(q);
    t.same(res.records.map((r) => r.value.plate), [GRANTED.canonical], 'still only the granted sighting');
    t.equal(res.rejected.length, 1);
    t.match(res.rejected[0]!.reason, /^PLATE_NOT_GRANTED/);
  });
});
