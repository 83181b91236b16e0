// The car lock end to end as processes: a real validator, `carchain lock serve`, and the owner's and a delegate's `wallet` lock commands over TCP and the MQTT relay.
import t from 'tap';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { ChainClient } from '../../../../gateway/chain/client/chain-client.js';
import { startLocalValidator } from '../../../../gateway/chain/node/local-validator.js';
import { buildTx } from '../../../../protocol/chain/transactions.js';
import { encodeDeviceSetupBody } from '../../../../protocol/chain/tx-bodies.js';
import { signDeviceSetup, vehicleIdHash, type DeviceSetupStatement } from '../../../../protocol/device-statements.js';
import { sha256 } from '../../../../protocol/hash.js';
import { generateMnemonic, masterKeyFromSeed, mnemonicToSeed } from '../../../../protocol/hd-keys.js';
import { ownerIdentity } from '../../../../protocol/owner-keys.js';
import { publicKeyFromPrivate } from '../../../../protocol/signature.js';
import { utf8 } from '../../../../protocol/wire.js';
import { createWallet } from '../../../../tools/wallet/wallet-keystore.js';

t.setTimeout(300_000);
const carchain = fileURLToPath(new URL('../../../../tools/cli/carchain.ts', import.meta.url));

const VID = 'LBVNU79049SB81546';
const dir = mkdtempSync(join(tmpdir(), 'carchain-wallet-lock-'));
const chain = await startLocalValidator({ dataDir: join(dir, 'chain'), blockIntervalMs: 50, emptyBlockIntervalMs: 200 });
const children = new Set<ChildProcess>();
t.teardown(async () => {
  for (const c of children) c.kill('SIGKILL');
  await chain.stop();
  rmSync(dir, { recursive: true, force: true });
});
const rpc = chain.rpc.url;
const client = new ChainClient([rpc]);

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}
function run(script: string, args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', script, ...args], { timeout: 120_000, encoding: 'utf8' }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof err.code === 'number' ? err.code : -1;
      resolve({ code, stdout, stderr });
    });
  });
}

async function makeWallet(name: string) {
  const mnemonic = generateMnemonic();
  const path = join(dir, `${name}.wallet.json`);
  const passphraseFile = join(dir, `${name}.pass`);
  writeFileSync(passphraseFile, `${name}-passphrase\n`);
  await createWallet(path, { mnemonic, passphrase: `${name}-passphrase`, kdf: { N: 1024, r: 8, p: 1 } });
  const id = ownerIdentity(masterKeyFromSeed(mnemonicToSeed(mnemonic)));
  const wallet = (...args: string[]) => run(carchain, ['wallet', '--wallet', path, '--passphrase-file', passphraseFile, '--chain', rpc, ...args]);
  return { id, wallet };
}

const owner = await makeWallet('owner');
const buyer = await makeWallet('buyer');

// The vehicle on the chain, owned by the wallet's identity key (what pairing a dongle does).
{
  const device = sha256(utf8(`device-${dir}`));
  const statement: DeviceSetupStatement = {
    vidHash: vehicleIdHash(VID), devicePublicKey: publicKeyFromPrivate(device), ownerPublicKey: owner.id.publicKey, rsaFingerprint: sha256(utf8('rsa')),
    agent: 'test', time: Date.now(), nonce: Uint8Array.from(randomBytes(16)),
  };
  const setup = { statement, ownerSignature: signDeviceSetup(statement, owner.id.privateKey), deviceSignature: signDeviceSetup(statement, device) };
  await client.submit(buildTx({ type: 'DeviceSetup', chainId: chain.genesis.chainId, signerPriv: owner.id.privateKey, expiresAt: Date.now() + 60_000, body: encodeDeviceSetupBody(setup) }).bytes, { waitForCommit: true });
}

