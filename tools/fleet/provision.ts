// Provisions dongles: per device a keystore, an MQTT/TLS client key + CSR + certificate, a dongle config and a pairing code.
//
// Resumable and idempotent: a device directory is built under a hidden temp name and renamed into
// place only when complete, so after a crash (or kill -9) every `devices/<label>/` is whole and is
// reused as is — its identity is never issued again — and leftover temp directories are discarded.
// The device id is the keystore's address (what the dongle uses as its MQTT topic level and, as
// `carchain-<id>`, its client id), so the certificate CN, the topics and the broker ACL all agree.
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { X509Certificate } from 'node:crypto';
import { join, relative } from 'node:path';
import { stringify as yamlStringify } from 'yaml';
import { parseDongleConfig } from '../../firmware/config/dongle-config.js';
import { FileKeystore } from '../../firmware/keystore/device-keystore.js';
import { deviceTopics } from '../../firmware/mqtt-topics.js';
import { PairingService } from '../../firmware/pairing/pairing-service.js';
import { FilePairingStateStore } from '../../firmware/pairing/pairing-state.js';
import { writeFileAtomic } from '../../firmware/storage/atomic-file.js';
import { caSummary, certificateFingerprint, issuedBy, issueIdentity, type FleetCa } from './fleet-ca.js';
import { FleetError } from './fleet-errors.js';
import { writeManifest, type DeviceEntry, type Manifest } from './device-manifest.js';

export interface ProvisionOptions {
  ca: FleetCa;
  out: string;
  prefix: string;
  count: number;
  /** mqtts://host:8883 or wss://…: the broker the dongles connect to. */
  brokerUrl: string;
  /** Certificate validity in days (capped at the CA's). */
  days?: number;
  keyBits?: number;
  /** Where the dongle keeps keystore.json and pairing.json on its own filesystem. */
  deviceDataDir?: string;
  /** Where ca.pem, device.pem and device.key live on the dongle. */
  deviceTlsDir?: string;
  obdPort?: string;
  gpsPort?: string | null;
  onProgress?: (done: number, total: number) => void;
}

export interface ProvisionResult {
  manifestFile: string;
  created: number;
  reused: number;
  devices: DeviceEntry[];
}

export const DEVICES_DIR = 'devices';
/** Files of a device directory; device.json is written last and marks it complete. */
export const DEVICE_FILES = {
  cert: 'device.pem', key: 'device.key', csr: 'device.csr', ca: 'ca.pem', keystore: 'keystore.json', pairing: 'pairing.json', config: 'dongle.yaml',
} as const;
const DEVICE_JSON = 'device.json';
const LOCK_FILE = '.provision.lock';
const PREFIX = /^[A-Za-z0-9_-]{1,40}$/;
const MANIFEST_EVERY = 25;

export function deviceLabel(prefix: string, n: number): string {
  return `${prefix}-${String(n).padStart(4, '0')}`;
}

function checkOptions(o: ProvisionOptions): void {
  if (!PREFIX.test(o.prefix)) throw new FleetError('USAGE', `--prefix must match ${PREFIX.source}, got ${JSON.stringify(o.prefix)}`);
  if (!Number.isInteger(o.count) || o.count < 1 || o.count > 100_000) throw new FleetError('USAGE', `--count must be an integer in 1..100000, got ${String(o.count)}`);
  if (!/^(mqtts|wss):\/\/[^/]+/.test(o.brokerUrl)) throw new FleetError('USAGE', `--broker must be an mqtts:// or wss:// URL (the device authenticates with its certificate), got ${JSON.stringify(o.brokerUrl)}`);
  if (o.days !== undefined && (!Number.isInteger(o.days) || o.days < 1)) throw new FleetError('USAGE', `--days must be a positive integer, got ${String(o.days)}`);
  if (o.keyBits !== undefined && ![2048, 3072, 4096].includes(o.keyBits)) throw new FleetError('USAGE', `--key-bits must be 2048, 3072 or 4096, got ${String(o.keyBits)}`);
}

