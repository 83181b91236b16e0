// `carchain fleet ca init` and `fleet provision` as processes: the CA, device identities that agree with the
// firmware (CN = keystore address = topic level), the manifest, and resuming after kill -9 without re-issuing.
import t from 'tap';
import { spawn } from 'node:child_process';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadDongleConfig } from '../../../firmware/config/dongle-config.js';
import { FileKeystore } from '../../../firmware/keystore/device-keystore.js';
import { cliPath, repoRoot, runCli, runJson, tempDir } from './fleet-cli.js';

t.setTimeout(900_000);
const dir = tempDir(t, 'fleet-provision');
const caDir = join(dir, 'ca');

interface Entry { label: string; deviceId: string; clientId: string; certSerial: string; certFingerprint: string; pairingCode: string; dir: string; files: Record<string, string> }
interface ProvisionOut { manifest: string; created: number; reused: number; devices: Entry[] }
const mode = (path: string) => statSync(path).mode & 0o777;
const fingerprints = (entries: Entry[]) => Object.fromEntries(entries.map((e) => [e.label, e.certFingerprint]));

t.test('ca init: an RSA 3072 self-signed CA, key 0600, and it refuses to overwrite itself', async (t) => {
  const summary = await runJson<{ certFile: string; keyFile: string; subject: string }>(['fleet', 'ca', 'init', '--out', caDir, '--name', 'Acme Fleet CA', '--days', '30']);
  const cert = new X509Certificate(readFileSync(summary.certFile));
  t.equal(cert.ca, true, 'basicConstraints CA');
  t.equal(cert.subject, 'CN=Acme Fleet CA');
  t.equal(cert.issuer, cert.subject, 'self-signed');
  t.ok(cert.verify(cert.publicKey), 'its own signature verifies');
  t.equal(cert.publicKey.asymmetricKeyDetails?.modulusLength, 3072);
  t.ok(cert.checkPrivateKey(createPrivateKey(readFileSync(summary.keyFile))), 'ca.key is the key of ca.pem');
  t.equal(mode(summary.keyFile), 0o600);
  const before = readFileSync(summary.keyFile, 'utf8');
  const again = await runCli(['fleet', 'ca', 'init', '--out', caDir]);
  t.equal(again.code, 1, again.stderr);
  t.match(again.stderr, /CA_EXISTS/);
  t.equal(readFileSync(summary.keyFile, 'utf8'), before, 'the existing key is untouched');
});

