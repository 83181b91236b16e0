// The query API over real HTTP on 127.0.0.1:0 with a real SQLite KV (and the shared Redis Cluster when CARCHAIN_REDIS_CLUSTER is set) and a real leaf log.
import t, { type Test } from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { startGatewayApi, type GatewayApiServer } from '../../../gateway/api/gateway-api.js';
import type { GatewayStats } from '../../../gateway/api/gateway-status.js';
import { permissiveGrantAuthority, type GrantAuthority } from '../../../gateway/api/grant-keys.js';
import { LeafLog } from '../../../gateway/batches/leaf-log.js';
import { REJECTION_REASONS } from '../../../gateway/ingest/uplink-verifier.js';
import type { KvEntry, KvStore } from '../../../gateway/kv/kv-store.js';
import { RedisClusterKvStore } from '../../../gateway/kv/redis-cluster-kv-store.js';
import { SqliteKvStore } from '../../../gateway/kv/sqlite-kv-store.js';
import { builtinFormatDictionary } from '../../../protocol/builtin-formats.js';
import { encodeRecordKey } from '../../../protocol/key-encoding.js';
import { verifyInclusion } from '../../../protocol/merkle.js';
import { masterKeyFromSeed } from '../../../protocol/hd-keys.js';
import { poolMaterialFor } from '../../../protocol/owner-keys.js';
import { derivePoolAddresses } from '../../../protocol/pools.js';
import { recordId, recordLeafHash } from '../../../protocol/record.js';
import { deleteKeysWithPrefix, sharedClusterNodes, uniquePrefix } from '../kv/redis-test-cluster.js';

const formats = builtinFormatDictionary();
const addresses = derivePoolAddresses(poolMaterialFor(masterKeyFromSeed(new Uint8Array(64).fill(9)), 0, 8));
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const unhex = (s: string) => new Uint8Array(Buffer.from(s, 'hex'));
const carvioKey = (id: number) => encodeRecordKey('carvio', formats.get('carvio').key, { CARVIO_ID: id });
const dtcKey = (time: number) => encodeRecordKey('dtc', formats.get('dtc').key, { TIME: time, SESSION_ID: 1 });
const entry = (address: string, encodedKey: Uint8Array, tag = 'r'): KvEntry => ({
  address, encodedKey, record: new Uint8Array(Buffer.from(`sealed ${tag} ${hex(encodedKey)}`)), originProof: Uint8Array.of(1, 2, 3), receivedAt: 1_795_000_000_000,
});

interface Fixture {
  url: string;
  kv: KvStore;
  leafLog: LeafLog;
  connected: boolean;
  server: GatewayApiServer;
}