// The lock: its config, then `lock serve` as a process printing JSON lines.
const relayDevice = `t-lock-${process.pid}-${randomBytes(4).toString('hex')}`;
const configFile = join(dir, 'lock.yaml');
writeFileSync(configFile, [
  `vehicle: { vid: ${VID} }`,
  'dataDir: lock-data',
  `trust: { genesis: ${JSON.stringify(chain.genesisFile)} }`,
  'listen: { host: 127.0.0.1, port: 0 }',
  `relay: { brokerUrl: "mqtt://127.0.0.1:1883", deviceId: ${relayDevice} }`,
  `keySet: { chainRpc: [${JSON.stringify(rpc)}], pollMs: 200 }`,
  '',
].join('\n'));

interface LockLine {
  event: string;
  kind?: string;
  detail?: string;
  epoch?: number;
  tcp?: string;
  lockPublicKey?: string;
  key?: string | null;
}
const lines: LockLine[] = [];
const lineWaiters: (() => void)[] = [];
async function lockLine(predicate: (l: LockLine) => boolean, what: string, from = 0): Promise<LockLine> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const hit = lines.slice(from).find(predicate);
    if (hit !== undefined) return hit;
    if (Date.now() > deadline) throw new Error(`lock never printed ${what}; got ${JSON.stringify(lines.slice(from))}`);
    await new Promise<void>((resolve) => {
      lineWaiters.push(resolve);
      setTimeout(resolve, 500);
    });
  }
}

