// The gateway's YAML configuration: JSON-schema validated (ajv), defaults filled, typed errors naming the bad field.
import { readFileSync } from 'node:fs';
import { Ajv, type SchemaObject } from 'ajv';
import { parse as parseYaml } from 'yaml';
import { CarchainError } from '../../protocol/errors.js';

export class GatewayConfigError extends CarchainError<'CONFIG_INVALID' | 'CONFIG_UNREADABLE'> {}

export interface GatewayConfig {
  gateway: { id: string; dataDir: string };
  broker: { url: string; shareGroup: string; receiveMaximum: number };
  kv:
    | { backend: 'sqlite'; synchronous: 'FULL' | 'NORMAL' }
    | { backend: 'redis-cluster'; nodes: string; prefix: string; replicas: number; waitTimeoutMs: number };
  /** Seal a batch every `intervalMs` or as soon as `maxLeaves` are pending. */
  batches: { intervalMs: number; maxLeaves: number };
  api: { host: string; port: number };
  log: { level: 'debug' | 'info' | 'warn' | 'error' };
}

export const GATEWAY_CONFIG_SCHEMA: SchemaObject = {
  type: 'object',
  additionalProperties: false,
  required: ['gateway', 'broker'],
  properties: {
    gateway: {
      type: 'object', additionalProperties: false, required: ['id', 'dataDir'],
      properties: { id: { type: 'string', pattern: '^[A-Za-z0-9_-]{1,64}$' }, dataDir: { type: 'string', minLength: 1 } },
    },
    broker: {
      type: 'object', additionalProperties: false, required: ['url'],
      properties: {
        url: { type: 'string', pattern: '^(mqtts?|wss?)://' },
        shareGroup: { type: 'string', pattern: '^[A-Za-z0-9_-]{1,64}$', default: 'carchain-gateways' },
        receiveMaximum: { type: 'integer', minimum: 1, maximum: 65535, default: 64 },
      },
    },
    kv: {
      type: 'object', required: ['backend'], default: { backend: 'sqlite' },
      oneOf: [
        {
          additionalProperties: false,
          properties: { backend: { const: 'sqlite' }, synchronous: { enum: ['FULL', 'NORMAL'] } },
        },
        {
          additionalProperties: false, required: ['nodes'],
          properties: {
            backend: { const: 'redis-cluster' },
            nodes: { type: 'string', pattern: '^[^,\\s]+:[0-9]+(,[^,\\s]+:[0-9]+)*$' },
            prefix: { type: 'string', pattern: '^[A-Za-z0-9_-]{1,32}$' },
            replicas: { type: 'integer', minimum: 0, maximum: 5 },
            waitTimeoutMs: { type: 'integer', minimum: 1 },
          },
        },
      ],
    },
    batches: {
      type: 'object', additionalProperties: false, required: [], default: { intervalMs: 1000, maxLeaves: 4096 },
      properties: { intervalMs: { type: 'integer', minimum: 10, default: 1000 }, maxLeaves: { type: 'integer', minimum: 1, maximum: 1_000_000, default: 4096 } },
    },
    api: {
      type: 'object', additionalProperties: false, required: [], default: { host: '127.0.0.1', port: 8080 },
      properties: { host: { type: 'string', default: '127.0.0.1' }, port: { type: 'integer', minimum: 0, maximum: 65535, default: 8080 } },
    },
    log: {
      type: 'object', additionalProperties: false, required: [], default: { level: 'info' },
      properties: { level: { enum: ['debug', 'info', 'warn', 'error'], default: 'info' } },
    },
  },
};

const validate = new Ajv({ useDefaults: true, allErrors: true }).compile<GatewayConfig>(GATEWAY_CONFIG_SCHEMA);

export function parseGatewayConfig(document: unknown, source = 'config'): GatewayConfig {
  const copy: unknown = structuredClone(document);
  if (!validate(copy)) {
    const problems = (validate.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message ?? 'is invalid'}`);
    throw new GatewayConfigError('CONFIG_INVALID', `${source}: ${problems.join('; ')}`);
  }
  // Defaults inside oneOf branches are not applied by ajv (ambiguous), so they are filled here.
  const kv = copy.kv as Partial<Extract<GatewayConfig['kv'], { backend: 'redis-cluster' }>> & Partial<Extract<GatewayConfig['kv'], { backend: 'sqlite' }>>;
  if (kv.backend === 'sqlite') kv.synchronous ??= 'FULL';
  else {
    kv.prefix ??= 'cc';
    kv.replicas ??= 0;
    kv.waitTimeoutMs ??= 1000;
  }
  return copy;
}

export function loadGatewayConfig(path: string): GatewayConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (cause) {
    throw new GatewayConfigError('CONFIG_UNREADABLE', `cannot read ${path}: ${(cause as Error).message}`, { cause });
  }
  try {
    return parseGatewayConfig(parseYaml(text), path);
  } catch (cause) {
    if (cause instanceof GatewayConfigError) throw cause;
    throw new GatewayConfigError('CONFIG_INVALID', `${path} is not valid YAML: ${(cause as Error).message}`, { cause });
  }
}
