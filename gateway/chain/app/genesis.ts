// The genesis document: JSON-friendly type, strict parsing, canonical serialisation and hash, and the initial state it implies.
//
// genesisHash = taggedHash('carchain/v1/genesis', UTF-8 of the canonical JSON: fixed key order, no
// whitespace, consensus only when present). The genesis app hash chains from it:
// appHash(0) = computeAppHash(genesisHash, 0, genesisWrites), so two chains with different
// genesis documents never share an app hash.
import { decodeAddress, p2pkhAddress } from '../../../protocol/address.js';
import { BUILTIN_FORMATS } from '../../../protocol/builtin-formats.js';
import { MAX_CHAIN_ID_BYTES } from '../../../protocol/chain/transactions.js';
import { hash160, taggedHash } from '../../../protocol/hash.js';
import { assertPublicKey } from '../../../protocol/signature.js';
import { utf8 } from '../../../protocol/wire.js';
import { MAX_TOTAL_POWER, MAX_VALIDATORS } from '../consensus/validator-set.js';
import { computeAppHash } from './app-hash.js';
import { AppError } from './errors.js';
import { keys, saveAccount, saveFormat, saveMarker, saveMetaBytes, saveValidator } from './state-layout.js';
import { readValidators } from './staking-handlers.js';
import { StateOverlay, MemoryState } from './state.js';
import type { BlockExecution } from './state-machine.js';

export const GENESIS_TAG = 'carchain/v1/genesis';

export interface GenesisValidator {
  /** 33-byte compressed key, hex. */
  publicKey: string;
  power: number;
  name?: string;
}

export interface GenesisAccount {
  address: string;
  balance: number;
}

export interface GenesisTimeout {
  baseMs: number;
  deltaMs: number;
}

export interface GenesisConsensus {
  timeouts?: { propose: GenesisTimeout; prevote: GenesisTimeout; precommit: GenesisTimeout };
  blockIntervalMs?: number;
  maxBlockTxs?: number;
  maxBlockBytes?: number;
}

export interface Genesis {
  chainId: string;
  /** ms since the epoch; the time of height 0. */
  genesisTime: number;
  validators: GenesisValidator[];
  accounts: GenesisAccount[];
  /** Addresses that may submit BatchAnchor without being validators (gateways that do not validate). */
  anchorers: string[];
  consensus?: GenesisConsensus;
}

function bad(path: string, why: string): AppError {
  return new AppError('INVALID_GENESIS', `genesis ${path}: ${why}`);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function fields(v: unknown, path: string, allowed: readonly string[], required: readonly string[]): Record<string, unknown> {
  if (!isObject(v)) throw bad(path, 'must be an object');
  for (const k of Object.keys(v)) if (!allowed.includes(k)) throw bad(path, `unknown field ${JSON.stringify(k)}`);
  for (const k of required) if (v[k] === undefined) throw bad(path, `missing field ${JSON.stringify(k)}`);
  return v;
}

function safeInt(v: unknown, path: string, min: number): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min) throw bad(path, `must be an integer ≥ ${min}`);
  return v;
}

function list(v: unknown, path: string, max: number): unknown[] {
  if (!Array.isArray(v)) throw bad(path, 'must be an array');
  if (v.length > max) throw bad(path, `more than ${max} entries`);
  return v;
}

function address(v: unknown, path: string): string {
  if (typeof v !== 'string') throw bad(path, 'must be an address string');
  try {
    decodeAddress(v);
  } catch (cause) {
    throw new AppError('INVALID_GENESIS', `genesis ${path}: not a P2PKH address`, { cause });
  }
  return v;
}

function parseTimeout(v: unknown, path: string): GenesisTimeout {
  const o = fields(v, path, ['baseMs', 'deltaMs'], ['baseMs', 'deltaMs']);
  return { baseMs: safeInt(o.baseMs, `${path}.baseMs`, 1), deltaMs: safeInt(o.deltaMs, `${path}.deltaMs`, 0) };
}

