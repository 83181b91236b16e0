// The KvStore contract: one suite every backend must pass (run by sqlite-kv-store.test.ts and redis-cluster-kv-store.test.ts).
import type { Test } from 'tap';
import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { recordId } from '../../../protocol/record.js';
import { compareBytes } from '../../../protocol/wire.js';
import { KvError, MAX_RANGE_LIMIT, type KvEntry, type KvStore, type KvErrorCode } from '../../../gateway/kv/kv-store.js';

export type MakeStore = () => Promise<KvStore>;

const BASE58 = '123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz';

/** A random base58 address-shaped string, so every case works on data no other case or run touches. */
export function freshAddress(): string {
  return '1' + [...randomBytes(33)].map((b) => BASE58[b % 58]).join('');
}

export function entry(address: string, key: Uint8Array | number[], recordTag: string, receivedAt = 1_795_000_000_000): KvEntry {
  const encodedKey = key instanceof Uint8Array ? key : Uint8Array.from(key);
  return {
    address,
    encodedKey,
    record: Buffer.from(`record ${recordTag} ${Buffer.from(encodedKey).toString('hex')}`),
    originProof: Buffer.from(`proof ${recordTag}`),
    receivedAt,
  };
}

const u32Key = (n: number) => Uint8Array.of(0x74, 0x00, 0x01, 0x01, (n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff);
const ALL_START = new Uint8Array(0);
// Longer than every test key, so even a key of all 0xFF bytes sorts before it.
const ALL_END = new Uint8Array(16).fill(0xff);

async function rejectsCode(t: Test, promise: Promise<unknown>, code: KvErrorCode, message: string): Promise<void> {
  try {
    await promise;
    t.fail(`${message}: resolved, expected ${code}`);
  } catch (err) {
    t.ok(err instanceof KvError, `${message}: a KvError`);
    t.equal((err as KvError).code, code, message);
  }
}

async function scanAll(store: KvStore, address: string, start: Uint8Array, end: Uint8Array, limit: number): Promise<{ entries: KvEntry[]; pages: number }> {
  const entries: KvEntry[] = [];
  let cursor: string | undefined;
  let pages = 0;
  for (;;) {
    const page = await store.range(address, start, end, { limit, ...(cursor === undefined ? {} : { cursor }) });
    pages++;
    entries.push(...page.entries);
    if (page.nextCursor === null) return { entries, pages };
    cursor = page.nextCursor;
  }
}

const hexOf = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex');

export function runKvContract(t: Test, makeStore: MakeStore): void {
  const open = async (t: Test) => {
    const store = await makeStore();
    t.teardown(() => store.close());
    return store;
  };

  t.test('putIfAbsent: per-entry inserted / duplicate / conflict, the same id twice in one batch', async (t) => {
    const store = await open(t);
    const A = freshAddress();
    const a = entry(A, u32Key(1), 'a');
    const b = entry(A, u32Key(2), 'b');
    const aAgainOtherProof = { ...entry(A, u32Key(1), 'a'), originProof: Buffer.from('another proof'), receivedAt: 5 };
    const aForged = entry(A, u32Key(1), 'forged');
    t.same(await store.putIfAbsent([a, b, aAgainOtherProof, aForged, entry(A, u32Key(3), 'c')]), ['inserted', 'inserted', 'duplicate', 'conflict', 'inserted']);
    t.same(await store.putIfAbsent([entry(A, u32Key(2), 'b'), entry(A, u32Key(2), 'b2'), entry(A, u32Key(4), 'd')]), ['duplicate', 'conflict', 'inserted'], 'a later batch');
    t.same(await store.putIfAbsent([]), [], 'an empty batch');
    const stored = await store.get(A, u32Key(1));
    t.same(stored, a, 'the first copy stays: record, origin proof and receivedAt');
    t.ok(stored !== null && Buffer.from(recordId(A, stored.encodedKey)).equals(Buffer.from(recordId(A, a.encodedKey))), 'same record id');
  });

  t.test('get: a missing key is null; stored bytes round-trip exactly, including 0x00 / 0xFF and an empty origin proof', async (t) => {
    const store = await open(t);
    const A = freshAddress();
    const key = Uint8Array.of(0x00, 0xff, 0x00, 0x00, 0xff);
    const e: KvEntry = { address: A, encodedKey: key, record: Uint8Array.of(0, 255, 0, 13, 10, 0), originProof: new Uint8Array(0), receivedAt: 0 };
    t.equal(await store.get(A, key), null);
    t.same(await store.putIfAbsent([e]), ['inserted']);
    t.same(await store.get(A, key), e);
    t.equal(await store.get(A, Uint8Array.of(0x00, 0xff, 0x00, 0x00)), null, 'a prefix of a stored key is another key');
    t.equal(await store.get(freshAddress(), key), null, 'another address');
  });

  t.test('range: order equals byte order (property, keys with 0x00/0xFF bytes and prefixes of each other)', async (t) => {
    const store = await open(t);
    // A tiny alphabet makes equal prefixes, embedded zeros and 0xFF runs common.
    const keyArb = fc.array(fc.constantFrom(0x00, 0x01, 0x7f, 0x80, 0xfe, 0xff), { minLength: 1, maxLength: 6 }).map((b) => Uint8Array.from(b));
    const boundArb = fc.array(fc.constantFrom(0x00, 0x01, 0x7f, 0x80, 0xfe, 0xff), { minLength: 0, maxLength: 7 }).map((b) => Uint8Array.from(b));
    await fc.assert(
      fc.asyncProperty(fc.uniqueArray(keyArb, { minLength: 1, maxLength: 40, selector: hexOf }), boundArb, boundArb, fc.integer({ min: 1, max: 12 }), async (keys, x, y, limit) => {
        const A = freshAddress();
        const outcomes = await store.putIfAbsent(keys.map((k) => entry(A, k, 'p')));
        if (!outcomes.every((o) => o === 'inserted')) return false;
        const [start, end] = compareBytes(x, y) <= 0 ? [x, y] : [y, x];
        const expected = keys.filter((k) => compareBytes(k, start) >= 0 && compareBytes(k, end) < 0).sort(compareBytes).map(hexOf);
        const { entries } = await scanAll(store, A, start, end, limit);
        const whole = await store.range(A, ALL_START, ALL_END, { limit: MAX_RANGE_LIMIT });
        return (
          JSON.stringify(entries.map((e) => hexOf(e.encodedKey))) === JSON.stringify(expected) &&
          JSON.stringify(whole.entries.map((e) => hexOf(e.encodedKey))) === JSON.stringify(keys.map(hexOf).sort()) &&
          entries.every((e) => e.address === A && Buffer.from(e.record).equals(Buffer.from(entry(A, e.encodedKey, 'p').record)))
        );
      }),
      { numRuns: 40 },
    );
    t.pass('byte order held for 40 random key sets and ranges');
  });

  t.test('range: limit + cursor paging returns every entry exactly once, no empty last page', async (t) => {
    const store = await open(t);
    const A = freshAddress();
    const keys = Array.from({ length: 210 }, (_, i) => u32Key(i * 3));
    await store.putIfAbsent(keys.map((k) => entry(A, k, 'page')));
    for (const limit of [1, 7, 70, 210, 1000]) {
      const { entries, pages } = await scanAll(store, A, ALL_START, ALL_END, limit);
      t.same(entries.map((e) => hexOf(e.encodedKey)), keys.map(hexOf), `limit ${limit}: all entries in order, once each`);
      t.equal(pages, Math.max(1, Math.ceil(210 / limit)), `limit ${limit}: ${pages} pages, the last one full or short but never empty`);
    }
    const sub = await scanAll(store, A, u32Key(30), u32Key(60), 4);
    t.same(sub.entries.map((e) => hexOf(e.encodedKey)), keys.filter((_, i) => i * 3 >= 30 && i * 3 < 60).map(hexOf), '[start, end): start included, end excluded');
    const first = await store.range(A, ALL_START, ALL_END, { limit: 5 });
    t.type(first.nextCursor, 'string');
    t.match(first.nextCursor, /^[A-Za-z0-9_-]+$/, 'the cursor is base64url');
    // Entries inserted between pages after the cursor show up; the pages already read do not change.
    await store.putIfAbsent([entry(A, u32Key(4), 'late'), entry(A, u32Key(1000), 'late')]);
    const rest = await scanAll(store, A, ALL_START, ALL_END, 1000);
    t.equal(rest.entries.length, 212);
  });

  t.test('range: bad cursors are KV_BAD_CURSOR; empty, inverted and bad limits', async (t) => {
    const store = await open(t);
    const A = freshAddress();
    await store.putIfAbsent([1, 2, 3].map((n) => entry(A, u32Key(n), 'r')));
    const page = await store.range(A, ALL_START, ALL_END, { limit: 1 });
    const good = page.nextCursor!;
    for (const cursor of ['', 'not base64!', 'AA==', `${good}=`, 'A', 'A'.repeat(1400)]) {
      await rejectsCode(t, store.range(A, ALL_START, ALL_END, { limit: 1, cursor }), 'KV_BAD_CURSOR', `cursor ${JSON.stringify(cursor.slice(0, 20))}`);
    }
    await rejectsCode(t, store.range(A, u32Key(2), ALL_END, { limit: 1, cursor: good }), 'KV_BAD_CURSOR', 'a cursor before the range start');
    await rejectsCode(t, store.range(A, ALL_START, u32Key(1), { limit: 1, cursor: good }), 'KV_BAD_CURSOR', 'a cursor at or after the range end');
    t.same(await store.range(A, u32Key(2), u32Key(2), { limit: 10 }), { entries: [], nextCursor: null }, 'start = end is empty');
    t.same(await store.range(A, u32Key(4), ALL_END, { limit: 10 }), { entries: [], nextCursor: null }, 'nothing in range');
    t.same(await store.range(freshAddress(), ALL_START, ALL_END, { limit: 10 }), { entries: [], nextCursor: null }, 'unknown address');
    await rejectsCode(t, store.range(A, u32Key(3), u32Key(2), { limit: 10 }), 'KV_BAD_RANGE', 'start after end');
    for (const limit of [0, -1, 1.5, MAX_RANGE_LIMIT + 1, Number.NaN]) {
      await rejectsCode(t, store.range(A, ALL_START, ALL_END, { limit }), 'KV_BAD_RANGE', `limit ${limit}`);
    }
    await rejectsCode(t, store.range(A, new Uint8Array(1026), ALL_END, { limit: 1 }), 'KV_BAD_RANGE', 'a bound longer than any key + 1');
  });

  t.test('addresses are isolated: the same key under two addresses is two records', async (t) => {
    const store = await open(t);
    const [A, B] = [freshAddress(), freshAddress()];
    t.same(await store.putIfAbsent([entry(A, u32Key(1), 'A'), entry(B, u32Key(1), 'B'), entry(B, u32Key(2), 'B')]), ['inserted', 'inserted', 'inserted']);
    t.same((await store.get(A, u32Key(1)))?.record, entry(A, u32Key(1), 'A').record);
    t.same((await store.get(B, u32Key(1)))?.record, entry(B, u32Key(1), 'B').record);
    const a = await store.range(A, ALL_START, ALL_END, { limit: 10 });
    t.same(a.entries.map((e) => e.address), [A], 'A sees only its own record');
    t.equal((await store.range(B, ALL_START, ALL_END, { limit: 10 })).entries.length, 2);
  });

  t.test('bad entries are KV_BAD_ENTRY and nothing of the batch is sent', async (t) => {
    const store = await open(t);
    const A = freshAddress();
    const good = entry(A, u32Key(1), 'g');
    const bad: [string, KvEntry][] = [
      ['a hash-tag breaking address', { ...good, address: 'ab{c}' }],
      ['an empty address', { ...good, address: '' }],
      ['an empty key', { ...good, encodedKey: new Uint8Array(0) }],
      ['a key over 1024 bytes', { ...good, encodedKey: new Uint8Array(1025) }],
      ['an empty record', { ...good, record: new Uint8Array(0) }],
      ['a fractional receivedAt', { ...good, receivedAt: 1.5 }],
    ];
    for (const [what, e] of bad) await rejectsCode(t, store.putIfAbsent([good, e]), 'KV_BAD_ENTRY', what);
    t.equal(await store.get(A, u32Key(1)), null, 'the valid entry of a refused batch was not stored');
    await rejectsCode(t, store.get('a}b', u32Key(1)), 'KV_BAD_ENTRY', 'get with a bad address');
  });

  t.test('10,000 entries in batches of 500, read back by paging; a repeated batch is all duplicates', async (t) => {
    const store = await open(t);
    const A = freshAddress();
    const all = Array.from({ length: 10_000 }, (_, i) => entry(A, u32Key(i), 'bulk', 1_000 + i));
    for (let i = 0; i < all.length; i += 500) {
      const outcomes = await store.putIfAbsent(all.slice(i, i + 500));
      if (!outcomes.every((o) => o === 'inserted')) t.fail(`batch at ${i}: ${outcomes.join(',')}`);
    }
    const { entries, pages } = await scanAll(store, A, ALL_START, ALL_END, MAX_RANGE_LIMIT);
    t.equal(entries.length, 10_000);
    t.equal(pages, 10);
    t.ok(entries.every((e, i) => e.receivedAt === 1_000 + i && hexOf(e.encodedKey) === hexOf(u32Key(i))), 'every entry in key order with its own data');
    const again = await store.putIfAbsent(all.slice(4_000, 4_500));
    t.ok(again.every((o) => o === 'duplicate'), 'a resent batch is all duplicates');
  });

  t.test('health reports ok; close makes every call KV_CLOSED and is idempotent', async (t) => {
    const store = await makeStore();
    const health = await store.health();
    t.equal(health.ok, true, JSON.stringify(health));
    t.type(health.backend, 'string');
    await store.close();
    await store.close();
    const A = freshAddress();
    await rejectsCode(t, store.putIfAbsent([entry(A, u32Key(1), 'x')]), 'KV_CLOSED', 'putIfAbsent');
    await rejectsCode(t, store.get(A, u32Key(1)), 'KV_CLOSED', 'get');
    await rejectsCode(t, store.range(A, ALL_START, ALL_END, { limit: 1 }), 'KV_CLOSED', 'range');
    await rejectsCode(t, store.health(), 'KV_CLOSED', 'health');
  });

  t.test('close waits for calls in flight', async (t) => {
    const store = await makeStore();
    const A = freshAddress();
    const put = store.putIfAbsent(Array.from({ length: 200 }, (_, i) => entry(A, u32Key(i), 'flight')));
    await store.close();
    t.equal((await put).length, 200, 'the put started before close() completed');
    const reopened = await open(t);
    t.equal((await reopened.range(A, ALL_START, ALL_END, { limit: 1000 })).entries.length, 200);
  });
}
