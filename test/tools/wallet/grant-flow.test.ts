// Grants end to end: an owner's records in a real gateway (in-process: embedded broker, SQLite KV, embedded validator),
// a Grant committed and its keys re-wrapped by the library, the grantee reading exactly what was granted (library and
// `carchain wallet shared` as a process), nothing else readable, and nothing at all after the revocation; then the
// owner's `carchain wallet grant|grants|revoke` as processes over a wallet file.
import t from 'tap';
import { execFile } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { connectAsync } from 'mqtt';
import { ChainClient } from '../../../gateway/chain/client/chain-client.js';
import { parseGatewayConfig } from '../../../gateway/node/gateway-config.js';
import { startGateway } from '../../../gateway/node/gateway-node.js';
import { builtinFormatDictionary } from '../../../protocol/builtin-formats.js';
import { deviceRoot, devicePoolKey } from '../../../protocol/device-keys.js';
import { generateMnemonic, masterKeyFromSeed, mnemonicToSeed } from '../../../protocol/hd-keys.js';
import { ownerIdentity, ownerRsaKeyPair, poolKeyPair, poolMaterialFor } from '../../../protocol/owner-keys.js';
import { authorisePoolKey } from '../../../protocol/pool-authorisation.js';
import { derivePoolAddresses, poolIndexForDate } from '../../../protocol/pools.js';
import { decodeRecord, encodeRecord, openRecord, recordId, sealRecord, type SealedRecord } from '../../../protocol/record.js';
import { createUplinkMessage, encodeUplinkMessage } from '../../../protocol/uplink.js';
import { createGrant, listGrants, readShared, revokeGrant } from '../../../tools/wallet/grant-flow.js';
import { createWallet } from '../../../tools/wallet/wallet-keystore.js';

const cli = fileURLToPath(new URL('../../../tools/cli/carchain.ts', import.meta.url));
const formats = builtinFormatDictionary();
const mnemonic = generateMnemonic(new Uint8Array(32).fill(0x41));
const root = masterKeyFromSeed(mnemonicToSeed(mnemonic));
const POOL_SIZE = 4;
const material = poolMaterialFor(root, 0, POOL_SIZE);
const pool = derivePoolAddresses(material);
const DAYS = [20261118, 20261119, 20261120, 20261121, 20261122];
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

function runCli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', cli, ...args], { encoding: 'utf8', timeout: 120_000 }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : -1, stdout, stderr });
    });
  });
}

/** One dtc and one obd-snapshot per day, each under that day's pool address, sealed to the owner. */
function ownerRecords(): { day: number; format: string; record: SealedRecord; index: number }[] {
  const ownerRsa = ownerRsaKeyPair(root).publicKey;
  return DAYS.flatMap((day) => {
    const index = poolIndexForDate(material.userSeed, String(day), POOL_SIZE);
    const address = pool[index]!;
    return [
      { day, format: 'dtc', index, record: sealRecord(formats.get('dtc'), address, { TIME: day * 1_000_000 + 93000, SESSION_ID: 1 }, { VID: 'LBVNU79049SB81546', stored: [`P0${day % 100}`] }, ownerRsa) },
      { day, format: 'obd-snapshot', index, record: sealRecord(formats.get('obd-snapshot'), address, { TIME: day * 1_000_000 + 93001, SEQ: 1 }, { VID: 'LBVNU79049SB81546', pids: { rpm: 800 } }, ownerRsa) },
    ];
  });
}