function parseConsensus(v: unknown): GenesisConsensus {
  const o = fields(v, 'consensus', ['timeouts', 'blockIntervalMs', 'maxBlockTxs', 'maxBlockBytes'], []);
  const out: GenesisConsensus = {};
  if (o.timeouts !== undefined) {
    const t = fields(o.timeouts, 'consensus.timeouts', ['propose', 'prevote', 'precommit'], ['propose', 'prevote', 'precommit']);
    out.timeouts = {
      propose: parseTimeout(t.propose, 'consensus.timeouts.propose'),
      prevote: parseTimeout(t.prevote, 'consensus.timeouts.prevote'),
      precommit: parseTimeout(t.precommit, 'consensus.timeouts.precommit'),
    };
  }
  if (o.blockIntervalMs !== undefined) out.blockIntervalMs = safeInt(o.blockIntervalMs, 'consensus.blockIntervalMs', 0);
  if (o.maxBlockTxs !== undefined) out.maxBlockTxs = safeInt(o.maxBlockTxs, 'consensus.maxBlockTxs', 1);
  if (o.maxBlockBytes !== undefined) out.maxBlockBytes = safeInt(o.maxBlockBytes, 'consensus.maxBlockBytes', 1);
  return out;
}

/** Validates a parsed JSON value as a genesis document; AppError INVALID_GENESIS names the first problem. */
export function parseGenesis(json: unknown): Genesis {
  const o = fields(json, '', ['chainId', 'genesisTime', 'validators', 'accounts', 'anchorers', 'consensus'], ['chainId', 'genesisTime', 'validators']);
  if (typeof o.chainId !== 'string' || o.chainId.length === 0 || Buffer.byteLength(o.chainId) > MAX_CHAIN_ID_BYTES) {
    throw bad('chainId', `must be a string of 1..${MAX_CHAIN_ID_BYTES} bytes`);
  }
  const genesisTime = safeInt(o.genesisTime, 'genesisTime', 0);
  const validatorList = list(o.validators, 'validators', MAX_VALIDATORS);
  if (validatorList.length === 0) throw bad('validators', 'at least one validator');
  const seen = new Set<string>();
  let total = 0;
  const validators = validatorList.map((raw, i): GenesisValidator => {
    const path = `validators[${i}]`;
    const v = fields(raw, path, ['publicKey', 'power', 'name'], ['publicKey', 'power']);
    if (typeof v.publicKey !== 'string' || !/^[0-9a-f]{66}$/.test(v.publicKey)) throw bad(`${path}.publicKey`, 'must be 66 lowercase hex characters');
    try {
      assertPublicKey(Buffer.from(v.publicKey, 'hex'));
    } catch (cause) {
      throw new AppError('INVALID_GENESIS', `genesis ${path}.publicKey: not a compressed secp256k1 key`, { cause });
    }
    if (seen.has(v.publicKey)) throw bad(`${path}.publicKey`, 'duplicate validator');
    seen.add(v.publicKey);
    const power = safeInt(v.power, `${path}.power`, 1);
    total += power;
    if (total > MAX_TOTAL_POWER) throw bad('validators', 'total power exceeds 2^50');
    const out: GenesisValidator = { publicKey: v.publicKey, power };
    if (v.name !== undefined) {
      if (typeof v.name !== 'string' || v.name.length > 64) throw bad(`${path}.name`, 'must be a string of ≤ 64 characters');
      out.name = v.name;
    }
    return out;
  });
  const seenAccounts = new Set<string>();
  const accounts = list(o.accounts ?? [], 'accounts', 100_000).map((raw, i): GenesisAccount => {
    const path = `accounts[${i}]`;
    const a = fields(raw, path, ['address', 'balance'], ['address', 'balance']);
    const addr = address(a.address, `${path}.address`);
    if (seenAccounts.has(addr)) throw bad(`${path}.address`, 'duplicate account');
    seenAccounts.add(addr);
    return { address: addr, balance: safeInt(a.balance, `${path}.balance`, 0) };
  });
  const seenAnchorers = new Set<string>();
  const anchorers = list(o.anchorers ?? [], 'anchorers', 100_000).map((raw, i) => {
    const addr = address(raw, `anchorers[${i}]`);
    if (seenAnchorers.has(addr)) throw bad(`anchorers[${i}]`, 'duplicate anchorer');
    seenAnchorers.add(addr);
    return addr;
  });
  const genesis: Genesis = { chainId: o.chainId, genesisTime, validators, accounts, anchorers };
  if (o.consensus !== undefined) genesis.consensus = parseConsensus(o.consensus);
  return genesis;
}

