// The provisioning manifest: one entry per device (id, certificate serial and fingerprint, pairing code, paths), as JSON and CSV.
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { writeFileAtomic } from '../../firmware/storage/atomic-file.js';
import { FleetError } from './fleet-errors.js';

/** What `provision` records for one device; paths are relative to the manifest's directory. */
export interface DeviceEntry {
  /** `<prefix>-<n>`: the integrator's label (directory name, sticker), not an identity. */
  label: string;
  /** The keystore's P2PKH address: the MQTT topic level, the certificate CN and the broker username. */
  deviceId: string;
  /** The MQTT client id the dongle's uplink uses (`carchain-<deviceId>`). */
  clientId: string;
  certSerial: string;
  certFingerprint: string;
  certNotAfter: string;
  /** `carchain-pair:v1:<deviceId>:<secret>`, printed on the device's label / QR code. */
  pairingCode: string;
  dir: string;
  files: { cert: string; key: string; csr: string; ca: string; keystore: string; pairing: string; config: string };
}

export interface Manifest {
  version: 1;
  /** Subject and fingerprint of the CA that issued every certificate listed. */
  ca: { subject: string; fingerprint: string };
  devices: DeviceEntry[];
}

export const MANIFEST_JSON = 'manifest.json';
export const MANIFEST_CSV = 'manifest.csv';

const CSV_COLUMNS = ['label', 'deviceId', 'clientId', 'certSerial', 'certFingerprint', 'certNotAfter', 'pairingCode', 'dir', 'cert', 'key', 'config', 'keystore'] as const;

function csvField(value: string): string {
  return /[",\n\r]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}

export function manifestCsv(manifest: Manifest): string {
  const rows = manifest.devices.map((d) => {
    const flat: Record<(typeof CSV_COLUMNS)[number], string> = {
      label: d.label, deviceId: d.deviceId, clientId: d.clientId, certSerial: d.certSerial, certFingerprint: d.certFingerprint,
      certNotAfter: d.certNotAfter, pairingCode: d.pairingCode, dir: d.dir, cert: d.files.cert, key: d.files.key, config: d.files.config, keystore: d.files.keystore,
    };
    return CSV_COLUMNS.map((c) => csvField(flat[c])).join(',');
  });
  return `${[CSV_COLUMNS.join(','), ...rows].join('\n')}\n`;
}

/** Both files, each replaced atomically; the pairing codes in them are secrets, so 0600. */
export function writeManifest(outDir: string, manifest: Manifest): void {
  writeFileAtomic(resolve(outDir, MANIFEST_JSON), `${JSON.stringify(manifest, null, 2)}\n`, 0o600);
  writeFileAtomic(resolve(outDir, MANIFEST_CSV), manifestCsv(manifest), 0o600);
}

export function readManifest(file: string): { manifest: Manifest; baseDir: string } {
  let parsed: Manifest;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8')) as Manifest;
  } catch (cause) {
    throw new FleetError('MANIFEST_INVALID', `cannot read ${file}: ${(cause as Error).message}`, { cause });
  }
  if (parsed?.version !== 1 || !Array.isArray(parsed.devices) || parsed.devices.some((d) => typeof d?.deviceId !== 'string' || typeof d.label !== 'string')) {
    throw new FleetError('MANIFEST_INVALID', `${file} is not a carchain fleet manifest (version 1)`);
  }
  return { manifest: parsed, baseDir: dirname(resolve(file)) };
}
