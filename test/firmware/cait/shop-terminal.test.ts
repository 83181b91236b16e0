// Shop side of WriteGrants end to end on the embedded stack: grant → `shop maintenance add` (a process) → gateway → the owner's wallet decrypts; unauthorised plates leave no trace; `cait run` keeps only granted sightings.
import t from 'tap';
import { execFile, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { connect } from 'mqtt';
import { ChainClient } from '../../../gateway/chain/client/chain-client.js';
import { loadCaitConfig } from '../../../firmware/cait/cait-config.js';
import { PrivacyFilter } from '../../../firmware/cait/privacy-filter.js';
import { ShopUplink } from '../../../firmware/cait/maintenance-jobs.js';
import { loadShopIdentity } from '../../../firmware/cait/shop-identity.js';
import { openShopTerminal, syncTerminal } from '../../../firmware/cait/shop-terminal.js';
import { builtinFormatDictionary, timeKey } from '../../../protocol/builtin-formats.js';
import { sealRecord } from '../../../protocol/record.js';
import { startEmbeddedStack, type EmbeddedStack } from '../../../tools/stack/embedded-stack.js';
import { STACK_VID } from '../../../tools/stack/stack-wallet.js';
import { maintenanceRecords } from '../../../tools/wallet/maintenance-records.js';
import { OwnerWallet } from '../../../tools/wallet/owner-wallet.js';
import { issueWriteGrant, revokeWriteGrant } from '../../../tools/wallet/write-grant-flow.js';
import { renderScene } from './fixtures/plate-scene.js';

const cli = fileURLToPath(new URL('../../../tools/cli/carchain.ts', import.meta.url));

interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

function run(args: string[]): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', cli, ...args], { encoding: 'utf8', timeout: 180_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, timeoutMs = 120_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** Every file under dir, concatenated: the "nothing stored anywhere" check reads raw bytes, not just rows. */
function allBytes(dir: string): Buffer {
  const parts: Buffer[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) parts.push(readFileSync(join(entry.parentPath, entry.name)));
  }
  return Buffer.concat(parts);
}

const GRANTED = '浙D·137ET';
const GRANTED_CANONICAL = '浙D137ET';
const STRANGER = '鲁B·7K2Q8';
const STRANGER_CANONICAL = '鲁B7K2Q8';

