// ChainGrantAuthority against a real in-process validator with real Grant transactions, and the grant-key routes over real HTTP with it.
import t, { type Test } from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApiError } from '../../../gateway/api/api-errors.js';
import { ChainGrantAuthority } from '../../../gateway/api/chain-grant-authority.js';
import { startGatewayApi } from '../../../gateway/api/gateway-api.js';
import type { GrantedRecordRef } from '../../../gateway/api/grant-keys.js';
import { LeafLog } from '../../../gateway/batches/leaf-log.js';
import { ChainClient } from '../../../gateway/chain/client/chain-client.js';
import { type LocalValidator, startLocalValidator } from '../../../gateway/chain/node/local-validator.js';
import { SqliteKvStore } from '../../../gateway/kv/sqlite-kv-store.js';
import { builtinFormatDictionary } from '../../../protocol/builtin-formats.js';
import { encodeGrantBody, type GrantTerms } from '../../../protocol/chain/tx-bodies.js';
import { buildTx } from '../../../protocol/chain/transactions.js';
import { masterKeyFromSeed } from '../../../protocol/hd-keys.js';
import { encodeRecordKey } from '../../../protocol/key-encoding.js';
import { ownerIdentity, poolMaterialFor } from '../../../protocol/owner-keys.js';
import { derivePoolAddresses } from '../../../protocol/pools.js';
import { recordId } from '../../../protocol/record.js';

const formats = builtinFormatDictionary();
const owner = ownerIdentity(masterKeyFromSeed(new Uint8Array(64).fill(0x31)));
const grantee = ownerIdentity(masterKeyFromSeed(new Uint8Array(64).fill(0x32))).address;
const [address, otherAddress] = derivePoolAddresses(poolMaterialFor(masterKeyFromSeed(new Uint8Array(64).fill(0x31)), 0, 4));
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
/** Stored at noon UTC on 2026-11-20: the day of records whose format has no time key. */
const STORED_AT = Date.UTC(2026, 10, 20, 12);

const dtc = (day: number, session = 1): GrantedRecordRef => ({ address: address!, encodedKey: encodeRecordKey('dtc', formats.get('dtc').key, { TIME: day * 1_000_000 + 101500, SESSION_ID: session }) });
const trip = (day: number): GrantedRecordRef => ({ address: address!, encodedKey: encodeRecordKey('trip-gps', formats.get('trip-gps').key, { SESSION_ID: 7, START_TIME: day * 1_000_000 + 80000, END_TIME: day * 1_000_000 + 90000 }) });
const carvio = (id: number): GrantedRecordRef => ({ address: address!, encodedKey: encodeRecordKey('carvio', formats.get('carvio').key, { CARVIO_ID: id }) });
const idOf = (ref: GrantedRecordRef) => recordId(ref.address, ref.encodedKey);

interface Fixture {
  chain: LocalValidator;
  client: ChainClient;
  kv: SqliteKvStore;
  leafLog: LeafLog;
  grant(terms: Partial<GrantTerms>): Promise<Uint8Array>;
  revoke(grantId: Uint8Array): Promise<void>;
  stopChain(): Promise<void>;
}

