// Genesis: strict parsing with typed errors, canonical serialisation and hash, and the initial state and validator set.
import t from 'tap';
import { BUILTIN_FORMATS } from '../../../../protocol/builtin-formats.js';
import { AppError } from '../../../../gateway/chain/app/errors.js';
import { genesisExecution, genesisHash, parseGenesis, serialiseGenesis, type Genesis } from '../../../../gateway/chain/app/genesis.js';
import { getAccount, getChainMeta, getValidators, isAnchorer, listFormats } from '../../../../gateway/chain/app/queries.js';
import { MemoryState } from '../../../../gateway/chain/app/state.js';
import { ValidatorSet } from '../../../../gateway/chain/consensus/validator-set.js';
import { CHAIN_ID, hex, key, makeGenesis } from './fixtures.js';

function genesisError(json: unknown): string {
  try {
    parseGenesis(json);
    return 'accepted';
  } catch (err) {
    if (err instanceof AppError && err.code === 'INVALID_GENESIS') return err.message;
    throw err;
  }
}

t.test('parse: a valid document round-trips through JSON', (t) => {
  const g = makeGenesis({ consensus: { blockIntervalMs: 1000, maxBlockTxs: 500, maxBlockBytes: 1 << 20, timeouts: { propose: { baseMs: 3000, deltaMs: 500 }, prevote: { baseMs: 1000, deltaMs: 500 }, precommit: { baseMs: 1000, deltaMs: 500 } } } });
  const text = serialiseGenesis(g);
  t.same(parseGenesis(JSON.parse(text)), g);
  t.equal(serialiseGenesis(parseGenesis(JSON.parse(text))), text, 'stable text');
  t.same(parseGenesis({ chainId: 'x', genesisTime: 0, validators: g.validators }), { chainId: 'x', genesisTime: 0, validators: g.validators, accounts: [], anchorers: [] }, 'accounts and anchorers default to empty');
  t.end();
});

t.test('parse: every malformed document is refused with INVALID_GENESIS', (t) => {
  const g = makeGenesis() as unknown as Record<string, unknown>;
  const v = (g.validators as Record<string, unknown>[])[0]!;
  const cases: [string, unknown][] = [
    ['not an object', 'genesis'],
    ['unknown top-level field', { ...g, extra: 1 }],
    ['missing chainId', { ...g, chainId: undefined }],
    ['empty chainId', { ...g, chainId: '' }],
    ['chainId over 64 bytes', { ...g, chainId: 'x'.repeat(65) }],
    ['negative genesisTime', { ...g, genesisTime: -1 }],
    ['fractional genesisTime', { ...g, genesisTime: 1.5 }],
    ['no validators', { ...g, validators: [] }],
    ['validator key not hex', { ...g, validators: [{ ...v, publicKey: 'zz' }] }],
    ['validator key uppercase', { ...g, validators: [{ ...v, publicKey: (v.publicKey as string).toUpperCase() }] }],
    ['validator key off the curve', { ...g, validators: [{ ...v, publicKey: `02${'ff'.repeat(32)}` }] }],
    ['duplicate validator', { ...g, validators: [v, v] }],
    ['zero power', { ...g, validators: [{ ...v, power: 0 }] }],
    ['total power over 2^50', { ...g, validators: [{ ...v, power: 2 ** 50 }, { publicKey: hex(key('other').pub), power: 1 }] }],
    ['unknown validator field', { ...g, validators: [{ ...v, stake: 1 }] }],
    ['bad account address', { ...g, accounts: [{ address: '1BadAddress', balance: 1 }] }],
    ['negative balance', { ...g, accounts: [{ address: key('a').address, balance: -1 }] }],
    ['duplicate account', { ...g, accounts: [{ address: key('a').address, balance: 1 }, { address: key('a').address, balance: 2 }] }],
    ['bad anchorer', { ...g, anchorers: ['nope'] }],
    ['duplicate anchorer', { ...g, anchorers: [key('a').address, key('a').address] }],
    ['bad consensus timeout', { ...g, consensus: { timeouts: { propose: { baseMs: 0, deltaMs: 1 } } } }],
    ['unknown consensus field', { ...g, consensus: { blockTimeMs: 1 } }],
  ];
  for (const [name, json] of cases) t.not(genesisError(json), 'accepted', name);
  t.match(genesisError({ ...g, validators: [v, v] }), /validators\[1\]\.publicKey: duplicate/, 'the message names the field');
  t.end();
});

t.test('genesisHash: stable, and sensitive to every field', (t) => {
  const g = makeGenesis();
  const h = hex(genesisHash(g));
  t.equal(h, hex(genesisHash(parseGenesis(JSON.parse(serialiseGenesis(g))))), 'survives a JSON round trip');
  t.equal(h, hex(genesisHash(Object.fromEntries(Object.entries(g).reverse()) as unknown as Genesis)), 'independent of key order in the input');
  const variants: Genesis[] = [
    { ...g, chainId: 'other' },
    { ...g, genesisTime: g.genesisTime + 1 },
    { ...g, validators: g.validators.slice(1) },
    { ...g, accounts: [] },
    { ...g, anchorers: [] },
    { ...g, consensus: { blockIntervalMs: 1 } },
  ];
  for (const variant of variants) t.not(hex(genesisHash(variant)), h);
  t.end();
});

t.test('genesisExecution: initial state, canonical validator set, deterministic app hash', (t) => {
  const g = makeGenesis();
  const exec = genesisExecution(g);
  t.same(genesisExecution(g), exec, 'deterministic');
  t.ok(exec.validatorsChanged);
  t.same(exec.results, []);
  const state = new MemoryState();
  state.apply(exec.writes);
  t.same(getChainMeta(state), { chainId: CHAIN_ID, genesisHash: genesisHash(g) });
  t.same(
    listFormats(state).map((f) => [f.definition.name, f.maintainerAddress]),
    BUILTIN_FORMATS.map((f) => [f.name, null]).sort((a, b) => ((a[0] as string) < (b[0] as string) ? -1 : 1)),
    'built-in formats, no maintainer',
  );
  const set = new ValidatorSet(exec.nextValidators);
  t.equal(set.totalPower, 400);
  t.same(exec.nextValidators.map((v) => hex(v.publicKey)), set.validators.map((v) => hex(v.publicKey)), 'canonical order');
  t.same(getValidators(state).map((v) => v.address), set.validators.map((v) => v.address));
  t.same(getAccount(state, key('val0').address), { address: key('val0').address, balance: 500, bonded: 100, unbonding: 0, unbondingUntil: 0 }, 'genesis power is bonded stake');
  t.same(getAccount(state, key('val1').address), { address: key('val1').address, balance: 0, bonded: 100, unbonding: 0, unbondingUntil: 0 });
  t.same(getAccount(state, key('owner').address), { address: key('owner').address, balance: 0, bonded: 0, unbonding: 0, unbondingUntil: 0 }, 'zero accounts are not stored');
  t.ok(isAnchorer(state, key('gateway').address));
  t.ok(isAnchorer(state, key('val3').address), 'validators anchor too');
  t.notOk(isAnchorer(state, key('stranger').address));
  t.not(hex(genesisExecution({ ...g, chainId: 'x' }).appHash), hex(exec.appHash), 'the app hash starts from the genesis hash');
  t.end();
});
