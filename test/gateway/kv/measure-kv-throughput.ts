// Measures KvStore insert throughput (batches of 1 and 64, one call at a time) on SQLite and Redis Cluster; prints JSON.
//   node --import tsx test/gateway/kv/measure-kv-throughput.ts     (Redis rows need CARCHAIN_REDIS_CLUSTER)
// Not a test: no assertions on speed. Records are 700 random bytes, origin proofs 500, like a small sealed record.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KvEntry, KvStore } from '../../../gateway/kv/kv-store.js';
import { RedisClusterKvStore, parseClusterNodes } from '../../../gateway/kv/redis-cluster-kv-store.js';
import { SqliteKvStore } from '../../../gateway/kv/sqlite-kv-store.js';
import { freshAddress } from './kv-contract.js';
import { deleteKeysWithPrefix, uniquePrefix } from './redis-test-cluster.js';

const SECONDS = Number(process.env.KV_MEASURE_SECONDS ?? 3);
let counter = 0;

function makeBatch(address: string, size: number): KvEntry[] {
  return Array.from({ length: size }, () => {
    const key = Buffer.alloc(12);
    key.writeUInt32BE(0x74000101, 0);
    key.writeBigUInt64BE(BigInt(counter++), 4);
    return { address, encodedKey: key, record: randomBytes(700), originProof: randomBytes(500), receivedAt: Date.now() };
  });
}

async function measure(store: KvStore, batchSize: number): Promise<{ batchSize: number; insertsPerSecond: number; callsPerSecond: number }> {
  const address = freshAddress();
  const batches = Array.from({ length: 200 }, () => makeBatch(address, batchSize));
  // Warm-up, then as many fresh batches as fit in the time.
  await store.putIfAbsent(makeBatch(address, batchSize));
  let calls = 0;
  const started = process.hrtime.bigint();
  const budget = BigInt(SECONDS * 1e9);
  while (process.hrtime.bigint() - started < budget) {
    await store.putIfAbsent(batches[calls % batches.length]!.map((e) => ({ ...e, encodedKey: Buffer.concat([e.encodedKey, Buffer.from([calls & 0xff, calls >> 8])]) })));
    calls++;
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  return { batchSize, insertsPerSecond: Math.round((calls * batchSize) / seconds), callsPerSecond: Math.round(calls / seconds) };
}

const results: Record<string, unknown>[] = [];
const dir = mkdtempSync(join(tmpdir(), 'carchain-kv-measure-'));
try {
  for (const synchronous of ['FULL', 'NORMAL'] as const) {
    const store = SqliteKvStore.open({ path: join(dir, `${synchronous}.sqlite`), synchronous });
    for (const size of [1, 64]) results.push({ backend: `sqlite synchronous=${synchronous}`, ...(await measure(store, size)) });
    await store.close();
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
const spec = process.env.CARCHAIN_REDIS_CLUSTER;
if (spec) {
  const nodes = parseClusterNodes(spec);
  const prefix = uniquePrefix();
  try {
    for (const replicas of [0, 1]) {
      const store = await RedisClusterKvStore.connect({ nodes, prefix, replicas });
      for (const size of [1, 64]) results.push({ backend: `redis-cluster replicas=${replicas}`, ...(await measure(store, size)) });
      await store.close();
    }
  } finally {
    await deleteKeysWithPrefix(nodes, prefix);
  }
}
console.log(JSON.stringify({ seconds: SECONDS, cpus: (await import('node:os')).cpus().length, results }, null, 2));
