// A validator's home directory: config (YAML, JSON-schema validated), genesis, key file; and `chain init` creating N of them.
//
// Layout: HOME/config.yaml, HOME/genesis.json, HOME/validator-key.json (0600), HOME/data/ (chain.db,
// consensus.wal, last-signed.json). Paths in the config are relative to HOME.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { Ajv, type SchemaObject } from 'ajv';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { p2pkhAddress } from '../../../protocol/address.js';
import { CarchainError } from '../../../protocol/errors.js';
import { publicKeyFromPrivate } from '../../../protocol/signature.js';
import { type Genesis, parseGenesis, serialiseGenesis } from '../app/genesis.js';
import { readKeyFile, writeKeyFile } from './key-file.js';

export class ChainHomeError extends CarchainError<'CONFIG_INVALID' | 'CONFIG_UNREADABLE' | 'KEY_INVALID' | 'HOME_EXISTS'> {}

export interface ChainNodeConfig {
  moniker: string;
  genesisFile: string;
  keyFile: string;
  dataDir: string;
  p2p: { host: string; port: number };
  rpc: { host: string; port: number };
  peers: { host: string; port: number }[];
  /** Public keys (hex) of non-validators allowed to connect (gateways following the chain). */
  observers: string[];
  blockIntervalMs: number;
  emptyBlockIntervalMs: number;
  /** Enables /admin routes (fault injection) and `misbehaviour`; never in production. */
  testMode: boolean;
  misbehaviour?: { equivocatePrevotes?: boolean };
  log: { level: 'debug' | 'info' | 'warn' | 'error' };
}

const endpoint = (port: number): SchemaObject => ({
  type: 'object', additionalProperties: false, default: { host: '127.0.0.1', port },
  properties: { host: { type: 'string', default: '127.0.0.1' }, port: { type: 'integer', minimum: 0, maximum: 65535, default: port } },
});

export const CHAIN_NODE_CONFIG_SCHEMA: SchemaObject = {
  type: 'object', additionalProperties: false,
  properties: {
    moniker: { type: 'string', pattern: '^[A-Za-z0-9_.-]{1,64}$', default: 'validator' },
    genesisFile: { type: 'string', default: 'genesis.json' },
    keyFile: { type: 'string', default: 'validator-key.json' },
    dataDir: { type: 'string', default: 'data' },
    p2p: endpoint(26656),
    rpc: endpoint(26657),
    peers: {
      type: 'array', default: [],
      items: { type: 'object', additionalProperties: false, required: ['host', 'port'], properties: { host: { type: 'string' }, port: { type: 'integer', minimum: 1, maximum: 65535 } } },
    },
    observers: { type: 'array', default: [], items: { type: 'string', pattern: '^0[23][0-9a-f]{64}$' } },
    blockIntervalMs: { type: 'integer', minimum: 0, maximum: 600_000, default: 1000 },
    emptyBlockIntervalMs: { type: 'integer', minimum: 0, maximum: 3_600_000, default: 1000 },
    testMode: { type: 'boolean', default: false },
    misbehaviour: { type: 'object', additionalProperties: false, properties: { equivocatePrevotes: { type: 'boolean' } } },
    log: {
      type: 'object', additionalProperties: false, default: { level: 'info' },
      properties: { level: { enum: ['debug', 'info', 'warn', 'error'], default: 'info' } },
    },
  },
};

const validateConfig = new Ajv({ useDefaults: true, allErrors: false }).compile(CHAIN_NODE_CONFIG_SCHEMA);

export function parseChainNodeConfig(value: unknown): ChainNodeConfig {
  const copy = structuredClone(value ?? {}) as unknown;
  if (!validateConfig(copy)) {
    const e = validateConfig.errors?.[0];
    throw new ChainHomeError('CONFIG_INVALID', `config${e?.instancePath ?? ''}: ${e?.message ?? 'invalid'}`);
  }
  const config = copy as ChainNodeConfig;
  if (config.misbehaviour !== undefined && !config.testMode) throw new ChainHomeError('CONFIG_INVALID', 'misbehaviour requires testMode: true');
  return config;
}

export interface ChainHome {
  home: string;
  config: ChainNodeConfig;
  genesis: Genesis;
  privateKey: Uint8Array;
  dataDir: string;
}

function readText(path: string, what: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new ChainHomeError('CONFIG_UNREADABLE', `${what} ${path}: ${(err as Error).message}`, { cause: err });
  }
}