async function setUp(t: Test, stored: GrantedRecordRef[]): Promise<Fixture> {
  const dir = mkdtempSync(join(tmpdir(), 'carchain-grant-authority-'));
  const open: { chain?: LocalValidator; kv?: SqliteKvStore; leafLog?: LeafLog } = {};
  const stopChain = async () => {
    await open.chain?.stop();
    delete open.chain;
  };
  // Registered first, so a failing start still leaves nothing behind.
  t.teardown(async () => {
    await stopChain();
    await open.kv?.close();
    open.leafLog?.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const chain = (open.chain = await startLocalValidator({ dataDir: join(dir, 'chain'), blockIntervalMs: 50, emptyBlockIntervalMs: 50 }));
  const kv = (open.kv = SqliteKvStore.open({ path: join(dir, 'kv.db') }));
  const leafLog = (open.leafLog = new LeafLog(join(dir, 'leaves.db')));
  await kv.putIfAbsent(stored.map((ref) => ({ ...ref, record: new Uint8Array(Buffer.from(`sealed ${hex(ref.encodedKey)}`)), originProof: new Uint8Array(0), receivedAt: STORED_AT })));
  const client = new ChainClient([chain.rpc.url]);
  const submit = async (body: Uint8Array) => {
    const tx = buildTx({ type: 'Grant', chainId: chain.genesis.chainId, signerPriv: owner.privateKey, expiresAt: Date.now() + 600_000, body });
    await client.submit(tx.bytes, { waitForCommit: true });
    return tx.txId;
  };
  return {
    chain, client, kv, leafLog, stopChain,
    grant: (terms) => submit(encodeGrantBody({ kind: 'grant', grantee, granteeRsaFingerprint: new Uint8Array(32).fill(5), fromDay: 20261120, toDay: 20261121, formats: ['dtc', 'carvio'], resell: false, expiresAt: 0, revokes: null, ...terms })),
    revoke: async (grantId) => void (await submit(encodeGrantBody({ kind: 'revoke', revokes: grantId }))),
  };
}

async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

t.test('authority: authorised, unknown, outside the days or formats, absent or unreferenced records, expired, revoked, chain down', async (t) => {
  t.setTimeout(120_000);
  const inRange = [dtc(20261120), dtc(20261121), carvio(1)];
  const f = await setUp(t, [...inRange, dtc(20261119), dtc(20261122), trip(20261120)]);
  const authority = (now?: number) => new ChainGrantAuthority({ chain: f.client, kv: f.kv, formats: () => formats, cacheTtlMs: 0, ...(now === undefined ? {} : { now: () => now }) });
  const a = authority();
  const ask = (grantId: Uint8Array, refs: (GrantedRecordRef | null)[], ids = refs.map((r) => (r === null ? new Uint8Array(32) : idOf(r)))) => a.isAuthorised(grantId, ids, refs);

  const grantId = await f.grant({});
  t.equal(await ask(grantId, inRange), true, 'a committed grant covers dtc on both days and carvio stored on a granted day');
  t.equal(await ask(grantId, []), true, 'the grant alone (no records) is in force');
  t.equal(await ask(new Uint8Array(32).fill(0xee), inRange), false, 'unknown grant');
  t.equal(await ask(grantId, [dtc(20261119)]), false, 'the day before the range');
  t.equal(await ask(grantId, [dtc(20261122)]), false, 'the day after the range');
  t.equal(await ask(grantId, [inRange[0]!, trip(20261120)]), false, 'a format the grant does not name refuses the whole call');
  t.equal(await ask(grantId, [dtc(20261120, 99)]), false, 'a covered key that is not in the KV store');
  t.equal(await ask(grantId, [null]), false, 'a record id without its reference cannot be judged');
  t.equal(await ask(grantId, [inRange[0]!], [idOf(inRange[1]!)]), false, 'a reference that is not the id\'s');
  t.equal(await ask(grantId, [{ address: otherAddress!, encodedKey: inRange[0]!.encodedKey }]), false, 'the same key under another address is another record');

  const expiresAt = Date.now() + 30 * 60_000;
  const expiring = await f.grant({ expiresAt });
  t.equal(await authority(expiresAt - 1).isAuthorised(expiring, [idOf(inRange[0]!)], [inRange[0]!]), true, 'before expiresAt');
  t.equal(await authority(expiresAt).isAuthorised(expiring, [idOf(inRange[0]!)], [inRange[0]!]), false, 'at expiresAt (now injected)');

  const cached = new ChainGrantAuthority({ chain: f.client, kv: f.kv, formats: () => formats, cacheTtlMs: 3_600_000 });
  t.equal(await cached.isAuthorised(grantId, []), true);
  await f.revoke(grantId);
  t.equal(await ask(grantId, inRange), false, 'revoked');
  t.equal(await cached.isAuthorised(grantId, []), true, 'a cached grant is reused until its TTL runs out (revocation then takes effect)');

  await f.stopChain();
  const down = await a.isAuthorised(expiring, []).then(() => null, (err: unknown) => err);
  t.ok(down instanceof ApiError, 'an ApiError when the chain is down');
  t.match(down, { code: 'CHAIN_UNAVAILABLE', status: 503, temporary: true });
  const nowhere = new ChainGrantAuthority({ chain: new ChainClient([`http://127.0.0.1:${await closedPort()}`], 2000), kv: f.kv, formats: () => formats });
  await t.rejects(nowhere.isAuthorised(expiring, []), { code: 'CHAIN_UNAVAILABLE', temporary: true }, 'nothing listening');
});

t.test('gateway API: wrapped keys are stored and served only for a committed grant that covers the records', async (t) => {
  t.setTimeout(120_000);
  const covered = [dtc(20261120), dtc(20261121)];
  const outside = dtc(20261122);
  const f = await setUp(t, [...covered, outside]);
  const server = await startGatewayApi({
    kv: f.kv, batches: f.leafLog, formats: () => formats, stats: () => Promise.reject(new Error('not used here')),
    grants: new ChainGrantAuthority({ chain: f.client, kv: f.kv, formats: () => formats, cacheTtlMs: 0 }),
  }, { host: '127.0.0.1', port: 0 });
  t.teardown(() => server.close());
  const call = async (path: string, body?: unknown) => {
    const res = await fetch(`${server.url}${path}`, body === undefined ? {} : { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    return { status: res.status, body: (await res.json()) as { records: { recordId: string }[]; nextCursor: string | null } & Record<string, unknown> };
  };
  const item = (ref: GrantedRecordRef, fill = 'ab') => ({ recordId: hex(idOf(ref)), wrappedKey: fill.repeat(384), address: ref.address, key: hex(ref.encodedKey) });

  const unknown = 'ee'.repeat(32);
  t.match(await call(`/v1/grants/${unknown}/keys`, [item(covered[0]!)]), { status: 403, body: { error: { code: 'GRANT_REFUSED' } } }, 'PUT for a grant the chain does not have');
  const grantId = hex(await f.grant({}));
  t.match(await call(`/v1/grants/${grantId}/keys`, covered.map((r) => item(r))), { status: 200, body: { stored: 2, unchanged: 0 } }, 'PUT for the committed grant');
  t.match(await call(`/v1/grants/${grantId}/keys`, [item(outside)]), { status: 403, body: { error: { code: 'GRANT_REFUSED' } } }, 'a record outside the days');
  t.match(await call(`/v1/grants/${grantId}/keys`, [{ recordId: hex(idOf(outside)), wrappedKey: 'ab' }]), { status: 403 }, 'a record without its reference');
  t.match(await call(`/v1/grants/${grantId}/keys`, [{ ...item(covered[0]!), recordId: hex(idOf(covered[1]!)) }]), { status: 400, body: { error: { code: 'BAD_BODY' } } }, 'a reference that is not the id\'s');
  t.match(await call(`/v1/grants/${grantId}/keys`, [{ recordId: hex(idOf(covered[0]!)), wrappedKey: 'ab'.repeat(384) }]), { status: 200, body: { unchanged: 1 } }, 'a repeat without the reference uses the stored one');

  const got = await call(`/v1/grants/${grantId}/keys?recordId=${hex(idOf(covered[0]!))}&recordId=${hex(idOf(outside))}`);
  t.same(got.body, { grantId, keys: [item(covered[0]!)], missing: [hex(idOf(outside))] }, 'GET gives the key with its record reference');
  const listing = await call(`/v1/grants/${grantId}/records?limit=1`);
  t.equal(listing.status, 200);
  t.equal(listing.body.records.length, 1);
  const rest = await call(`/v1/grants/${grantId}/records?limit=1&cursor=${listing.body.nextCursor}`);
  t.same([...listing.body.records, ...rest.body.records].map((r) => r.recordId).sort(), covered.map((r) => hex(idOf(r))).sort(), 'the listing pages through every shared record');
  t.match(await call(`/v1/grants/${unknown}/records`), { status: 403 }, 'no listing of an unknown grant');

  await f.revoke(new Uint8Array(Buffer.from(grantId, 'hex')));
  t.match(await call(`/v1/grants/${grantId}/keys?recordId=${hex(idOf(covered[0]!))}`), { status: 403, body: { error: { code: 'GRANT_REFUSED' } } }, 'GET after revocation');
  t.match(await call(`/v1/grants/${grantId}/records`), { status: 403 }, 'listing after revocation');
  t.match(await call(`/v1/grants/${grantId}/keys`, [item(covered[1]!)]), { status: 403 }, 'PUT after revocation');

  await f.stopChain();
  t.match(await call(`/v1/grants/${grantId}/records`), { status: 503, body: { error: { code: 'CHAIN_UNAVAILABLE', temporary: true } } }, 'chain down');
});