t.test('grant → grantee reads exactly the granted records (library and CLI); outside records and revoked grants are refused', async (t) => {
  t.setTimeout(300_000);
  const dir = mkdtempSync(join(tmpdir(), 'carchain-grant-flow-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const quiet = (): void => undefined;
  const gateway = await startGateway(parseGatewayConfig({
    gateway: { id: 'grants', dataDir: join(dir, 'gateway') },
    broker: { embedded: { host: '127.0.0.1', port: 0 } },
    kv: { backend: 'sqlite' },
    batches: { intervalMs: 200 },
    chain: { mode: 'embedded', rpcHost: '127.0.0.1', rpcPort: 0, blockIntervalMs: 50 },
    api: { host: '127.0.0.1', port: 0 },
  }), quiet);
  t.teardown(() => gateway.stop());
  const chain = new ChainClient([gateway.chainRpcUrl!]);

  // The dongle's side: one uplink message per pool address, signed by that address's device key.
  const records = ownerRecords();
  const device = deviceRoot(new Uint8Array(32).fill(0x51));
  const mqtt = await connectAsync(gateway.brokerUrl, { protocolVersion: 4, clientId: 'grant-dongle', reconnectPeriod: 0 });
  for (const index of new Set(records.map((r) => r.index))) {
    const key = devicePoolKey(device, index);
    const authorisation = authorisePoolKey(poolKeyPair(root, 0, index).privateKey, { devicePublicKey: key.publicKey, notBefore: Date.now() - 3_600_000, notAfter: Date.now() + 86_400_000 });
    const message = createUplinkMessage(records.filter((r) => r.index === index).map((r) => r.record), authorisation, key.privateKey);
    await mqtt.publishAsync('carchain/v1/devices/grant-dongle/uplink', Buffer.from(encodeUplinkMessage(message)), { qos: 1 });
  }
  await mqtt.endAsync();
  t.equal((await gateway.stats()).ingest.accepted, records.length, 'every record is stored (the PUBACK waits for the KV)');

  // The grantee: any RSA key pair and an address.
  const grantee = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const granteeAddress = ownerIdentity(masterKeyFromSeed(new Uint8Array(64).fill(0x42))).address;
  const privatePem = join(dir, 'grantee-private.pem');
  writeFileSync(privatePem, grantee.privateKey.export({ type: 'pkcs8', format: 'pem' }));

  const created = await createGrant(
    { root, vehicle: { index: 0, poolSize: POOL_SIZE }, grantee: granteeAddress, granteeRsaPublicKeyPem: grantee.publicKey.export({ type: 'spki', format: 'pem' }) as string, fromDay: 20261119, toDay: 20261121, formats: ['dtc'] },
    { gatewayUrl: gateway.apiUrl, chain },
  );
  const granted = records.filter((r) => r.format === 'dtc' && r.day >= 20261119 && r.day <= 20261121);
  t.match(created, { grantId: /^[0-9a-f]{64}$/, records: granted.length }, 'three dtc records (19th..21st) shared');
  t.ok(created.height !== null && created.height > 0, 'the Grant is committed');

  const shared = await readShared({ grantId: created.grantId, granteeRsaPrivateKeyPem: grantee.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string }, gateway.apiUrl);
  const id = (r: SealedRecord) => hex(recordId(r.address, r.encodedKey));
  t.same(shared.map((s) => s.recordId).sort(), granted.map((g) => id(g.record)).sort(), 'exactly the granted records');
  for (const s of shared) {
    const g = granted.find((x) => id(x.record) === s.recordId)!;
    t.same({ format: s.format, value: s.value }, { format: 'dtc', value: { VID: 'LBVNU79049SB81546', stored: [`P0${g.day % 100}`] } }, `decrypted ${g.day}`);
  }

  // Outside the grant: no wrapped key exists, the gateway refuses to store one, and the owner's own wrapped key does not open for the grantee.
  const outside = records.filter((r) => !granted.includes(r));
  const missing = await (await fetch(`${gateway.apiUrl}/v1/grants/${created.grantId}/keys?${outside.map((o) => `recordId=${id(o.record)}`).join('&')}`)).json() as { keys: unknown[]; missing: string[] };
  t.same([missing.keys.length, missing.missing.length], [0, outside.length], 'no wrapped key for any record outside the grant');
  const put = await fetch(`${gateway.apiUrl}/v1/grants/${created.grantId}/keys`, {
    method: 'PUT', headers: { 'content-type': 'application/json' },
    body: JSON.stringify(outside.map((o) => ({ recordId: id(o.record), wrappedKey: 'ab'.repeat(256), address: o.record.address, key: hex(o.record.encodedKey) })).slice(0, 1)),
  });
  t.equal(put.status, 403, 'a key for a record outside the grant is refused');
  const sealed = decodeRecord(encodeRecord(outside[0]!.record));
  t.throws(() => openRecord(sealed, formats, grantee.privateKey), { code: 'ENVELOPE_OPEN_FAILED' }, 'the grantee cannot open a record without its re-wrapped key');

  const viaCli = await runCli(['wallet', 'shared', '--grant', created.grantId, '--key', privatePem, '--gateway', gateway.apiUrl, '--json']);
  t.equal(viaCli.code, 0, `carchain wallet shared exits 0 ${viaCli.stderr}`);
  const cliRecords = (JSON.parse(viaCli.stdout || '{"records":[]}') as { records: { recordId: string; format: string }[] }).records;
  t.same(cliRecords.map((r) => r.recordId).sort(), granted.map((g) => id(g.record)).sort(), 'the CLI prints the same records');

  const listed = await listGrants(root, chain);
  t.match(listed, [{ grantId: created.grantId, grantee: granteeAddress, fromDay: 20261119, toDay: 20261121, formats: ['dtc'], active: true, revokedAt: 0 }]);

  await revokeGrant(root, created.grantId, chain);
  t.match(await listGrants(root, chain), [{ grantId: created.grantId, active: false, revokedAt: Number }]);
  // The gateway reuses a grant it read for up to 2 s (DEFAULT_GRANT_CACHE_TTL_MS) before it sees the revocation.
  let refused: unknown = null;
  for (let i = 0; i < 60 && refused === null; i++) {
    refused = await readShared({ grantId: created.grantId, granteeRsaPrivateKeyPem: grantee.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string }, gateway.apiUrl).then(() => null, (err: unknown) => err);
    if (refused === null) await new Promise((r) => setTimeout(r, 250));
  }
  t.match(refused, { code: 'GRANT_REFUSED' }, 'after the revocation the gateway refuses the keys');
  const cliRefused = await runCli(['wallet', 'shared', '--grant', created.grantId, '--key', privatePem, '--gateway', gateway.apiUrl]);
  t.equal(cliRefused.code, 1, 'the CLI exits 1');
  t.match(cliRefused.stderr, /GRANT_REFUSED/);

  // The owner's commands, as processes, over a wallet file (a cheap scrypt: the file says which parameters it uses).
  const walletFile = join(dir, 'wallet.json');
  writeFileSync(join(dir, 'passphrase'), 'grant test passphrase\n');
  await createWallet(walletFile, { mnemonic, passphrase: 'grant test passphrase', kdf: { N: 1024, r: 8, p: 1 } });
  const publicPem = join(dir, 'grantee-public.pem');
  writeFileSync(publicPem, grantee.publicKey.export({ type: 'spki', format: 'pem' }));
  const owner = ['wallet', '--wallet', walletFile, '--passphrase-file', join(dir, 'passphrase'), '--gateway', gateway.apiUrl, '--chain', gateway.chainRpcUrl!];
  const cliGrant = await runCli([...owner, 'grant', '--to', granteeAddress, '--rsa', publicPem, '--from', '2026-11-20', '--to', '2026-11-22', '--formats', 'dtc,obd-snapshot', '--vehicle', '0', '--pool-size', String(POOL_SIZE), '--json']);
  t.equal(cliGrant.code, 0, `carchain wallet grant exits 0 ${cliGrant.stderr}`);
  const second = JSON.parse(cliGrant.stdout || '{}') as { grantId: string; records: number };
  t.equal(second.records, 6, 'dtc and obd-snapshot of the 20th..22nd');
  const cliList = await runCli([...owner, 'grants', '--json']);
  t.equal(cliList.code, 0, `carchain wallet grants exits 0 ${cliList.stderr}`);
  const grantsJson = JSON.parse(cliList.stdout || '[]') as { grantId: string; active: boolean }[];
  t.same(grantsJson.map((g) => [g.grantId, g.active]).sort(), [[created.grantId, false], [second.grantId, true]].sort(), 'both grants, the first revoked');
  const cliShared = await runCli(['wallet', 'shared', '--grant', second.grantId, '--key', privatePem, '--gateway', gateway.apiUrl]);
  t.equal(cliShared.code, 0);
  t.match(cliShared.stdout, /^6 shared record\(s\)\n/, 'the text listing');
  const cliRevoke = await runCli([...owner, 'revoke', second.grantId, '--json']);
  t.equal(cliRevoke.code, 0, `carchain wallet revoke exits 0 ${cliRevoke.stderr}`);
  const again = await runCli([...owner, 'revoke', second.grantId]);
  t.equal(again.code, 1, 'revoking twice is refused by the chain (ALREADY_REVOKED)');
  t.match(again.stderr, /ALREADY_REVOKED/);
  const usage = await runCli([...owner, 'grant', '--to', granteeAddress, '--rsa', publicPem, '--from', '2026-11-20', '--formats', 'dtc']);
  t.equal(usage.code, 2, 'no last day: a usage error');
});
