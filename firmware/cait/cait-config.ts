// The CAIT terminal's YAML config (`carchain cait run` and `carchain shop …`): data dir, camera, chain RPC, broker; validated with defaults.
import { readFileSync } from 'node:fs';
import { isAbsolute, join, resolve, dirname } from 'node:path';
import { Ajv, type SchemaObject } from 'ajv';
import { parse as parseYaml } from 'yaml';
import { ConfigError } from '../config/dongle-config.js';

export interface CaitConfig {
  terminal: {
    /** Keystore, grant cache (grants.db), outbox and tickets live here. */
    dataDir: string;
    /** Owner tickets (`*.json`, from `carchain wallet write-grant`) are imported from here on every sync. */
    ticketsDir: string | null;
  };
  camera: {
    /** A watched directory of image files (what a camera's FTP/SMB upload or a capture script writes). */
    directory: string | null;
    /** A video device, RTSP URL or video file read through ffmpeg. */
    ffmpeg: { input: string; fps: number; width: number | null; height: number | null } | null;
    includeExisting: boolean;
  };
  chain: { rpc: string[]; syncIntervalMs: number };
  uplink: {
    brokerUrl: string;
    protocolVersion: 4 | 5;
    tls: { ca: string; cert: string; key: string } | null;
    deliverTimeoutMs: number;
  };
  tracking: { gapMs: number; minReads: number };
  log: { level: 'debug' | 'info' | 'warn' | 'error' };
}

// A type list, not anyOf: ajv ignores defaults under anyOf, and the ffmpeg block has some.
const nullable = (schema: SchemaObject): SchemaObject => ({ ...schema, type: [schema.type as string, 'null'] });

const CAIT_CONFIG_SCHEMA: SchemaObject = {
  type: 'object', additionalProperties: false, required: ['terminal', 'chain', 'uplink'],
  properties: {
    terminal: {
      type: 'object', additionalProperties: false, required: ['dataDir'],
      properties: { dataDir: { type: 'string', minLength: 1 }, ticketsDir: { ...nullable({ type: 'string', minLength: 1 }), default: null } },
    },
    camera: {
      type: 'object', additionalProperties: false, default: {},
      properties: {
        directory: { ...nullable({ type: 'string', minLength: 1 }), default: null },
        ffmpeg: {
          ...nullable({
            type: 'object', additionalProperties: false, required: ['input'],
            properties: {
              input: { type: 'string', minLength: 1 }, fps: { type: 'number', exclusiveMinimum: 0, maximum: 60, default: 2 },
              width: { ...nullable({ type: 'integer', minimum: 16 }), default: null }, height: { ...nullable({ type: 'integer', minimum: 16 }), default: null },
            },
          }),
          default: null,
        },
        includeExisting: { type: 'boolean', default: false },
      },
    },
    chain: {
      type: 'object', additionalProperties: false, required: ['rpc'],
      properties: {
        rpc: { type: 'array', minItems: 1, items: { type: 'string', pattern: '^https?://' } },
        syncIntervalMs: { type: 'integer', minimum: 1000, default: 60_000 },
      },
    },
    uplink: {
      type: 'object', additionalProperties: false, required: ['brokerUrl'],
      properties: {
        brokerUrl: { type: 'string', pattern: '^(mqtts?|wss?)://' },
        protocolVersion: { type: 'integer', enum: [4, 5], default: 5 },
        tls: {
          ...nullable({ type: 'object', additionalProperties: false, required: ['ca', 'cert', 'key'], properties: { ca: { type: 'string' }, cert: { type: 'string' }, key: { type: 'string' } } }),
          default: null,
        },
        deliverTimeoutMs: { type: 'integer', minimum: 1000, default: 30_000 },
      },
    },
    tracking: {
      type: 'object', additionalProperties: false, default: {},
      properties: { gapMs: { type: 'integer', minimum: 1, default: 120_000 }, minReads: { type: 'integer', minimum: 1, default: 1 } },
    },
    log: {
      type: 'object', additionalProperties: false, default: {},
      properties: { level: { type: 'string', enum: ['debug', 'info', 'warn', 'error'], default: 'info' } },
    },
  },
};

const validate = new Ajv({ useDefaults: true, allErrors: true }).compile<CaitConfig>(CAIT_CONFIG_SCHEMA);

/** Validates a parsed document (defaults filled in); relative paths are resolved against `baseDir`. */
export function parseCaitConfig(document: unknown, source = 'config', baseDir = process.cwd()): CaitConfig {
  const copy: unknown = structuredClone(document);
  if (!validate(copy)) {
    const problems = (validate.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message ?? 'is invalid'}${e.params && 'additionalProperty' in e.params ? ` (${String(e.params.additionalProperty)})` : ''}`);
    throw new ConfigError('CONFIG_INVALID', `${source}: ${problems.join('; ')}`);
  }
  const abs = (p: string) => (isAbsolute(p) ? p : resolve(baseDir, p));
  copy.terminal.dataDir = abs(copy.terminal.dataDir);
  copy.terminal.ticketsDir = copy.terminal.ticketsDir === null ? join(copy.terminal.dataDir, 'tickets') : abs(copy.terminal.ticketsDir);
  if (copy.camera.directory !== null) copy.camera.directory = abs(copy.camera.directory);
  return copy;
}

export function loadCaitConfig(path: string): CaitConfig {
  let document: unknown;
  try {
    document = parseYaml(readFileSync(path, 'utf8'));
  } catch (cause) {
    throw new ConfigError('CONFIG_UNREADABLE', `cannot read ${path}: ${(cause as Error).message}`, { cause });
  }
  return parseCaitConfig(document, path, dirname(resolve(path)));
}