async function startFixture(t: Test, kv: KvStore, grants?: GrantAuthority): Promise<Fixture> {
  const dir = mkdtempSync(join(tmpdir(), 'carchain-api-'));
  const leafLog = new LeafLog(join(dir, 'leaves.db'));
  const fixture = { kv, leafLog, connected: true } as Fixture;
  const stats = async (): Promise<GatewayStats> => {
    const s = leafLog.stats();
    return {
      gatewayId: 'api-test',
      ingest: { messages: 0, accepted: 0, duplicates: 0, conflicts: 0, rejectedMessages: 0, storeFailures: 0, groups: 0, rejectedByReason: Object.fromEntries(REJECTION_REASONS.map((r) => [r, 0])) as GatewayStats['ingest']['rejectedByReason'], connected: fixture.connected },
      batches: { sealed: s.batches, anchored: s.anchoredBatches, pendingLeaves: s.pendingLeaves },
      kv: await kv.health(),
    };
  };
  fixture.server = await startGatewayApi({ kv, batches: leafLog, formats: () => formats, stats, ...(grants ? { grants } : {}) }, { host: '127.0.0.1', port: 0 });
  fixture.url = fixture.server.url;
  t.teardown(async () => {
    await fixture.server.close();
    await kv.close();
    leafLog.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return fixture;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- response bodies are checked field by field
type Json = any;

async function getJson(url: string, init?: RequestInit): Promise<{ status: number; body: Json }> {
  const res = await fetch(url, init);
  const text = await res.text();
  return { status: res.status, body: text.length > 0 ? JSON.parse(text) : null };
}

async function expectError(t: Test, url: string, status: number, code: string, init?: RequestInit): Promise<void> {
  const { status: got, body } = await getJson(url, init);
  t.equal(got, status, `${init?.method ?? 'GET'} ${url.replace(/^http:\/\/[^/]+/, '').slice(0, 100)} → ${status}`);
  t.equal(body?.error?.code, code, `… code ${code}`);
  t.type(body?.error?.message, 'string');
}

function sqliteStore(t: Test, options: { busyTimeoutMs?: number } = {}): SqliteKvStore {
  const dir = mkdtempSync(join(tmpdir(), 'carchain-api-kv-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return SqliteKvStore.open({ path: join(dir, 'kv.db'), ...options });
}

/** The read-side suite every backend must pass; each case on its own address (a Redis Cluster is shared by the cases). */
function readSuite(t: Test, makeKv: () => Promise<KvStore>, [address, rangeAddress]: [string, string]): void {
  t.test('getKV: the stored entry as hex; 404 when absent; bad address and key codes', async (t) => {
    const f = await startFixture(t, await makeKv());
    const e = entry(address, carvioKey(7));
    await f.kv.putIfAbsent([e]);
    const { status, body } = await getJson(`${f.url}/v1/kv/${address}/${hex(e.encodedKey)}`);
    t.equal(status, 200);
    t.same(body, { address, key: hex(e.encodedKey), recordId: hex(recordId(address, e.encodedKey)), format: 'carvio', record: hex(e.record), originProof: '010203', storedAt: e.receivedAt });
    await expectError(t, `${f.url}/v1/kv/${address}/${hex(carvioKey(8))}`, 404, 'NOT_FOUND');
    await expectError(t, `${f.url}/v1/kv/${address.slice(0, -1)}2/${hex(e.encodedKey)}`, 400, 'BAD_ADDRESS'); // checksum
    await expectError(t, `${f.url}/v1/kv/0OIl/${hex(e.encodedKey)}`, 400, 'BAD_ADDRESS'); // not base58
    await expectError(t, `${f.url}/v1/kv/${address}/${hex(e.encodedKey).toUpperCase()}`, 400, 'BAD_KEY');
    await expectError(t, `${f.url}/v1/kv/${address}/abc`, 400, 'BAD_KEY');
    await expectError(t, `${f.url}/v1/kv/${address}/${'00'.repeat(1025)}`, 400, 'BAD_KEY');
  });

  t.test('getKVRange: a 2,500-record address walked with cursors returns each record exactly once, in order', async (t) => {
    const f = await startFixture(t, await makeKv());
    const address = rangeAddress;
    const all = Array.from({ length: 2500 }, (_, i) => entry(address, carvioKey(100_000 + i)));
    for (let i = 0; i < all.length; i += 500) await f.kv.putIfAbsent(all.slice(i, i + 500));
    for (const limit of [undefined, 1000, 333]) {
      const seen: string[] = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const q = new URLSearchParams({ format: 'carvio', ...(limit ? { limit: String(limit) } : {}), ...(cursor ? { cursor } : {}) });
        const { status, body } = await getJson(`${f.url}/v1/kv/${address}?${q.toString()}`);
        if (status !== 200) {
          t.fail(`page ${pages}: ${status} ${JSON.stringify(body)}`);
          return;
        }
        seen.push(...body.entries.map((e: { key: string }) => e.key));
        cursor = body.nextCursor;
        pages++;
      } while (cursor !== null);
      t.equal(pages, Math.ceil(2500 / (limit ?? 100)), `limit ${limit ?? 'default 100'}: pages`);
      t.same(seen, all.map((e) => hex(e.encodedKey)), `limit ${limit ?? 'default 100'}: every record once, in key order`);
    }
    const { body: bounded } = await getJson(`${f.url}/v1/kv/${address}?start=${hex(carvioKey(100_010))}&end=${hex(carvioKey(100_020))}&limit=1000`);
    t.same(bounded.entries.map((e: { key: string }) => e.key), all.slice(10, 20).map((e) => hex(e.encodedKey)), '[start, end) only');
    t.equal(bounded.nextCursor, null);
  });
}

t.test('SQLite KV', (t) => {
  readSuite(t, () => Promise.resolve(sqliteStore(t)), [addresses[0]!, addresses[1]!]);
  t.end();
});

const shared = sharedClusterNodes();
if ('fail' in shared) t.fail(shared.fail);
else if ('skip' in shared) t.test('Redis Cluster KV', { skip: shared.skip }, () => undefined);
else {
  const nodes = shared.nodes;
  const prefix = uniquePrefix();
  t.test('Redis Cluster KV', (t) => {
    t.teardown(async () => {
      await deleteKeysWithPrefix(nodes, prefix);
    });
    readSuite(t, () => RedisClusterKvStore.connect({ nodes, prefix }), [addresses[4]!, addresses[5]!]);
    t.end();
  });
}

t.test('range arguments: every 400 code, format filter', async (t) => {
  const f = await startFixture(t, sqliteStore(t));
  const address = addresses[2]!;
  await f.kv.putIfAbsent([...[1, 2, 3].map((i) => entry(address, carvioKey(i))), ...[10, 20].map((i) => entry(address, dtcKey(20261121000000 + i)))]);
  const base = `${f.url}/v1/kv/${address}`;
  const { body: everything } = await getJson(base);
  t.equal(everything.entries.length, 5, 'no bounds: the whole address');
  const { body: dtc } = await getJson(`${base}?format=dtc`);
  t.same(dtc.entries.map((e: { format: string }) => e.format), ['dtc', 'dtc'], 'format narrows to its keys');
  const { body: none } = await getJson(`${base}?format=dtc&end=${hex(carvioKey(2))}`);
  t.same(none.entries, [], 'format intersected with bounds can be empty');
  for (const limit of ['0', '1001', 'x', '1.5']) await expectError(t, `${base}?limit=${limit}`, 400, 'BAD_LIMIT');
  await expectError(t, `${base}?cursor=${encodeURIComponent('!!')}`, 400, 'BAD_CURSOR');
  await expectError(t, `${base}?cursor=${Buffer.from('zzzz').toString('base64url')}&end=${hex(carvioKey(2))}`, 400, 'BAD_CURSOR'); // outside the range
  await expectError(t, `${base}?cursor=AB`, 400, 'BAD_CURSOR'); // not the canonical spelling of any bytes
  await expectError(t, `${base}?start=${hex(carvioKey(3))}&end=${hex(carvioKey(1))}`, 400, 'BAD_RANGE');
  await expectError(t, `${base}?start=xyz`, 400, 'BAD_RANGE');
  await expectError(t, `${base}?format=nope`, 400, 'FORMAT_UNKNOWN');
  await expectError(t, `${base}?format=${encodeURIComponent('bad name!')}`, 400, 'FORMAT_UNKNOWN');
  await expectError(t, `${base}?proofs=yes`, 400, 'BAD_REQUEST');
  await expectError(t, `${f.url}/v1/kv/1/${hex(carvioKey(1))}`, 400, 'BAD_ADDRESS');
  await expectError(t, `${f.url}/v1/nothing`, 404, 'NOT_FOUND');
});

t.test('record proofs verify with verifyInclusion; pending is 202; anchors appear once recorded; batches', async (t) => {
  const f = await startFixture(t, sqliteStore(t));
  const address = addresses[3]!;
  const entries = Array.from({ length: 11 }, (_, i) => entry(address, carvioKey(i + 1)));
  await f.kv.putIfAbsent(entries);
  const leaf = (e: KvEntry) => ({ recordId: recordId(e.address, e.encodedKey), leafHash: recordLeafHash(e.record) });
  f.leafLog.append(entries.slice(0, 7).map(leaf));
  const batch = f.leafLog.sealBatch(100)!;
  f.leafLog.append(entries.slice(7, 10).map(leaf)); // logged, not sealed; the 11th is not logged at all

  for (const [i, e] of entries.slice(0, 7).entries()) {
    const { status, body } = await getJson(`${f.url}/v1/records/${hex(leaf(e).recordId)}/proof`);
    t.equal(status, 200);
    t.match(body, { recordId: hex(leaf(e).recordId), leafHash: hex(leaf(e).leafHash), batchId: batch.batchId, leafIndex: i, treeSize: 7, root: hex(batch.root), anchor: null });
    t.doesNotThrow(() => verifyInclusion(recordLeafHash(e.record), body.leafIndex, body.treeSize, body.path.map(unhex), unhex(body.root)), `record ${i}: the proof verifies`);
    if (i === 3) {
      const bent = body.path.map(unhex);
      bent[0]![0] ^= 1;
      t.throws(() => verifyInclusion(recordLeafHash(e.record), body.leafIndex, body.treeSize, bent, unhex(body.root)), { code: 'PROOF_INVALID' }, 'a tampered path does not');
    }
  }
  const pending = await getJson(`${f.url}/v1/records/${hex(leaf(entries[8]!).recordId)}/proof`);
  t.same([pending.status, pending.body], [202, { recordId: hex(leaf(entries[8]!).recordId), pending: true }]);
  await expectError(t, `${f.url}/v1/records/${hex(leaf(entries[10]!).recordId)}/proof`, 404, 'NOT_FOUND');
  await expectError(t, `${f.url}/v1/records/abcd/proof`, 400, 'BAD_RECORD_ID');

  const { body: withProofs } = await getJson(`${f.url}/v1/kv/${address}?proofs=1`);
  t.equal(withProofs.entries.length, 11);
  for (const [i, e] of withProofs.entries.entries()) {
    if (i < 7) verifyInclusion(recordLeafHash(unhex(e.record)), e.proof.leafIndex, e.proof.treeSize, e.proof.path.map(unhex), unhex(e.proof.root));
    else t.same(e.proof, i < 10 ? { pending: true } : null, `entry ${i}: ${i < 10 ? 'pending' : 'not logged'}`);
  }

  const { status, body } = await getJson(`${f.url}/v1/batches/${batch.batchId}`);
  t.same([status, body], [200, { batchId: batch.batchId, root: hex(batch.root), size: 7, sealedAt: batch.sealedAt, anchor: null }]);
  f.leafLog.markAnchored(batch.batchId, new Uint8Array(32).fill(0xab), 42);
  t.same((await getJson(`${f.url}/v1/batches/${batch.batchId}`)).body.anchor, { height: 42, txId: 'ab'.repeat(32) });
  t.same((await getJson(`${f.url}/v1/records/${hex(leaf(entries[0]!).recordId)}/proof`)).body.anchor, { height: 42, txId: 'ab'.repeat(32) });
  await expectError(t, `${f.url}/v1/batches/99`, 404, 'NOT_FOUND');
  await expectError(t, `${f.url}/v1/batches/0`, 400, 'BAD_BATCH_ID');
  await expectError(t, `${f.url}/v1/batches/x`, 400, 'BAD_BATCH_ID');
});

t.test('grant keys: refused without the chain; stored, idempotent, conflicts, bounds when permissive', async (t) => {
  const grantId = 'cd'.repeat(32);
  const ids = [1, 2, 3].map((i) => hex(new Uint8Array(32).fill(i)));
  const body = (list: { recordId: string; wrappedKey: string }[]) => ({ method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify(list) });

  const chainless = await startFixture(t, sqliteStore(t));
  const refused = await getJson(`${chainless.url}/v1/grants/${grantId}/keys`, body([{ recordId: ids[0]!, wrappedKey: 'aa' }]));
  t.same([refused.status, refused.body.error.code, refused.body.error.temporary], [503, 'CHAIN_UNAVAILABLE', true], 'the default authority refuses until the chain exists');
  await expectError(t, `${chainless.url}/v1/grants/${grantId}/keys?recordId=${ids[0]}`, 503, 'CHAIN_UNAVAILABLE');

  const denied = await startFixture(t, sqliteStore(t), { isAuthorised: () => Promise.resolve(false) });
  await expectError(t, `${denied.url}/v1/grants/${grantId}/keys`, 403, 'GRANT_REFUSED', body([{ recordId: ids[0]!, wrappedKey: 'aa' }]));

  const f = await startFixture(t, sqliteStore(t), permissiveGrantAuthority);
  const url = `${f.url}/v1/grants/${grantId}/keys`;
  const keys = ids.slice(0, 2).map((recordId, i) => ({ recordId, wrappedKey: `${i}f`.repeat(256) }));
  t.same((await getJson(url, body(keys))).body, { grantId, stored: 2, unchanged: 0 });
  t.same((await getJson(url, body(keys))).body, { grantId, stored: 0, unchanged: 2 }, 'the same keys again are idempotent');
  const got = await getJson(`${url}?recordId=${ids[0]}&recordId=${ids[1]}&recordId=${ids[2]}`);
  t.same(got.body, { grantId, keys, missing: [ids[2]] });
  t.same((await getJson(`${url}?recordId=${ids[1]}`)).body.keys, [keys[1]], 'one recordId');
  await expectError(t, url, 409, 'CONFLICT', body([{ recordId: ids[0]!, wrappedKey: 'ee' }]));
  t.same((await getJson(`${url}?recordId=${ids[0]}`)).body.keys, [keys[0]], 'the first wrapped key stays');
  t.same((await getJson(`${f.url}/v1/grants/${'ef'.repeat(32)}/keys?recordId=${ids[0]}`)).body.keys, [], 'grants do not see each other');
  await expectError(t, `${f.url}/v1/grants/xyz/keys?recordId=${ids[0]}`, 400, 'BAD_GRANT_ID');
  await expectError(t, url, 400, 'BAD_RECORD_ID');
  await expectError(t, `${url}?recordId=12`, 400, 'BAD_RECORD_ID');
  await expectError(t, url, 400, 'BAD_BODY', body([]));
  await expectError(t, url, 400, 'BAD_BODY', body([{ recordId: ids[0]!, wrappedKey: 'xyz' }]));
  await expectError(t, url, 400, 'BAD_BODY', body(Array.from({ length: 1001 }, () => ({ recordId: ids[0]!, wrappedKey: 'aa' }))));
  await expectError(t, url, 400, 'BAD_REQUEST', { method: 'PUT', headers: { 'content-type': 'application/json' }, body: '[{' });
  await expectError(t, url, 413, 'PAYLOAD_TOO_LARGE', { method: 'PUT', headers: { 'content-type': 'application/json' }, body: `["${'a'.repeat(5 * 1024 * 1024)}"]` });
  // Grant keys are not records of any pool address.
  t.same((await getJson(`${f.url}/v1/kv/${addresses[0]}`)).body.entries, []);
});

t.test('status: /stats, /health 200/503, /metrics with HTTP counters', async (t) => {
  const f = await startFixture(t, sqliteStore(t));
  const stats = await getJson(`${f.url}/stats`);
  t.match(stats, { status: 200, body: { gatewayId: 'api-test', ingest: { connected: true }, batches: { sealed: 0 }, kv: { backend: 'sqlite', ok: true } } });
  t.match(await getJson(`${f.url}/health`), { status: 200, body: { ok: true, mqtt: true } });
  f.connected = false;
  t.match(await getJson(`${f.url}/health`), { status: 503, body: { ok: false, mqtt: false } }, 'broker down');
  await getJson(`${f.url}/v1/kv/${addresses[0]}/00`);
  const res = await fetch(`${f.url}/metrics`);
  t.match(res.headers.get('content-type'), /^text\/plain/);
  const text = await res.text();
  t.match(text, /carchain_records_total\{outcome="accepted"\} 0/);
  t.match(text, /carchain_http_requests_total\{method="GET",route="\/v1\/kv\/:address\/:key",status="404"\} 1/, 'requests counted by route pattern');
  t.match(text, /carchain_http_requests_total\{method="GET",route="\/health",status="503"\} 1/);
});

t.test('KV down: 503 KV_UNAVAILABLE with temporary: true', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'carchain-api-down-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const kv = SqliteKvStore.open({ path: join(dir, 'kv.db'), busyTimeoutMs: 50 });
  const f = await startFixture(t, kv, permissiveGrantAuthority);
  // Another process's writer holds the SQLite write lock: our writes time out busy.
  const other = new Database(join(dir, 'kv.db'));
  other.exec('BEGIN IMMEDIATE');
  const busy = await getJson(`${f.url}/v1/grants/${'cd'.repeat(32)}/keys`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify([{ recordId: 'ab'.repeat(32), wrappedKey: 'aa' }]) });
  t.same([busy.status, busy.body.error.code, busy.body.error.temporary], [503, 'KV_UNAVAILABLE', true], 'write while locked');
  other.exec('ROLLBACK');
  other.close();
  // The backend gone (closed): reads and health say so.
  await kv.close();
  const read = await getJson(`${f.url}/v1/kv/${addresses[0]}/00`);
  t.same([read.status, read.body.error.code, read.body.error.temporary], [503, 'KV_UNAVAILABLE', true], 'read while down');
  const range = await getJson(`${f.url}/v1/kv/${addresses[0]}`);
  t.equal(range.status, 503);
  t.match(await getJson(`${f.url}/health`), { status: 503, body: { ok: false, error: { code: 'KV_UNAVAILABLE' } } });
});
