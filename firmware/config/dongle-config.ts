// The dongle's YAML configuration: JSON-schema validated (ajv), defaults filled, typed errors naming the bad field.
import { readFileSync } from 'node:fs';
import { Ajv, type SchemaObject } from 'ajv';
import { parse as parseYaml } from 'yaml';
import { CarchainError } from '../../protocol/errors.js';

export class ConfigError extends CarchainError<'CONFIG_INVALID' | 'CONFIG_UNREADABLE'> {}

export interface DongleConfig {
  device: { dataDir: string };
  obd: {
    /** A serial path (prefer /dev/serial/by-id/…), or `sim:<scenario>` for the in-process simulator. */
    port: string;
    baudRate: number;
    /** ELM327 protocol number for ATSP (`0` = automatic). */
    protocol: string;
    /** Sampling interval per PID, hex PID → ms; others use defaults. */
    pids: Record<string, number>;
    snapshotIntervalMs: number;
    /** With a `sim:` port: simulated seconds per real second (demos and tests). */
    simTimeScale: number;
    /** With a `sim:` port: drive the scenario again whenever it ends (a demo car that keeps making trips). */
    simLoop: boolean;
  };
  gps: { port: string | null; baudRate: number };
  trips: { ignitionOffDebounceMs: number; speedLimitKmh: number };
  outbox: { maxRecords: number; maxBytes: number };
  uplink: {
    brokerUrl: string;
    tls: { ca: string; cert: string; key: string } | null;
    healthIntervalMs: number;
    /** 5 (persistent session, default) or 4 (MQTT 3.1.1: the gateway's embedded Aedes broker speaks only that). */
    protocolVersion: 4 | 5;
  };
  pairing: { host: string; port: number };
  log: { level: 'debug' | 'info' | 'warn' | 'error' };
}

export const DONGLE_CONFIG_SCHEMA: SchemaObject = {
  $id: 'https://carchain.example/schemas/dongle-config.json',
  type: 'object',
  additionalProperties: false,
  required: ['device', 'obd', 'uplink'],
  properties: {
    device: {
      type: 'object', additionalProperties: false, required: ['dataDir'],
      properties: { dataDir: { type: 'string', minLength: 1 } },
    },
    obd: {
      type: 'object', additionalProperties: false, required: ['port'],
      properties: {
        port: { type: 'string', minLength: 1 },
        baudRate: { type: 'integer', enum: [9600, 38400, 57600, 115200, 230400, 500000], default: 38400 },
        protocol: { type: 'string', pattern: '^[0-9A-Ca-c]$', default: '0' },
        pids: { type: 'object', propertyNames: { pattern: '^[0-9A-Fa-f]{2}$' }, additionalProperties: { type: 'integer', minimum: 100 }, required: [], default: {} },
        snapshotIntervalMs: { type: 'integer', minimum: 1000, default: 60_000 },
        simTimeScale: { type: 'number', exclusiveMinimum: 0, maximum: 1000, default: 1 },
        simLoop: { type: 'boolean', default: false },
      },
    },
    gps: {
      type: 'object', additionalProperties: false, required: [], default: { port: null, baudRate: 9600 },
      properties: { port: { type: 'string', nullable: true, default: null }, baudRate: { type: 'integer', minimum: 1200, default: 9600 } },
    },
    trips: {
      type: 'object', additionalProperties: false, required: [], default: { ignitionOffDebounceMs: 30_000, speedLimitKmh: 120 },
      properties: {
        ignitionOffDebounceMs: { type: 'integer', minimum: 0, default: 30_000 },
        speedLimitKmh: { type: 'number', minimum: 1, default: 120 },
      },
    },
    outbox: {
      type: 'object', additionalProperties: false, required: [], default: { maxRecords: 100_000, maxBytes: 256 * 1024 * 1024 },
      properties: {
        maxRecords: { type: 'integer', minimum: 10, default: 100_000 },
        maxBytes: { type: 'integer', minimum: 1_048_576, default: 256 * 1024 * 1024 },
      },
    },
    uplink: {
      type: 'object', additionalProperties: false, required: ['brokerUrl'],
      properties: {
        brokerUrl: { type: 'string', pattern: '^(mqtts?|wss?)://' },
        tls: {
          type: 'object', nullable: true, additionalProperties: false, required: ['ca', 'cert', 'key'], default: null,
          properties: { ca: { type: 'string' }, cert: { type: 'string' }, key: { type: 'string' } },
        },
        healthIntervalMs: { type: 'integer', minimum: 1000, default: 30_000 },
        protocolVersion: { enum: [4, 5], default: 5 },
      },
    },
    pairing: {
      type: 'object', additionalProperties: false, required: [], default: { host: '127.0.0.1', port: 8765 },
      properties: { host: { type: 'string', default: '127.0.0.1' }, port: { type: 'integer', minimum: 0, maximum: 65535, default: 8765 } },
    },
    log: {
      type: 'object', additionalProperties: false, required: [], default: { level: 'info' },
      properties: { level: { type: 'string', enum: ['debug', 'info', 'warn', 'error'], default: 'info' } },
    },
  },
};

const ajv = new Ajv({ useDefaults: true, allErrors: true });
const validate = ajv.compile<DongleConfig>(DONGLE_CONFIG_SCHEMA);

/** Validates a parsed document, filling defaults in place. */
export function parseDongleConfig(document: unknown, source = 'config'): DongleConfig {
  const copy: unknown = structuredClone(document);
  if (!validate(copy)) {
    const problems = (validate.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message ?? 'is invalid'}${e.params && 'additionalProperty' in e.params ? ` (${String(e.params.additionalProperty)})` : ''}`);
    throw new ConfigError('CONFIG_INVALID', `${source}: ${problems.join('; ')}`);
  }
  return copy;
}

export function loadDongleConfig(path: string): DongleConfig {
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
  return parseDongleConfig(document, path);
}
