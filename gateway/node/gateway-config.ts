// The gateway's YAML configuration: JSON-schema validated (ajv), defaults filled, typed errors naming the bad field.
import { readFileSync } from 'node:fs';
import { Ajv, type SchemaObject } from 'ajv';
import { parse as parseYaml } from 'yaml';
import { CarchainError } from '../../protocol/errors.js';

export class GatewayConfigError extends CarchainError<'CONFIG_INVALID' | 'CONFIG_UNREADABLE'> {}

export interface GatewayConfig {
  gateway: { id: string; dataDir: string };
  /**
   * `url`: an external broker (MqttIngest subscribes). Otherwise `embedded`: Aedes in this process
   * (gateway/broker), 127.0.0.1:1883 unless given; exactly one of the two is set after parsing.
   */
  broker: {
    url: string | null;
    embedded: { host: string; port: number } | null;
    /** null: a plain subscription (one gateway per broker; survives a Mosquitto restart, see docs/gateway.md). */
    shareGroup: string | null;
    receiveMaximum: number;
    /** Subscriber connections to an external broker (each holds one unacknowledged message). */
    connections: number;
    /**
     * Mutual TLS to an external broker (mqtts:// or wss:// only): PEM file paths of the CA that signed
     * the broker's certificate and of this gateway's client certificate and key (e.g. the identity
     * `carchain fleet broker-config` issues). Read at start; null: no client certificate.
     */
    tls: { ca: string; cert: string; key: string } | null;
  };
  kv:
    | { backend: 'sqlite'; synchronous: 'FULL' | 'NORMAL' }
    | { backend: 'redis-cluster'; nodes: string; prefix: string; replicas: number; waitTimeoutMs: number };
  /** Seal a batch every `intervalMs` or as soon as `maxLeaves` are pending. */
  batches: { intervalMs: number; maxLeaves: number };
  /** grants: 'chain' checks grant-key calls against the chain's Grant state (503 without a chain); 'permissive' is for tests. */
  api: { host: string; port: number; grants: 'chain' | 'permissive' };
  /**
   * Where batches are anchored. `embedded`: a single validator in this process (data in
   * dataDir/chain), its RPC on rpcPort (0 = any free port, shown in /health). `remote`: validator
   * RPC URLs; `keyFile` holds this gateway's anchoring key (a validator's or a genesis anchorer's),
   * created 0600 in dataDir when absent. `none`: batches are sealed but not anchored.
   */
  chain:
    | { mode: 'embedded'; rpcHost: string; rpcPort: number; blockIntervalMs: number; anchorIntervalMs: number }
    | { mode: 'remote'; rpc: string[]; keyFile: string | null; anchorIntervalMs: number }
    | { mode: 'none' };
  log: { level: 'debug' | 'info' | 'warn' | 'error' };
}

