// The car lock's YAML configuration for `carchain lock serve`: JSON-schema validated (ajv), defaults filled, paths resolved.
//
// Relative paths are resolved against the config file's directory, so a config and its data dir
// can move together.
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { Ajv, type SchemaObject } from 'ajv';
import { parse as parseYaml } from 'yaml';
import { ConfigError } from '../config/dongle-config.js';

export interface LockConfig {
  /** The car's VIN; the lock serves vehicleIdHash(vid) only. */
  vehicle: { vid: string };
  /** state.json, audit.log and (by default) lock-key.json. */
  dataDir: string;
  /** The lock's secp256k1 key ({"privateKey": hex}); created on first start when missing. */
  lockKeyFile: string;
  /** The genesis.json of the chain whose finality proofs the lock trusts. */
  trust: { genesis: string };
  /** The local link (BLE stand-in); null = none. */
  listen: { host: string; port: number } | null;
  /** The MQTT relay; null = none. */
  relay: { brokerUrl: string; deviceId: string } | null;
  keySet: {
    /** A key-set file (carchain-lock-keyset/1) installed at start; null = none. */
    file: string | null;
    /** Chain RPC URLs polled for a newer LockKeySet; empty = offline. */
    chainRpc: string[];
    pollMs: number;
  };
  /** Delegates are refused once the cached finality proof is older than this. */
  stalenessMs: number;
}

export const LOCK_CONFIG_SCHEMA: SchemaObject = {
  $id: 'https://carchain.example/schemas/lock-config.json',
  type: 'object',
  additionalProperties: false,
  required: ['vehicle', 'dataDir', 'trust'],
  properties: {
    vehicle: {
      type: 'object', additionalProperties: false, required: ['vid'],
      properties: { vid: { type: 'string', pattern: '^[A-HJ-NPR-Z0-9]{11,17}$' } },
    },
    dataDir: { type: 'string', minLength: 1 },
    lockKeyFile: { type: 'string', minLength: 1 },
    trust: {
      type: 'object', additionalProperties: false, required: ['genesis'],
      properties: { genesis: { type: 'string', minLength: 1 } },
    },
    listen: {
      type: 'object', nullable: true, additionalProperties: false, required: [], default: null,
      properties: { host: { type: 'string', default: '127.0.0.1' }, port: { type: 'integer', minimum: 0, maximum: 65535, default: 0 } },
    },
    relay: {
      type: 'object', nullable: true, additionalProperties: false, required: ['brokerUrl', 'deviceId'], default: null,
      properties: { brokerUrl: { type: 'string', pattern: '^mqtts?://' }, deviceId: { type: 'string', pattern: '^[A-Za-z0-9_.:-]{1,64}$' } },
    },
    keySet: {
      type: 'object', additionalProperties: false, required: [], default: { file: null, chainRpc: [], pollMs: 2000 },
      properties: {
        file: { type: 'string', nullable: true, minLength: 1, default: null },
        chainRpc: { type: 'array', items: { type: 'string', pattern: '^https?://' }, default: [] },
        pollMs: { type: 'integer', minimum: 100, default: 2000 },
      },
    },
    stalenessMs: { type: 'integer', minimum: 1000, default: 7 * 24 * 3600_000 },
  },
};

const ajv = new Ajv({ useDefaults: true, allErrors: true });
const validate = ajv.compile<Omit<LockConfig, 'lockKeyFile'> & { lockKeyFile?: string }>(LOCK_CONFIG_SCHEMA);

/** Validates a parsed document, fills defaults and resolves relative paths against `baseDir`. */
export function parseLockConfig(document: unknown, source = 'config', baseDir = process.cwd()): LockConfig {
  const copy: unknown = structuredClone(document);
  if (!validate(copy)) {
    const problems = (validate.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message ?? 'is invalid'}${e.params && 'additionalProperty' in e.params ? ` (${String(e.params.additionalProperty)})` : ''}`);
    throw new ConfigError('CONFIG_INVALID', `${source}: ${problems.join('; ')}`);
  }
  const at = (p: string) => (isAbsolute(p) ? p : resolve(baseDir, p));
  const dataDir = at(copy.dataDir);
  return {
    ...copy,
    dataDir,
    lockKeyFile: copy.lockKeyFile === undefined ? join(dataDir, 'lock-key.json') : at(copy.lockKeyFile),
    trust: { genesis: at(copy.trust.genesis) },
    keySet: { ...copy.keySet, file: copy.keySet.file === null ? null : at(copy.keySet.file) },
  };
}

export function loadLockConfig(path: string): LockConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (cause) {
    throw new ConfigError('CONFIG_UNREADABLE', `cannot read ${path}: ${(cause as Error).message}`, { cause });
  }
  let document: unknown;
  try {
    document = parseYaml(text);
  } catch (cause) {
    throw new ConfigError('CONFIG_INVALID', `${path} is not valid YAML: ${(cause as Error).message}`, { cause });
  }
  return parseLockConfig(document, path, dirname(resolve(path)));
}