/** The genesis as a plain object with a fixed key order (the canonical form). */
function canonical(g: Genesis): object {
  const out: Record<string, unknown> = {
    chainId: g.chainId,
    genesisTime: g.genesisTime,
    validators: g.validators.map((v) => (v.name === undefined ? { publicKey: v.publicKey, power: v.power } : { publicKey: v.publicKey, power: v.power, name: v.name })),
    accounts: g.accounts.map((a) => ({ address: a.address, balance: a.balance })),
    anchorers: [...g.anchorers],
  };
  if (g.consensus !== undefined) {
    const c = g.consensus;
    const t = c.timeouts;
    const consensus: Record<string, unknown> = {};
    if (t !== undefined) {
      const pair = (x: GenesisTimeout) => ({ baseMs: x.baseMs, deltaMs: x.deltaMs });
      consensus.timeouts = { propose: pair(t.propose), prevote: pair(t.prevote), precommit: pair(t.precommit) };
    }
    if (c.blockIntervalMs !== undefined) consensus.blockIntervalMs = c.blockIntervalMs;
    if (c.maxBlockTxs !== undefined) consensus.maxBlockTxs = c.maxBlockTxs;
    if (c.maxBlockBytes !== undefined) consensus.maxBlockBytes = c.maxBlockBytes;
    out.consensus = consensus;
  }
  return out;
}

/** Pretty JSON for files (2-space indent, trailing newline); parseGenesis(JSON.parse(x)) round-trips. */
export function serialiseGenesis(g: Genesis): string {
  return `${JSON.stringify(canonical(parseGenesis(g)), null, 2)}\n`;
}

export function genesisHash(g: Genesis): Uint8Array {
  return taggedHash(GENESIS_TAG, utf8(JSON.stringify(canonical(parseGenesis(g)))));
}

/**
 * The state at height 0: chain meta, built-in formats (no maintainer), accounts, validators (each
 * one's power is bonded stake of its account) and anchorers. nextValidators is the set of height 1.
 */
export function genesisExecution(genesis: Genesis): BlockExecution {
  const g = parseGenesis(genesis);
  const hash = genesisHash(g);
  const state = new StateOverlay(new MemoryState());
  state.set(keys.meta('chainId'), saveMetaBytes(utf8(g.chainId)));
  state.set(keys.meta('genesisHash'), saveMetaBytes(hash));
  for (const def of BUILTIN_FORMATS) state.set(keys.format(def.name), saveFormat({ definition: def, maintainer: null, height: 0 }));
  const balances = new Map<string, { balance: number; bonded: number }>();
  for (const a of g.accounts) balances.set(a.address, { balance: a.balance, bonded: 0 });
  for (const v of g.validators) {
    const publicKey = Uint8Array.from(Buffer.from(v.publicKey, 'hex'));
    const addr = p2pkhAddress(publicKey);
    const account = balances.get(addr) ?? { balance: 0, bonded: 0 };
    account.bonded += v.power;
    balances.set(addr, account);
    state.set(keys.validator(hash160(publicKey)), saveValidator({ publicKey, power: v.power }));
  }
  for (const [addr, account] of balances) {
    if (!Number.isSafeInteger(account.balance + account.bonded)) throw bad('accounts', `${addr}: balance + stake exceeds 2^53 − 1`);
    if (account.balance + account.bonded > 0) state.set(keys.account(decodeAddress(addr)), saveAccount({ ...account, unbonding: 0, unbondingUntil: 0 }));
  }
  for (const addr of g.anchorers) state.set(keys.anchorer(decodeAddress(addr)), saveMarker());
  const writes = state.writes();
  const memory = new MemoryState();
  memory.apply(writes);
  // Read back in key order so the list is canonical (hash160 ascending), as executeBlock returns it.
  const nextValidators = readValidators(memory).map((v) => ({ publicKey: v.publicKey, power: v.power }));
  return { results: [], writes, appHash: computeAppHash(hash, 0, writes), nextValidators, validatorsChanged: true };
}