export const GATEWAY_CONFIG_SCHEMA: SchemaObject = {
  type: 'object',
  additionalProperties: false,
  required: ['gateway'],
  properties: {
    gateway: {
      type: 'object', additionalProperties: false, required: ['id', 'dataDir'],
      properties: { id: { type: 'string', pattern: '^[A-Za-z0-9_-]{1,64}$' }, dataDir: { type: 'string', minLength: 1 } },
    },
    broker: {
      type: 'object', additionalProperties: false, required: [], default: {},
      not: { required: ['url', 'embedded'] },
      properties: {
        url: { type: 'string', pattern: '^(mqtts?|wss?)://' },
        embedded: {
          type: 'object', additionalProperties: false, required: [],
          properties: { host: { type: 'string', minLength: 1, default: '127.0.0.1' }, port: { type: 'integer', minimum: 0, maximum: 65535, default: 1883 } },
        },
        connections: { type: 'integer', minimum: 1, maximum: 256, default: 4 },
        shareGroup: { type: ['string', 'null'], pattern: '^[A-Za-z0-9_-]{1,64}$', default: 'carchain-gateways' },
        receiveMaximum: { type: 'integer', minimum: 1, maximum: 65535, default: 64 },
        tls: {
          type: 'object', additionalProperties: false, required: ['ca', 'cert', 'key'],
          properties: { ca: { type: 'string', minLength: 1 }, cert: { type: 'string', minLength: 1 }, key: { type: 'string', minLength: 1 } },
        },
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
      type: 'object', additionalProperties: false, required: [], default: { intervalMs: 1000, maxLeaves: 32_768 },
      properties: { intervalMs: { type: 'integer', minimum: 10, default: 1000 }, maxLeaves: { type: 'integer', minimum: 1, maximum: 1_000_000, default: 32_768 } },
    },
    api: {
      type: 'object', additionalProperties: false, required: [], default: { host: '127.0.0.1', port: 8080, grants: 'chain' },
      properties: {
        host: { type: 'string', default: '127.0.0.1' },
        port: { type: 'integer', minimum: 0, maximum: 65535, default: 8080 },
        grants: { enum: ['chain', 'permissive'], default: 'chain' },
      },
    },
    chain: {
      type: 'object', required: ['mode'], default: { mode: 'embedded' },
      oneOf: [
        {
          additionalProperties: false,
          properties: {
            mode: { const: 'embedded' }, rpcHost: { type: 'string' }, rpcPort: { type: 'integer', minimum: 0, maximum: 65535 },
            blockIntervalMs: { type: 'integer', minimum: 10, maximum: 600_000 }, anchorIntervalMs: { type: 'integer', minimum: 10 },
          },
        },
        {
          additionalProperties: false, required: ['rpc'],
          properties: {
            mode: { const: 'remote' }, rpc: { type: 'array', minItems: 1, items: { type: 'string', pattern: '^https?://' } },
            keyFile: { type: 'string', minLength: 1 }, anchorIntervalMs: { type: 'integer', minimum: 10 },
          },
        },
        { additionalProperties: false, properties: { mode: { const: 'none' } } },
      ],
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
  // No external broker named: the embedded one (defaults filled by the schema when the section is given).
  const broker = copy.broker as Partial<GatewayConfig['broker']>;
  if (broker.url === undefined) broker.embedded = { host: '127.0.0.1', port: 1883, ...broker.embedded };
  broker.url ??= null;
  broker.embedded ??= null;
  broker.tls ??= null;
  // A client certificate on a plain connection would silently not be used: refuse rather than connect unauthenticated.
  if (broker.tls !== null && (broker.url === null || !/^(mqtts|wss):\/\//.test(broker.url))) {
    throw new GatewayConfigError('CONFIG_INVALID', `${source}: /broker/tls needs broker.url with mqtts:// or wss://, got ${broker.url ?? 'the embedded broker'}`);
  }
  // Defaults inside oneOf branches are not applied by ajv (ambiguous), so they are filled here.
  const kv = copy.kv as Partial<Extract<GatewayConfig['kv'], { backend: 'redis-cluster' }>> & Partial<Extract<GatewayConfig['kv'], { backend: 'sqlite' }>>;
  if (kv.backend === 'sqlite') kv.synchronous ??= 'FULL';
  else {
    kv.prefix ??= 'cc';
    kv.replicas ??= 0;
    kv.waitTimeoutMs ??= 1000;
  }
  const chain = copy.chain as { mode: string; rpcHost?: string; rpcPort?: number; blockIntervalMs?: number; anchorIntervalMs?: number; keyFile?: string | null };
  if (chain.mode === 'embedded') {
    chain.rpcHost ??= '127.0.0.1';
    chain.rpcPort ??= 0;
    chain.blockIntervalMs ??= 1000;
    chain.anchorIntervalMs ??= 1000;
  } else if (chain.mode === 'remote') {
    chain.keyFile ??= null;
    chain.anchorIntervalMs ??= 1000;
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
