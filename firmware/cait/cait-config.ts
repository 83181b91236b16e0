// The CAIT terminal's YAML config (`carchain cait run` and `carchain shop …`): data dir, camera, chain RPC, broker; validated with defaults.
import { readFileSync } from 'node:fs';
import { isAbsolute, join, resolve, dirname } from 'node:path';
import { Ajv, type SchemaObject } from 'ajv';
import { parse as parseYaml } from 'yaml';
import { ConfigError } from '../config/dongle-config.js';
import type { PlateReaderOptions } from './plate-reader.js';

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
  /** The broker records leave through; null (omitted): `cait run` keeps sightings locally only, `shop maintenance add` refuses. */
  uplink: {
    brokerUrl: string;
    protocolVersion: 4 | 5;
    tls: { ca: string; cert: string; key: string } | null;
    deliverTimeoutMs: number;
  } | null;
  /** Kept sightings sent as `plate-sighting` records through `uplink` (sighting-records.ts). */
  sightings: {
    /** The durable outbox of `cait run` (default <dataDir>/sighting-outbox.db); one process owns it. */
    outbox: string;
    /** On stop, wait this long for queued records to be acknowledged; the rest stay in the outbox. */
    stopDrainMs: number;
  };
  tracking: { gapMs: number; minReads: number };
  /** Plate reading (PlateReader options; see docs/cait.md "Mounting and configuring a terminal"). */
  reader: {
    /** Longer side of the detector's coarse pass over the frame (multiple of 32): raise it for plates under ~9 % of the frame width. */
    limitSide: number;
    /** The fine detector pass around each plate-shaped box (tighter boxes, better reads). */
    refine: boolean;
  };
  log: { level: 'debug' | 'info' | 'warn' | 'error' };
}

// A type list, not anyOf: ajv ignores defaults under anyOf, and the ffmpeg block has some.
const nullable = (schema: SchemaObject): SchemaObject => ({ ...schema, type: [schema.type as string, 'null'] });

const CAIT_CONFIG_SCHEMA: SchemaObject = {
  type: 'object', additionalProperties: false, required: ['terminal', 'chain'],
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
      ...nullable({
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
      }),
      default: null,
    },
    sightings: {
      type: 'object', additionalProperties: false, default: {},
      properties: { outbox: { type: 'string', minLength: 1 }, stopDrainMs: { type: 'integer', minimum: 0, default: 10_000 } },
    },
    tracking: {
      type: 'object', additionalProperties: false, default: {},
      properties: { gapMs: { type: 'integer', minimum: 1, default: 120_000 }, minReads: { type: 'integer', minimum: 1, default: 1 } },
    },
    reader: {
      type: 'object', additionalProperties: false, default: {},
      properties: {
        // plate-detector.ts's DEFAULT_LIMIT_SIDE (a test keeps them equal); not imported, so loading a
        // config does not load onnxruntime (`shop …` commands never read plates).
        limitSide: { type: 'integer', minimum: 128, maximum: 4096, multipleOf: 32, default: 448 },
        refine: { type: 'boolean', default: true },
      },
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
  copy.sightings.outbox = copy.sightings.outbox === undefined ? join(copy.terminal.dataDir, 'sighting-outbox.db') : abs(copy.sightings.outbox);
  return copy;
}

/** The PlateReader options the config asks for (`PlateReader.create(plateReaderOptions(config))`). */
export function plateReaderOptions(config: Pick<CaitConfig, 'reader'>): PlateReaderOptions {
  return { detector: { limitSide: config.reader.limitSide }, refine: config.reader.refine };
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