t.test('WriteGrant → shop maintenance add → gateway → owner wallet; refusals and the privacy filter', async (t) => {
  t.setTimeout(900_000);
  const root = mkdtempSync(join(tmpdir(), 'carchain-shop-'));
  let stack: EmbeddedStack | null = null;
  const mqttSeen: { topic: string; payload: Buffer }[] = [];
  let sniffer: ReturnType<typeof connect> | null = null;
  t.teardown(async () => {
    await sniffer?.endAsync(true);
    await stack?.stop();
    rmSync(root, { recursive: true, force: true });
  });
  stack = await startEmbeddedStack({ dataDir: join(root, 'stack'), apiPort: 0, brokerPort: 0, batchIntervalMs: 500, log: () => undefined });
  const s = stack;
  // Everything anyone publishes, on every topic, to check that no plate text ever crosses the broker.
  const sniff = connect(s.brokerUrl, { protocolVersion: 4, reconnectPeriod: 0 });
  sniffer = sniff;
  await new Promise<void>((resolve, reject) => {
    sniff.once('connect', () => sniff.subscribe('#', { qos: 0 }, (err) => (err ? reject(err) : resolve())));
    sniff.once('error', reject);
  });
  sniff.on('message', (topic, payload) => mqttSeen.push({ topic, payload: Buffer.from(payload) }));

  const shopDir = join(root, 'shop');
  const ticketsDir = join(shopDir, 'tickets');
  mkdirSync(ticketsDir, { recursive: true });
  const config = join(root, 'cait.yaml');
  writeFileSync(config, [
    'terminal:', `  dataDir: ${shopDir}`, `  ticketsDir: ${ticketsDir}`,
    'camera:', `  directory: ${join(root, 'frames')}`, '  includeExisting: true',
    'chain:', `  rpc: [${s.chainRpcUrl}]`,
    'uplink:', `  brokerUrl: ${s.brokerUrl}`, '  protocolVersion: 4', '  deliverTimeoutMs: 60000',
    'log:', '  level: debug', '',
  ].join('\n'));

  const identity = await run(['shop', 'identity', '--config', config, '--json']);
  t.equal(identity.code, 0, identity.stderr);
  const shop = JSON.parse(identity.stdout) as { address: string; publicKey: string };
  t.match(shop.publicKey, /^0[23][0-9a-f]{64}$/);

  const wallet = await OwnerWallet.open(s.wallet.path, readFileSync(s.wallet.passphraseFile, 'utf8').trim());
  const chain = new ChainClient([s.chainRpcUrl]);
  const granted = await issueWriteGrant({
    root: wallet.root, ownerRsaPublicKey: wallet.rsaKeyPair().publicKey, vid: STACK_VID, plate: GRANTED,
    shopPublicKey: Uint8Array.from(Buffer.from(shop.publicKey, 'hex')), chain,
  });
  t.match(granted.writeGrantId, /^[0-9a-f]{64}$/);
  writeFileSync(join(ticketsDir, `${granted.writeGrantId}.json`), JSON.stringify(granted.ticket));

  await t.test('the shop sees the grant and the ticket, without any plate text', async (t) => {
    const r = await run(['shop', 'grants', '--config', config, '--json']);
    t.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout) as { grants: number; usable: number; fresh: boolean; list: { id: string; ticket: boolean; usable: boolean }[] };
    t.match(out, { grants: 1, usable: 1, fresh: true });
    t.match(out.list[0], { id: granted.writeGrantId, ticket: true, usable: true });
    t.notOk(r.stdout.includes(GRANTED_CANONICAL), 'the grant list has no plate');
  });

  let recordId = '';
  let second: { writeGrantId: string } | null = null;
  await t.test('a granted plate: the job is delivered, stored by the gateway and decrypted by the owner', async (t) => {
    const r = await run(['shop', 'maintenance', 'add', '--config', config, '--plate', '浙d 137et', '--mileage', '84210', '--work', 'oil change', '--parts', 'oil-filter,oil-5w30', '--json']);
    t.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout) as { recordId: string; address: string; writeGrantId: string; delivered: boolean };
    t.match(out, { address: shop.address, writeGrantId: granted.writeGrantId, delivered: true });
    recordId = out.recordId;
    const found = await waitFor('the owner reads the record', async () => {
      const res = await maintenanceRecords({
        gatewayUrl: s.apiUrl, chain, ownerAddress: wallet.ownerAddress, vids: [STACK_VID], formats: builtinFormatDictionary(), rsaPrivateKey: wallet.rsaKeyPair().privateKey,
      });
      return res.records.length > 0 ? res : undefined;
    });
    t.equal(found.records.length, 1);
    t.equal(found.rejected.length, 0);
    const rec = found.records[0]!;
    t.equal(rec.recordId, recordId);
    t.equal(rec.format, 'maintenance');
    t.same(rec.value, { VID: STACK_VID, mileage_km: 84210, work: 'oil change', parts: ['oil-filter', 'oil-5w30'], shop: shop.address });
    t.equal(rec.key.SHOP, shop.address);
    t.equal(rec.verification.origin, true, 'origin proof: signed by the shop key');
  });

  await t.test('the owner reads it with `carchain wallet maintenance` too', async (t) => {
    const r = await run(['wallet', '--wallet', s.wallet.path, '--passphrase-file', s.wallet.passphraseFile, '--gateway', s.apiUrl, '--chain', s.chainRpcUrl, 'maintenance', '--json']);
    t.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout) as { records: { recordId: string; value: { work: string }; writeGrantId: string }[]; rejected: unknown[]; shops: string[] };
    t.same(out.records.map((x) => [x.recordId, x.value.work, x.writeGrantId]), [[recordId, 'oil change', granted.writeGrantId]]);
    t.same(out.shops, [shop.address]);
  });

  await t.test('an unauthorised plate is refused and leaves nothing in the DB, the outbox, the gateway or MQTT', async (t) => {
    const before = mqttSeen.length;
    const r = await run(['shop', 'maintenance', 'add', '--config', config, '--plate', STRANGER, '--mileage', '1000', '--work', 'tyres', '--json']);
    t.equal(r.code, 1);
    t.match(r.stderr, /NOT_AUTHORISED/);
    t.notOk(r.stderr.includes(STRANGER_CANONICAL) || r.stderr.includes(STRANGER), 'the error does not echo the plate');
    t.equal(r.stdout, '');
    const kv = await (await fetch(`${s.apiUrl}/v1/kv/${shop.address}?format=maintenance`)).json() as { entries: unknown[] };
    t.equal(kv.entries.length, 1, 'still only the granted job under the shop address');
    await new Promise((r) => setTimeout(r, 500));
    t.equal(mqttSeen.slice(before).filter((m) => m.topic === `carchain/v1/devices/${shop.address}/uplink`).length, 0, 'the shop published no uplink message');
  });

  await t.test('a grant without the owner\'s ticket, bad input, and --help', async (t) => {
    const ticketFile = join(root, 'second-ticket.json'); // deliberately not put in the shop's tickets dir
    const issued = await run(['wallet', '--wallet', s.wallet.path, '--passphrase-file', s.wallet.passphraseFile, '--chain', s.chainRpcUrl,
      'write-grant', '--shop', shop.publicKey, '--plate', '沪C·55555', '--ticket', ticketFile, '--json']);
    t.equal(issued.code, 0, issued.stderr);
    second = JSON.parse(issued.stdout) as { writeGrantId: string };
    t.match(JSON.parse(readFileSync(ticketFile, 'utf8')), { version: 1, writeGrantId: second.writeGrantId, vid: STACK_VID });
    const noTicket = await run(['shop', 'maintenance', 'add', '--config', config, '--plate', '沪C55555', '--mileage', '5', '--work', 'wipers']);
    t.equal(noTicket.code, 1);
    t.match(noTicket.stderr, /NO_TICKET/);
    const bad = await run(['shop', 'maintenance', 'add', '--config', config, '--plate', GRANTED, '--mileage', 'lots', '--work', 'x']);
    t.equal(bad.code, 2);
    t.match(bad.stderr, /--mileage/);
    const help = await run(['shop', 'maintenance', 'add', '--help']);
    t.equal(help.code, 0);
    t.match(help.stdout, /Example:/);
  });

  await t.test('the privacy filter keeps only granted reads; no unauthorised plate in the log or any file', async (t) => {
    const cfg = loadCaitConfig(config);
    const terminal = openShopTerminal(cfg);
    const lines: string[] = [];
    try {
      await syncTerminal(terminal, Date.now());
      const filter = new PrivacyFilter(terminal.store, {}, (level, message, fields) => lines.push(JSON.stringify({ level, message, ...fields })));
      const now = Date.now();
      t.equal(filter.observe({ plate: STRANGER_CANONICAL, confidence: 0.99, source: 'test' }, now), null);
      const kept = filter.observe({ plate: GRANTED_CANONICAL, confidence: 0.95, source: 'test' }, now);
      t.match(kept, { plate: GRANTED_CANONICAL, grantId: granted.writeGrantId, reads: 1 });
      t.equal(filter.observe({ plate: GRANTED_CANONICAL, confidence: 0.97, source: 'test' }, now + 1000), null, 'same visit: one sighting');
      t.same(filter.stats(), { reads: 3, dropped: 1, matched: 2, sightings: 1 });
      t.same(terminal.store.sightings().map((x) => x.plate), [GRANTED_CANONICAL]);
    } finally {
      terminal.close();
    }
    t.ok(lines.some((l) => l.includes(GRANTED_CANONICAL)), 'the granted sighting is logged');
    t.notOk(lines.some((l) => l.includes(STRANGER_CANONICAL)), 'the stranger is not');
    t.equal(allBytes(shopDir).indexOf(Buffer.from(STRANGER_CANONICAL)), -1, 'no file of the terminal holds the stranger\'s plate');
    t.equal(Buffer.concat(mqttSeen.map((m) => m.payload)).indexOf(Buffer.from(STRANGER_CANONICAL)), -1, 'and no MQTT payload');
    t.equal(Buffer.concat(mqttSeen.map((m) => m.payload)).indexOf(Buffer.from(GRANTED_CANONICAL)), -1, 'not even the granted plate crosses the broker in clear');
  });

  await t.test('cait run on a watched directory: only the granted plate produces a sighting; its grant lists no plate-sighting, so nothing is sent', async (t) => {
    const before = mqttSeen.length;
    const frames = join(root, 'frames');
    mkdirSync(frames, { recursive: true });
    for (const [name, text, x] of [['a-stranger.png', STRANGER, 800], ['b-granted.png', GRANTED, 100]] as const) {
      const scene = await renderScene({ width: 1280, height: 720, text, x, y: 300, plateWidth: 200, seed: 9 });
      await sharp(Buffer.from(scene.image.data), { raw: { width: 1280, height: 720, channels: 3 } }).png().toFile(join(frames, name));
    }
    const child = spawn(process.execPath, ['--import', 'tsx', cli, 'cait', 'run', '--config', config], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString('utf8')));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    t.teardown(() => void child.kill('SIGKILL'));
    await waitFor('both frames read', () => ((stdout.match(/"msg":"frame"/g) ?? []).length >= 2 ? true : undefined), 600_000);
    child.kill('SIGTERM');
    t.equal(await exited, 0, stderr);
    const events = stdout.trim().split('\n').map((l) => JSON.parse(l) as { msg: string; plate?: string; grantId?: string; reads?: number; dropped?: number });
    const sightings = events.filter((e) => e.msg === 'sighting');
    t.same(sightings.map((e) => [e.plate, e.grantId]), [[GRANTED_CANONICAL, granted.writeGrantId]]);
    t.match(events.find((e) => e.msg === 'terminal stopped'), { sightings: 1, dropped: 1, records: { queued: 0, local: { FORMAT_NOT_GRANTED: 1 }, waiting: 0 } });
    t.same(events.filter((e) => e.msg === 'sighting kept locally').map((e) => [e.grantId, (e as { reason?: string }).reason]), [[granted.writeGrantId, 'FORMAT_NOT_GRANTED']],
      'the grant allows maintenance only: the sighting stays on the terminal');
    t.equal(events.filter((e) => e.msg === 'sighting queued').length, 0);
    t.equal(mqttSeen.slice(before).filter((m) => m.topic === `carchain/v1/devices/${shop.address}/uplink`).length, 0, 'the terminal published no record');
    const during = Buffer.concat(mqttSeen.slice(before).flatMap((m) => [Buffer.from(m.topic), m.payload]));
    for (const probe of [STRANGER_CANONICAL, STRANGER, GRANTED_CANONICAL]) t.equal(during.indexOf(Buffer.from(probe)), -1, `${probe} not on any topic or payload`);
    t.notOk(stdout.includes(STRANGER_CANONICAL), 'the stranger\'s plate is not in the log');
    t.equal(allBytes(shopDir).indexOf(Buffer.from(STRANGER_CANONICAL)), -1, 'nor in any terminal file');
  });

  await t.test('after the owner revokes the grant the shop is refused', async (t) => {
    await revokeWriteGrant(wallet.root, granted.writeGrantId, chain);
    const r = await run(['shop', 'maintenance', 'add', '--config', config, '--plate', GRANTED, '--mileage', '90000', '--work', 'brakes']);
    t.equal(r.code, 1);
    t.match(r.stderr, /NOT_AUTHORISED/);
    const res = await maintenanceRecords({
      gatewayUrl: s.apiUrl, chain, ownerAddress: wallet.ownerAddress, vids: [STACK_VID], formats: builtinFormatDictionary(), rsaPrivateKey: wallet.rsaKeyPair().privateKey,
    });
    t.same(res.records.map((x) => x.recordId), [recordId], 'the job written while the grant was in force is still the owner\'s');
  });

  await t.test('a shop that writes anyway after every grant ended: the owner\'s wallet rejects the record', async (t) => {
    await revokeWriteGrant(wallet.root, second!.writeGrantId, chain);
    // A rogue terminal skips the grant check: it still holds the owner's RSA key from the ticket.
    const identity = loadShopIdentity(join(shopDir, 'keystore.json'));
    const record = sealRecord(builtinFormatDictionary().get('maintenance'), identity.address, { TIME: timeKey(Date.now()), SHOP: identity.address, JOB_ID: 7 },
      { VID: STACK_VID, mileage_km: 1, work: 'unwanted', shop: identity.address }, wallet.rsaKeyPair().publicKey);
    const uplink = new ShopUplink(identity, { outboxPath: join(root, 'rogue-outbox.db'), brokerUrl: s.brokerUrl, protocolVersion: 4 });
    try {
      uplink.enqueue([record]);
      t.match(await uplink.deliver(60_000), { delivered: true }, 'the gateway takes it (it does not consult the chain)');
    } finally {
      uplink.close();
    }
    const res = await maintenanceRecords({
      gatewayUrl: s.apiUrl, chain, ownerAddress: wallet.ownerAddress, vids: [STACK_VID], formats: builtinFormatDictionary(), rsaPrivateKey: wallet.rsaKeyPair().privateKey,
    });
    t.same(res.records.map((x) => x.recordId), [recordId]);
    t.equal(res.rejected.length, 1);
    t.match(res.rejected[0]!.reason, /^WRITE_GRANT_ENDED/);
  });
});