t.test('lock pubkey, lock serve, the first key set from the chain, then the owner unlocks over TCP and locks over MQTT', async (t) => {
  const pub = await run(carchain, ['lock', 'pubkey', '--config', configFile, '--json']);
  t.equal(pub.code, 0, pub.stderr);
  const lockPublicKey = (JSON.parse(pub.stdout) as { lockPublicKey: string }).lockPublicKey;
  t.match(lockPublicKey, /^0[23][0-9a-f]{64}$/);

  const serve = spawn(process.execPath, ['--import', 'tsx', carchain, 'lock', 'serve', '--config', configFile, '--json'], { stdio: ['ignore', 'pipe', 'inherit'] });
  children.add(serve);
  serve.once('exit', () => children.delete(serve));
  createInterface({ input: serve.stdout }).on('line', (l) => {
    lines.push(JSON.parse(l) as LockLine);
    for (const w of lineWaiters.splice(0)) w();
  });
  const ready = await lockLine((l) => l.event === 'ready', 'ready');
  t.equal(ready.lockPublicKey, lockPublicKey, 'the key `lock pubkey` printed');
  t.equal(ready.epoch, 0, 'no key set yet');
  const via = `tcp://${ready.tcp!}`;
  const relay = `mqtt://127.0.0.1:1883/${relayDevice}`;

  const refused = await owner.wallet('unlock', '--vehicle', VID, '--via', via, '--lock-key', lockPublicKey);
  t.equal(refused.code, 1, 'nothing opens a lock without a key set');
  t.match(refused.stderr, /NO_KEYSET/);

  const init = await owner.wallet('keys', 'init', '--vehicle', VID, '--lock-key', lockPublicKey, '--json');
  t.equal(init.code, 0, init.stderr);
  t.equal((JSON.parse(init.stdout) as { epoch: number }).epoch, 1);
  await lockLine((l) => l.kind === 'keyset' && /^installed epoch 1 /.test(l.detail ?? ''), 'epoch 1 installed from the chain');

  const mark = lines.length;
  const unlock = await owner.wallet('unlock', '--vehicle', VID, '--via', via, '--json');
  t.equal(unlock.code, 0, unlock.stderr);
  t.same(JSON.parse(unlock.stdout), { command: 'unlock', ok: true, epoch: 1, state: { locked: false, engineOn: false, trunkOpen: false }, as: owner.id.address });
  const decision = await lockLine((l) => l.kind === 'command', 'the unlock decision', mark);
  t.equal(decision.detail, 'unlock ok');
  t.equal(decision.key, Buffer.from(owner.id.publicKey).toString('hex'), 'the lock says who');

  const lock = await owner.wallet('lock', '--vehicle', VID, '--via', relay);
  t.equal(lock.code, 0, lock.stderr);
  t.match(lock.stdout, /^lock: done \(epoch 1; locked/);
  await lockLine((l) => l.kind === 'command' && l.detail === 'lock ok', 'the lock decision over the relay', mark);
});

t.test('a delegate: added with a window and permissions, refused over them, revoked → refused with KEY_REVOKED', async (t) => {
  const keyFile = join(dir, 'alice.lock-key.json');
  const add = await owner.wallet('keys', 'add', '--vehicle', VID, '--name', 'alice', '--key-out', keyFile, '--permissions', 'unlock,lock', '--until', new Date(Date.now() + 3600_000).toISOString(), '--json');
  t.equal(add.code, 0, add.stderr);
  const added = JSON.parse(add.stdout) as { epoch: number; delegates: { permissions: string[] }[] };
  t.equal(added.epoch, 2);
  t.same(added.delegates[0]!.permissions, ['unlock', 'lock']);
  await lockLine((l) => l.kind === 'keyset' && /^rotated epoch 2 /.test(l.detail ?? ''), 'epoch 2');

  const ok = await owner.wallet('unlock', '--vehicle', VID, '--via', `mqtt://127.0.0.1:1883/${relayDevice}`, '--key-file', keyFile);
  t.equal(ok.code, 0, `the delegate unlocks over the relay: ${ok.stderr}`);
  const over = await owner.wallet('start', '--vehicle', VID, '--via', `mqtt://127.0.0.1:1883/${relayDevice}`, '--key-file', keyFile);
  t.equal(over.code, 1);
  t.match(over.stderr, /error PERMISSION_DENIED/, 'start is not hers');

  const list = await owner.wallet('keys', 'list', '--vehicle', VID);
  t.equal(list.code, 0, list.stderr);
  t.match(list.stdout, /key set epoch 2/);
  t.match(list.stdout, /delegate +0[23][0-9a-f]{64} .* unlock,lock/);

  const revoke = await owner.wallet('keys', 'revoke', '--vehicle', VID, '--key-file', keyFile);
  t.equal(revoke.code, 0, revoke.stderr);
  await lockLine((l) => l.kind === 'keyset' && /^rotated epoch 3 /.test(l.detail ?? ''), 'epoch 3');
  const tcp = lines.find((l) => l.event === 'ready')!.tcp!;
  const refused = await owner.wallet('unlock', '--vehicle', VID, '--via', `tcp://${tcp}`, '--key-file', keyFile);
  t.equal(refused.code, 1, 'a revoked delegate: non-zero exit');
  t.match(refused.stderr, /error KEY_REVOKED/);
  await lockLine((l) => l.kind === 'auth-failed' && l.detail === 'KEY_REVOKED', 'the refusal');
});

t.test('transfer: the buyer accepts, the seller transfers; once the lock has the new epoch the old owner is refused, the new one opens', async (t) => {
  const acceptance = join(dir, 'acceptance.json');
  const accept = await buyer.wallet('transfer-accept', '--vehicle', VID, '--out', acceptance);
  t.equal(accept.code, 0, accept.stderr);
  const wrongTo = await owner.wallet('transfer', '--vehicle', VID, '--to', owner.id.address, '--acceptance', acceptance);
  t.equal(wrongTo.code, 1, 'an acceptance by someone else than --to');
  t.match(wrongTo.stderr, /TRANSFER_INVALID/);
  const transfer = await owner.wallet('transfer', '--vehicle', VID, '--to', buyer.id.address, '--acceptance', acceptance, '--out', join(dir, 'keyset-4.json'), '--json');
  t.equal(transfer.code, 0, transfer.stderr);
  const published = JSON.parse(transfer.stdout) as { epoch: number; owner: { address: string }; revoked: string[] };
  t.equal(published.epoch, 4);
  t.equal(published.owner.address, buyer.id.address);
  t.ok(published.revoked.includes(Buffer.from(owner.id.publicKey).toString('hex')), 'the seller is revoked');
  await lockLine((l) => l.kind === 'keyset' && /^rotated epoch 4 /.test(l.detail ?? ''), 'epoch 4');

  const tcp = `tcp://${lines.find((l) => l.event === 'ready')!.tcp!}`;
  const seller = await owner.wallet('unlock', '--vehicle', VID, '--via', tcp);
  t.equal(seller.code, 1, 'the old owner is refused');
  t.match(seller.stderr, /error KEY_REVOKED/);
  const newOwner = await buyer.wallet('unlock', '--vehicle', VID, '--via', tcp, '--json');
  t.equal(newOwner.code, 0, newOwner.stderr);
  t.equal((JSON.parse(newOwner.stdout) as { epoch: number }).epoch, 4);
  const oldKeys = await owner.wallet('keys', 'add', '--vehicle', VID, '--key', Buffer.from(owner.id.publicKey).toString('hex').replace(/^0[23]/, '02'), '--permissions', 'unlock');
  t.equal(oldKeys.code, 1, 'the seller can no longer change the key set');
  t.match(oldKeys.stderr, /NOT_OWNER/);
});

t.test('lock serve offline from a key-set file, --listen given on the command line, human output; SIGTERM exits 0', async (t) => {
  const config2 = join(dir, 'lock2.yaml');
  writeFileSync(config2, [
    `vehicle: { vid: ${VID} }`, 'dataDir: lock-data-2', 'lockKeyFile: lock-data/lock-key.json',
    `trust: { genesis: ${JSON.stringify(chain.genesisFile)} }`, 'keySet: { file: keyset-4.json }', '',
  ].join('\n'));
  const serve = spawn(process.execPath, ['--import', 'tsx', carchain, 'lock', 'serve', '--config', config2, '--listen', '127.0.0.1:0'], { stdio: ['ignore', 'pipe', 'inherit'] });
  children.add(serve);
  const out: string[] = [];
  const exited = new Promise<number | null>((resolve) => serve.once('exit', (code) => {
    children.delete(serve);
    resolve(code);
  }));
  const ready = await new Promise<string>((resolve, reject) => {
    createInterface({ input: serve.stdout }).on('line', (l) => {
      out.push(l);
      if (l.startsWith('lock ready:')) resolve(l);
    });
    void exited.then((code) => reject(new Error(`lock serve exited ${code}: ${out.join('\n')}`)));
  });
  t.match(out[0], /epoch 4 keyset installed epoch 4 height \d+/, 'the file\'s set, verified from the genesis, before the link opens');
  const port = /tcp 127\.0\.0\.1:(\d+)/.exec(ready)![1];
  t.match(ready, /^lock ready: epoch 4, lock key 0[23][0-9a-f]{64}, tcp 127\.0\.0\.1:\d+$/);
  const lockKey = /lock key ([0-9a-f]{66})/.exec(ready)![1]!;
  const r = await buyer.wallet('trunk', '--vehicle', VID, '--via', `tcp://127.0.0.1:${port}`, '--lock-key', lockKey);
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, /^trunk: done \(epoch 4; locked, engine off, trunk open\)/);
  for (let i = 0; i < 100 && !out.some((l) => /command trunk ok key/.test(l)); i++) await new Promise((res) => setTimeout(res, 100));
  t.ok(out.some((l) => /^\S+Z epoch 4 command trunk ok key 0[23]/.test(l)), 'one line for the decision');
  serve.kill('SIGTERM');
  t.equal(await exited, 0, 'a clean stop');
});

t.test('usage errors exit 2', async (t) => {
  const r = await owner.wallet('unlock', '--vehicle', VID, '--via', 'ftp://x');
  t.equal(r.code, 2);
  t.match(r.stderr, /--via expects/);
  const help = await run(carchain, ['lock', 'serve', '--help']);
  t.equal(help.code, 0);
  t.match(help.stdout, /Example:/);
});