export function loadChainHome(home: string): ChainHome {
  const dir = resolve(home);
  const at = (p: string): string => (isAbsolute(p) ? p : join(dir, p));
  let raw: unknown;
  try {
    raw = parseYaml(readText(join(dir, 'config.yaml'), 'config'));
  } catch (err) {
    if (err instanceof ChainHomeError) throw err;
    throw new ChainHomeError('CONFIG_INVALID', `config.yaml: ${(err as Error).message}`, { cause: err });
  }
  const config = parseChainNodeConfig(raw);
  let genesisJson: unknown;
  try {
    genesisJson = JSON.parse(readText(at(config.genesisFile), 'genesis'));
  } catch (err) {
    if (err instanceof ChainHomeError) throw err;
    throw new ChainHomeError('CONFIG_INVALID', `genesis: ${(err as Error).message}`, { cause: err });
  }
  const genesis = parseGenesis(genesisJson);
  let privateKey: Uint8Array;
  try {
    privateKey = readKeyFile(at(config.keyFile));
  } catch (err) {
    throw new ChainHomeError('KEY_INVALID', (err as Error).message, { cause: err });
  }
  return { home: dir, config, genesis, privateKey, dataDir: at(config.dataDir) };
}

export interface InitOptions {
  validators: number;
  outDir: string;
  chainId?: string;
  /** Validator i listens on basePort + 2i (p2p) and basePort + 2i + 1 (rpc). */
  basePort?: number;
  power?: number;
  blockIntervalMs?: number;
  /** Longest wait for transactions before an empty block (default: blockIntervalMs, empty blocks always). */
  emptyBlockIntervalMs?: number;
  testMode?: boolean;
  genesisTime?: number;
}

export interface InitResult {
  genesisFile: string;
  homes: { home: string; address: string; p2pPort: number; rpcPort: number }[];
}

/** Writes a genesis and one home per validator, meshed with loopback peers. Refuses to overwrite. */
export function initChainHomes(o: InitOptions): InitResult {
  if (!Number.isInteger(o.validators) || o.validators < 1 || o.validators > 100) throw new ChainHomeError('CONFIG_INVALID', 'validators: 1..100');
  const out = resolve(o.outDir);
  if (existsSync(join(out, 'genesis.json'))) throw new ChainHomeError('HOME_EXISTS', `${out} already holds a chain`);
  mkdirSync(out, { recursive: true });
  const basePort = o.basePort ?? 26656;
  const keys = Array.from({ length: o.validators }, () => Uint8Array.from(randomBytes(32)));
  const genesis: Genesis = parseGenesis({
    chainId: o.chainId ?? 'carchain-local',
    genesisTime: o.genesisTime ?? Date.now(),
    validators: keys.map((k, i) => ({ publicKey: Buffer.from(publicKeyFromPrivate(k)).toString('hex'), power: o.power ?? 100, name: `validator${i}` })),
    accounts: keys.map((k) => ({ address: p2pkhAddress(publicKeyFromPrivate(k)), balance: 1000 })),
    anchorers: [],
  });
  const genesisText = serialiseGenesis(genesis);
  const genesisFile = join(out, 'genesis.json');
  writeFileSync(genesisFile, genesisText);
  const homes: InitResult['homes'] = [];
  keys.forEach((key, i) => {
    const home = join(out, `node${i}`);
    mkdirSync(home, { recursive: true });
    writeFileSync(join(home, 'genesis.json'), genesisText);
    writeKeyFile(join(home, 'validator-key.json'), key);
    const p2pPort = basePort + 2 * i;
    const rpcPort = p2pPort + 1;
    const config = {
      moniker: `validator${i}`, p2p: { host: '127.0.0.1', port: p2pPort }, rpc: { host: '127.0.0.1', port: rpcPort },
      peers: keys.map((_, j) => ({ host: '127.0.0.1', port: basePort + 2 * j })).filter((_, j) => j !== i),
      blockIntervalMs: o.blockIntervalMs ?? 1000, emptyBlockIntervalMs: o.emptyBlockIntervalMs ?? o.blockIntervalMs ?? 1000,
      ...(o.testMode === true ? { testMode: true } : {}),
    };
    writeFileSync(join(home, 'config.yaml'), `# carchain validator ${i}: see docs/chain.md for every field\n${stringifyYaml(config)}`);
    homes.push({ home, address: p2pkhAddress(publicKeyFromPrivate(key)), p2pPort, rpcPort });
  });
  return { genesisFile, homes };
}