/** One provisioning run per output directory at a time; a lock left by a killed run is taken over. */
function takeLock(out: string): () => void {
  const file = join(out, LOCK_FILE);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(file, `${process.pid}\n`, { flag: 'wx', mode: 0o600 });
      return () => rmSync(file, { force: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const pid = Number.parseInt(readFileSync(file, 'utf8'), 10);
      if (Number.isInteger(pid) && pid !== process.pid && processAlive(pid)) {
        throw new FleetError('PROVISION_BUSY', `${out} is being provisioned by process ${pid}; wait for it or stop it`, { temporary: true });
      }
      unlinkSync(file);
    }
  }
  throw new FleetError('USAGE', `cannot take ${file}`);
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function fsyncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

function dongleConfigYaml(o: ProvisionOptions, label: string, deviceId: string): string {
  const tlsDir = o.deviceTlsDir ?? '/etc/carchain';
  const document = {
    device: { dataDir: o.deviceDataDir ?? '/var/lib/carchain' },
    obd: { port: o.obdPort ?? '/dev/carchain-obd' },
    gps: { port: o.gpsPort === undefined ? '/dev/carchain-gps' : o.gpsPort },
    uplink: {
      brokerUrl: o.brokerUrl,
      tls: { ca: `${tlsDir}/${DEVICE_FILES.ca}`, cert: `${tlsDir}/${DEVICE_FILES.cert}`, key: `${tlsDir}/${DEVICE_FILES.key}` },
      protocolVersion: 5,
    },
  };
  parseDongleConfig(document, `${label}/${DEVICE_FILES.config}`); // the firmware's own schema: a config it would refuse is never written
  return `# ${label}: dongle config made by \`carchain fleet provision\`. MQTT device id ${deviceId} (topics ${deviceTopics(deviceId).uplink} …).\n${yamlStringify(document)}`;
}

function createDevice(o: ProvisionOptions, devicesDir: string, label: string): void {
  const tmp = join(devicesDir, `.${label}.tmp-${process.pid}`);
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { mode: 0o700 });
  const keystore = FileKeystore.loadOrCreate(join(tmp, DEVICE_FILES.keystore));
  const deviceId = keystore.deviceAddress;
  const identity = issueIdentity(o.ca, deviceId, { days: o.days ?? 1825, keyBits: o.keyBits ?? 2048, profile: { role: 'client' } });
  writeFileAtomic(join(tmp, DEVICE_FILES.key), identity.keyPem, 0o600);
  writeFileAtomic(join(tmp, DEVICE_FILES.csr), identity.csrPem, 0o644);
  writeFileAtomic(join(tmp, DEVICE_FILES.cert), identity.certPem, 0o644);
  writeFileAtomic(join(tmp, DEVICE_FILES.ca), o.ca.certPem, 0o644);
  const pairingCode = new PairingService(keystore, new FilePairingStateStore(join(tmp, DEVICE_FILES.pairing))).info().pairingCode!;
  writeFileAtomic(join(tmp, DEVICE_FILES.config), dongleConfigYaml(o, label, deviceId), 0o644);
  const x509 = new X509Certificate(identity.certPem);
  const record = {
    label, deviceId, clientId: `carchain-${deviceId}`, certSerial: x509.serialNumber.toLowerCase(), certFingerprint: certificateFingerprint(identity.certPem),
    certNotAfter: new Date(x509.validTo).toISOString(), pairingCode,
  };
  writeFileAtomic(join(tmp, DEVICE_JSON), `${JSON.stringify(record, null, 2)}\n`, 0o600);
  renameSync(tmp, join(devicesDir, label));
  fsyncDir(devicesDir);
}

/** Reads a finished device directory back, checking it is whole and belongs to this CA. */
export function readDevice(ca: FleetCa, out: string, label: string): DeviceEntry {
  const dir = join(out, DEVICES_DIR, label);
  const bad = (why: string) => new FleetError('DEVICE_DIR_INVALID', `${dir}: ${why}; move it away to provision ${label} again (this issues a new identity)`);
  let record: Omit<DeviceEntry, 'dir' | 'files'>;
  try {
    record = JSON.parse(readFileSync(join(dir, DEVICE_JSON), 'utf8')) as typeof record;
  } catch {
    throw bad(`no readable ${DEVICE_JSON}`);
  }
  for (const file of Object.values(DEVICE_FILES)) if (!existsSync(join(dir, file))) throw bad(`${file} is missing`);
  const certPem = readFileSync(join(dir, DEVICE_FILES.cert), 'utf8');
  if (!issuedBy(ca, certPem)) throw bad(`${DEVICE_FILES.cert} was not issued by the CA in ${ca.dir}`);
  if (certificateFingerprint(certPem) !== record.certFingerprint) throw bad(`${DEVICE_FILES.cert} is not the certificate recorded in ${DEVICE_JSON}`);
  const files = Object.fromEntries(Object.entries(DEVICE_FILES).map(([k, f]) => [k, relative(out, join(dir, f))])) as DeviceEntry['files'];
  return { label: record.label, deviceId: record.deviceId, clientId: record.clientId, certSerial: record.certSerial, certFingerprint: record.certFingerprint, certNotAfter: record.certNotAfter, pairingCode: record.pairingCode, dir: relative(out, dir), files };
}

function buildManifest(ca: FleetCa, entries: Map<string, DeviceEntry>): Manifest {
  const summary = caSummary(ca);
  const devices = [...entries.values()].sort((a, b) => a.label.localeCompare(b.label, 'en', { numeric: true }));
  return { version: 1, ca: { subject: summary.subject, fingerprint: summary.fingerprint }, devices };
}

export function provision(o: ProvisionOptions): ProvisionResult {
  checkOptions(o);
  const devicesDir = join(o.out, DEVICES_DIR);
  mkdirSync(devicesDir, { recursive: true, mode: 0o700 });
  const release = takeLock(o.out);
  try {
    // Temp dirs of an interrupted run are incomplete by construction: nothing in them was handed out.
    for (const name of readdirSync(devicesDir)) if (name.startsWith('.') && name.includes('.tmp-')) rmSync(join(devicesDir, name), { recursive: true, force: true });
    for (const name of readdirSync(o.out)) if (/^manifest\.(json|csv)\.\d+\.tmp$/.test(name)) rmSync(join(o.out, name), { force: true });
    const entries = new Map<string, DeviceEntry>();
    let created = 0;
    let reused = 0;
    for (let n = 1; n <= o.count; n++) {
      const label = deviceLabel(o.prefix, n);
      if (existsSync(join(devicesDir, label))) {
        reused++;
      } else {
        createDevice(o, devicesDir, label);
        created++;
      }
      entries.set(label, readDevice(o.ca, o.out, label));
      o.onProgress?.(n, o.count);
      if (n % MANIFEST_EVERY === 0) writeManifest(o.out, buildManifest(o.ca, entries));
    }
    // Devices of earlier, larger runs (or other prefixes) stay in the manifest.
    for (const name of readdirSync(devicesDir)) {
      if (name.startsWith('.') || entries.has(name) || !statSync(join(devicesDir, name)).isDirectory()) continue;
      entries.set(name, readDevice(o.ca, o.out, name));
    }
    const manifest = buildManifest(o.ca, entries);
    writeManifest(o.out, manifest);
    return { manifestFile: join(o.out, 'manifest.json'), created, reused, devices: manifest.devices };
  } finally {
    release();
  }
}