t.test('provision: per device an identity the dongle, the broker and the topics agree on; re-running keeps it', async (t) => {
  const out = join(dir, 'fleet');
  const first = await runJson<ProvisionOut>(['fleet', 'provision', '--ca', caDir, '--count', '2', '--prefix', 'acme', '--out', out, '--broker', 'mqtts://mqtt.acme.example:8883']);
  t.equal(first.created, 2);
  t.same(first.devices.map((d) => d.label), ['acme-0001', 'acme-0002']);
  const ca = new X509Certificate(readFileSync(join(caDir, 'ca.pem')));
  for (const entry of first.devices) {
    const at = (file: string) => join(out, file);
    const cert = new X509Certificate(readFileSync(at(entry.files.cert!)));
    const keystore = FileKeystore.loadOrCreate(at(entry.files.keystore!));
    t.equal(entry.deviceId, keystore.deviceAddress, `${entry.label}: the device id is the keystore's address`);
    t.equal(cert.subject, `CN=${entry.deviceId}`, 'CN = device id (the MQTT username under use_identity_as_username)');
    t.equal(entry.clientId, `carchain-${entry.deviceId}`, 'the uplink\'s client id');
    t.ok(cert.checkIssued(ca) && cert.verify(ca.publicKey), 'signed by the CA');
    t.ok(cert.checkPrivateKey(createPrivateKey(readFileSync(at(entry.files.key!)))), 'device.key is the certificate\'s key');
    t.equal(cert.serialNumber.toLowerCase(), entry.certSerial);
    t.equal(cert.fingerprint256.toLowerCase(), entry.certFingerprint);
    t.match(readFileSync(at(entry.files.csr!), 'utf8'), /BEGIN CERTIFICATE REQUEST/);
    for (const secret of ['key', 'keystore', 'pairing']) t.equal(mode(at(entry.files[secret]!)), 0o600, `${secret} is 0600`);
    const config = loadDongleConfig(at(entry.files.config!));
    t.same(config.uplink.tls, { ca: '/etc/carchain/ca.pem', cert: '/etc/carchain/device.pem', key: '/etc/carchain/device.key' });
    t.equal(config.uplink.brokerUrl, 'mqtts://mqtt.acme.example:8883');
    t.equal(config.device.dataDir, '/var/lib/carchain');
    const pairing = JSON.parse(readFileSync(at(entry.files.pairing!), 'utf8')) as { pairingSecret: string; owner: unknown };
    t.equal(entry.pairingCode, `carchain-pair:v1:${entry.deviceId}:${pairing.pairingSecret}`, 'the code the dongle\'s pairing endpoint accepts');
    t.equal(pairing.owner, null);
  }
  const csv = readFileSync(join(out, 'manifest.csv'), 'utf8').trim().split('\n');
  t.equal(csv.length, 3, 'header + 2 rows');
  t.match(csv[1]!, new RegExp(`^acme-0001,${first.devices[0]!.deviceId},`));
  t.equal(mode(join(out, 'manifest.json')), 0o600, 'the manifest holds pairing codes');

  const second = await runJson<ProvisionOut>(['fleet', 'provision', '--ca', caDir, '--count', '3', '--prefix', 'acme', '--out', out]);
  t.equal(second.created, 1);
  t.equal(second.reused, 2);
  t.same(fingerprints(second.devices.slice(0, 2)), fingerprints(first.devices), 'existing identities are not re-issued');
  t.equal(new Set(second.devices.map((d) => d.deviceId)).size, 3);

  const otherCa = join(dir, 'other-ca');
  t.equal((await runCli(['fleet', 'ca', 'init', '--out', otherCa])).code, 0);
  const wrongCa = await runCli(['fleet', 'provision', '--ca', otherCa, '--count', '3', '--prefix', 'acme', '--out', out]);
  t.equal(wrongCa.code, 1);
  t.match(wrongCa.stderr, /DEVICE_DIR_INVALID.*not issued by the CA/);
  writeFileSync(join(out, '.provision.lock'), `${process.pid}\n`); // a live run holds the directory
  const busy = await runCli(['fleet', 'provision', '--ca', caDir, '--count', '3', '--prefix', 'acme', '--out', out]);
  t.equal(busy.code, 75, 'another live run: a temporary error');
  t.match(busy.stderr, /PROVISION_BUSY/);
  rmSync(join(out, '.provision.lock'));
  const usage = await runCli(['fleet', 'provision', '--ca', caDir, '--count', '1', '--prefix', 'acme', '--out', out, '--broker', 'mqtt://plain:1883']);
  t.equal(usage.code, 2, 'a broker URL without TLS is a usage error');
  t.match(usage.stderr, /mqtts:\/\//);
});

t.test('kill -9 mid-run, then re-run: finished devices keep their identities, the rest are created, no temp dirs remain', async (t) => {
  const out = join(dir, 'killed');
  const devices = join(out, 'devices');
  const args = ['fleet', 'provision', '--ca', caDir, '--count', '12', '--prefix', 'bus', '--out', out];
  const child = spawn(process.execPath, ['--import', 'tsx', cliPath, ...args], { cwd: repoRoot, stdio: 'ignore' });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const finished = () => (existsSync(devices) ? readdirSync(devices).filter((n) => !n.startsWith('.')) : []);
  for (let i = 0; i < 12_000 && finished().length < 2 && child.exitCode === null; i++) await new Promise((r) => setTimeout(r, 10));
  child.kill('SIGKILL');
  await exited;
  const done = finished();
  t.ok(done.length >= 2 && done.length < 12, `killed after ${done.length} of 12 devices`);
  const before = Object.fromEntries(done.map((label) => [label, JSON.parse(readFileSync(join(devices, label, 'device.json'), 'utf8')) as Entry]));
  // What a crash inside a device leaves behind: a temp dir that was never renamed into place.
  mkdirSync(join(devices, '.bus-0012.tmp-999999'), { recursive: true });
  writeFileSync(join(devices, '.bus-0012.tmp-999999', 'keystore.json'), '{"half":');

  const resumed = await runJson<ProvisionOut>(args);
  t.equal(resumed.reused, done.length);
  t.equal(resumed.created, 12 - done.length);
  t.equal(resumed.devices.length, 12);
  for (const [label, entry] of Object.entries(before)) {
    const now = resumed.devices.find((d) => d.label === label)!;
    t.same([now.deviceId, now.certSerial, now.certFingerprint, now.pairingCode], [entry.deviceId, entry.certSerial, entry.certFingerprint, entry.pairingCode], `${label} unchanged`);
  }
  t.equal(new Set(resumed.devices.map((d) => d.deviceId)).size, 12, 'every device has its own identity');
  t.equal(new Set(resumed.devices.map((d) => d.certSerial)).size, 12);
  t.same(readdirSync(devices).filter((n) => n.startsWith('.')), [], 'no temp dirs left');
  t.notOk(existsSync(join(out, '.provision.lock')), 'the lock is released');
});
