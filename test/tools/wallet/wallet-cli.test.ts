// `carchain wallet …` as processes against a real gateway (embedded broker, SQLite KV, embedded validator) fed by a real paired simulated dongle.
import t, { type Test } from 'tap';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseDongleConfig } from '../../../firmware/config/dongle-config.js';
import { startDongleRuntime, type DongleRuntimeHandle } from '../../../firmware/runtime/dongle-runtime.js';
import { parseGatewayConfig } from '../../../gateway/node/gateway-config.js';
import { startGateway } from '../../../gateway/node/gateway-node.js';
import { masterKeyFromSeed, mnemonicToSeed } from '../../../protocol/hd-keys.js';
import { poolMaterialFor } from '../../../protocol/owner-keys.js';
import { derivePoolAddresses, utcDay } from '../../../protocol/pools.js';

// Some twenty CLI processes, each deriving scrypt and RSA keys: minutes on a busy 2-core machine.
t.setTimeout(900_000);

const cli = fileURLToPath(new URL('../../../tools/cli/carchain.ts', import.meta.url));
const VID = 'LBVNU79049SB81546';
const quiet = () => undefined;
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- CLI JSON output is checked field by field
type Json = any;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function carchain(args: string[], input?: string): Promise<Run> {
  return new Promise((resolve) => {
    const child = execFile(process.execPath, ['--import', 'tsx', cli, ...args], { encoding: 'utf8', timeout: 120_000, env: { ...process.env, CARCHAIN_WALLET_PASSPHRASE: '' } }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
    child.stdin?.end(input ?? '');
  });
}

async function jsonOf(t: Test, args: string[], input?: string): Promise<Json> {
  const run = await carchain(args, input);
  t.equal(run.code, 0, `carchain ${args.filter((a) => !a.startsWith('/')).join(' ')} → exit 0${run.code ? `: ${run.stderr}` : ''}`);
  return run.code === 0 ? JSON.parse(run.stdout) : null;
}

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

t.test('init → pair → a simulated drive → trips (verified, anchored) → trip show (HTML + PNG) → records → verify → reset → restore reads the old trip', async (t) => {
  t.setTimeout(840_000);
  const dir = mkdtempSync(join(tmpdir(), 'carchain-wallet-cli-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const gateway = await startGateway(parseGatewayConfig({
    gateway: { id: 'wallet-test', dataDir: join(dir, 'gateway') },
    broker: { embedded: { port: 0 } },
    api: { port: 0 },
    batches: { intervalMs: 200 },
    chain: { mode: 'embedded', blockIntervalMs: 200, anchorIntervalMs: 200 },
    log: { level: 'error' },
  }), quiet);
  t.teardown(() => gateway.stop());
  const dongleConfig = parseDongleConfig({
    device: { dataDir: join(dir, 'dongle') },
    obd: { port: 'sim:driving', snapshotIntervalMs: 1000, simTimeScale: 20, pids: { '0C': 1000, '0D': 1000 } },
    gps: { port: 'sim:route' },
    uplink: { brokerUrl: gateway.brokerUrl, protocolVersion: 4 },
    pairing: { port: 0 },
    log: { level: 'error' },
  });
  let dongle: DongleRuntimeHandle | null = await startDongleRuntime(dongleConfig, quiet);
  t.teardown(async () => {
    await dongle?.stop();
  });

  const walletFile = join(dir, 'owner', 'wallet.json');
  const pp = join(dir, 'passphrase');
  writeFileSync(pp, 'a long owner passphrase\n');
  const w = ['wallet', '--wallet', walletFile, '--passphrase-file', pp, '--gateway', gateway.apiUrl];
  const genesis = join(dir, 'gateway', 'chain', 'genesis.json');

  const init = await jsonOf(t, [...w, '--chain', gateway.chainRpcUrl!, 'init', '--genesis', genesis, '--json']);
  t.equal(init.mnemonic.split(' ').length, 24, 'a 24-word mnemonic');
  t.match(init.ownerAddress, /^1[1-9A-HJ-NP-Za-km-z]{25,34}$/);
  t.equal(statSync(walletFile).mode & 0o777, 0o600, 'wallet file 0600');
  t.notOk(readFileSync(walletFile, 'utf8').includes(init.mnemonic.split(' ').slice(0, 3).join(' ')), 'the words are not in the file');

  const info = (await (await fetch(`${dongle.pairingUrl}/pairing`)).json()) as { pairingCode: string; deviceAddress: string };
  const paired = await jsonOf(t, [...w, 'pair', '--url', dongle.pairingUrl, '--code', info.pairingCode, '--vid', VID, '--pool-size', '4', '--json']);
  t.match(paired, { deviceId: info.deviceAddress, vid: VID, vehicleIndex: 0, poolSize: 4, authorised: 4 });
  t.match(paired.setupTxId, /^[0-9a-f]{64}$/, 'DeviceSetup committed on the chain (chain URL remembered from init)');
  const devices = await jsonOf(t, ['wallet', '--wallet', walletFile, 'devices', '--json']);
  t.match(devices, [{ deviceId: info.deviceAddress, vid: VID, vehicleIndex: 0, poolSize: 4, setupTxId: paired.setupTxId }], 'devices needs no passphrase');

  // Drive for a while. Stopping the dongle cuts the trip and commits it to the outbox; the next start
  // sends it (the uplink does not publish while stopping), so start again and wait for an empty outbox.
  await new Promise((r) => setTimeout(r, 8000));
  await dongle.stop();
  dongle = await startDongleRuntime(dongleConfig, quiet);
  const running = dongle;
  await until('the outbox drained', () => Promise.resolve((running.stats().outbox as { records: number }).records === 0 && (running.stats().monitor as { recordsEmitted: number }).recordsEmitted > 0));
  // The trip's batch anchored: read straight from the gateway under the pool addresses the words derive.
  const pool = derivePoolAddresses(poolMaterialFor(masterKeyFromSeed(mnemonicToSeed(init.mnemonic)), 0, 4));
  await until('the trip anchored', async () => {
    for (const address of pool) {
      const page = (await (await fetch(`${gateway.apiUrl}/v1/kv/${address}?format=trip-gps&proofs=1`)).json()) as { entries: { proof?: { anchor?: unknown } }[] };
      if (page.entries.some((e) => e.proof?.anchor)) return true;
    }
    return false;
  });
  const day = (offset: number) => { const d = utcDay(Date.now() + offset * 86_400_000); return `${d.slice(0, 4)}-${d.slice(4, 6)}-${d.slice(6)}`; };
  const range = ['--from', day(-1), '--to', day(1)];
  const trips = await jsonOf(t, [...w, 'trips', ...range, '--json']);
  t.same(trips.rejected, [], 'no record failed verification');
  t.ok(trips.trips.length >= 1, `${trips.trips.length} trip(s) listed`);
  const trip = trips.trips[0];
  t.match(trip, { vid: VID, verification: { origin: true, inclusion: 'anchored' } });
  t.ok(trip.points > 2, `${trip.points} GPS points`);
  t.ok(trip.distanceM > 0 && trip.durationS > 0);
  const text = await carchain([...w, 'trips', ...range]);
  t.match(text.stdout, new RegExp(`${trip.id} .*anchored@\\d+`), 'the table shows the trip and its anchor height');

  const html = join(dir, 'trip.html');
  const png = join(dir, 'trip.png');
  const shown = await jsonOf(t, [...w, 'trip', 'show', trip.id, '--html', html, '--png', png, '--json']);
  t.equal(shown.recordId, trip.recordId);
  t.equal(shown.track.length, trip.points);
  const page = readFileSync(html, 'utf8');
  t.match(page, /<svg [^>]*class="trip-map"[\s\S]*<polyline [^>]*stroke="#[0-9a-f]{6}"/, 'the HTML holds an inline SVG with a polyline');
  t.notOk(/https?:\/\//.test(page), 'no http(s) URL in the HTML: it works offline');
  t.match(page, /<circle class="start"/);
  t.same([...readFileSync(png).subarray(0, 4)], [0x89, 0x50, 0x4e, 0x47], 'a PNG was written');
  const byRecordId = await jsonOf(t, [...w, 'trip', 'show', trip.recordId, ...range, '--json']);
  t.equal(byRecordId.id, trip.id, 'the same trip found by its record id');
  const missing = await carchain([...w, 'trip', 'show', `0-${trip.id.split('-')[1]}-999999`]);
  t.equal(missing.code, 1, 'an unknown trip: exit 1');
  t.match(missing.stderr, /TRIP_NOT_FOUND/);

  const snapshots = await jsonOf(t, [...w, 'records', '--format', 'obd-snapshot', ...range, '--columns', 'pids', '--json']);
  t.ok(snapshots.records.length > 0, `${snapshots.records.length} obd-snapshot records`);
  t.ok(snapshots.records.every((r: Json) => Object.keys(r.value).join() === 'pids' && r.format === 'obd-snapshot'), 'only the pids column');
  t.ok(snapshots.records.every((r: Json) => r.verification.origin === true), 'every origin proof verified');
  t.ok(snapshots.records.some((r: Json) => r.verification.inclusion === 'anchored'), 'batch inclusion verified up to an anchored root');
  const badColumn = await carchain([...w, 'records', '--format', 'obd-snapshot', ...range, '--columns', 'nope']);
  t.equal(badColumn.code, 1);
  t.match(badColumn.stderr, /VALUE_SCHEMA_MISMATCH/);
  const badFormat = await carchain([...w, 'records', '--format', 'no-such-format']);
  t.equal(badFormat.code, 1);
  t.match(badFormat.stderr, /FORMAT_UNKNOWN/);

  // A proof file from the gateway, checked offline against the genesis the wallet remembered.
  const proofFile = join(dir, 'proof.json');
  const res = await fetch(`${gateway.apiUrl}/v1/records/${trip.recordId}/proof-file`);
  t.equal(res.status, 200);
  writeFileSync(proofFile, await res.text());
  const verified = await jsonOf(t, ['wallet', '--wallet', walletFile, 'verify', proofFile, '--json']);
  t.match(verified, { valid: true, recordId: trip.recordId });
  t.ok(verified.height > 0);
  const proof: Json = JSON.parse(readFileSync(proofFile, 'utf8'));
  proof.record.path[0] = proof.record.path[0] ? `${proof.record.path[0].slice(0, -1)}${proof.record.path[0].endsWith('0') ? '1' : '0'}` : '00'.repeat(32);
  writeFileSync(proofFile, JSON.stringify(proof));
  const forged = await carchain(['wallet', 'verify', proofFile, '--genesis', genesis]);
  t.equal(forged.code, 1, 'a tampered proof: exit 1');
  t.match(forged.stderr, /NOT_INCLUDED|PROOF/);

  const wrong = join(dir, 'wrong');
  writeFileSync(wrong, 'not it\n');
  const denied = await carchain(['wallet', '--wallet', walletFile, '--passphrase-file', wrong, 'trips']);
  t.equal(denied.code, 1);
  t.match(denied.stderr, /WRONG_PASSPHRASE/);
  const usage = await carchain([...w, 'trips', '--from', 'yesterday-ish']);
  t.equal(usage.code, 2, 'a bad date is a usage error');

  // Reset the dongle (it comes back with a new pairing code), then restore the wallet from its words
  // into a new file and pair again with the same vehicle index and pool size: the old trip is readable.
  const reset = await jsonOf(t, [...w, 'reset', '--url', dongle.pairingUrl, '--json']);
  t.match(reset, { deviceId: info.deviceAddress });
  t.match(reset.resetTxId, /^[0-9a-f]{64}$/, 'DeviceReset committed on the chain');
  const after = (await (await fetch(`${dongle.pairingUrl}/pairing`)).json()) as { claimed: boolean; pairingCode: string };
  t.equal(after.claimed, false, 'the dongle is unclaimed');

  const restoredFile = join(dir, 'restored.json');
  const r = ['wallet', '--wallet', restoredFile, '--passphrase-file', pp, '--gateway', gateway.apiUrl, '--chain', gateway.chainRpcUrl!];
  const restored = await jsonOf(t, [...r, 'restore', '--json'], `${init.mnemonic}\n`);
  t.equal(restored.ownerAddress, init.ownerAddress, 'restore: the same owner');
  const again = await jsonOf(t, [...r, 'pair', '--url', dongle.pairingUrl, '--code', after.pairingCode, '--vid', VID, '--vehicle', '0', '--pool-size', '4', '--json']);
  t.match(again.setupTxId, /^[0-9a-f]{64}$/, 'the same owner sets the dongle up again on the chain');
  await dongle.stop();
  dongle = null;
  const old = await jsonOf(t, [...r, 'trips', ...range, '--json']);
  t.ok(old.trips.some((x: Json) => x.recordId === trip.recordId), 'the restored wallet reads the trip recorded before the reset');
  const exists = await carchain([...r, 'restore'], `${init.mnemonic}\n`);
  t.equal(exists.code, 1);
  t.match(exists.stderr, /KEYSTORE_EXISTS/);
});
