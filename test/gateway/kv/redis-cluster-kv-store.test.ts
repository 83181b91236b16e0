// The KvStore contract on the shared Redis Cluster (CARCHAIN_REDIS_CLUSTER), plus Redis specifics: one slot per address, WAIT, errors.
import t from 'tap';
import { KvError } from '../../../gateway/kv/kv-store.js';
import { RedisClusterKvStore, parseClusterNodes, type ClusterNodeAddress } from '../../../gateway/kv/redis-cluster-kv-store.js';
import { indexKey, valueKey } from '../../../gateway/kv/redis-kv-layout.js';
import { entry, freshAddress, runKvContract } from './kv-contract.js';
import { deleteKeysWithPrefix, nodeClient, sharedClusterNodes, uniquePrefix } from './redis-test-cluster.js';

const shared = sharedClusterNodes();
if ('fail' in shared) {
  t.fail(shared.fail);
} else if ('skip' in shared) {
  t.comment(shared.skip);
  t.test('Redis Cluster KvStore', { skip: shared.skip }, () => undefined);
} else {
  runRedisTests(shared.nodes);
}

function runRedisTests(nodes: ClusterNodeAddress[]): void {
  const prefix = uniquePrefix();
  t.teardown(async () => {
    const deleted = await deleteKeysWithPrefix(nodes, prefix);
    t.comment(`deleted ${deleted} keys under ${prefix}:`);
  });

  t.test('contract (no WAIT)', (t) => {
    runKvContract(t, () => RedisClusterKvStore.connect({ nodes, prefix }));
    t.end();
  });

  t.test('contract (WAIT for 1 replica)', (t) => {
    runKvContract(t, () => RedisClusterKvStore.connect({ nodes, prefix, replicas: 1, waitTimeoutMs: 2000 }));
    t.end();
  });

  t.test('every key of an address hashes to one slot (CLUSTER KEYSLOT), different addresses spread over slots', async (t) => {
    const store = await RedisClusterKvStore.connect({ nodes, prefix });
    t.teardown(() => store.close());
    const client = nodeClient(nodes[0]!);
    t.teardown(() => client.disconnect());
    await client.connect();
    const slots = new Set<number>();
    for (let i = 0; i < 8; i++) {
      const A = freshAddress();
      const keys = [Uint8Array.of(1), Uint8Array.of(0, 255, 0), new Uint8Array(1024).fill(0xab)];
      t.same(await store.putIfAbsent(keys.map((k) => entry(A, k, 'slot'))), ['inserted', 'inserted', 'inserted']);
      const names = [indexKey(prefix, A), ...keys.map((k) => valueKey(prefix, A, k))];
      const keySlots = await Promise.all(names.map((name) => client.cluster('KEYSLOT', name)));
      t.equal(new Set(keySlots).size, 1, `${A}: ${names.length} keys, one slot`);
      slots.add(Number(keySlots[0]));
    }
    t.ok(slots.size > 1, `8 addresses used ${slots.size} slots`);
  });

  t.test('the index is a sorted set with score 0 and raw key bytes as members', async (t) => {
    const store = await RedisClusterKvStore.connect({ nodes, prefix });
    t.teardown(() => store.close());
    const A = freshAddress();
    await store.putIfAbsent([entry(A, [0xff], 'i'), entry(A, [0x00, 0x01], 'i'), entry(A, [0x00], 'i')]);
    const { Cluster } = await import('ioredis');
    const cluster = new Cluster(nodes.map((n) => ({ host: n.host, port: n.port })));
    t.teardown(() => cluster.disconnect());
    const members = await cluster.zrangeBuffer(indexKey(prefix, A), '0', '-1');
    t.same(members.map((m) => m.toString('hex')), ['00', '0001', 'ff'], 'raw key bytes in memcmp order');
    const scores = await Promise.all(members.map((m) => cluster.zscore(indexKey(prefix, A), m)));
    t.same(scores.map(Number), [0, 0, 0], 'score 0 for every member');
    const fields = await cluster.hgetallBuffer(valueKey(prefix, A, Uint8Array.of(0xff)));
    t.same(Object.keys(fields).sort(), ['p', 'r', 't']);
  });

  t.test('WAIT: more replicas than exist is KV_REPLICATION_TIMEOUT (temporary, mayHaveSucceeded); the master has the record', async (t) => {
    const store = await RedisClusterKvStore.connect({ nodes, prefix, replicas: 2, waitTimeoutMs: 100 });
    t.teardown(() => store.close());
    const A = freshAddress();
    try {
      await store.putIfAbsent([entry(A, [1], 'w')]);
      t.fail('expected KV_REPLICATION_TIMEOUT');
    } catch (err) {
      t.ok(err instanceof KvError);
      t.match(err, { code: 'KV_REPLICATION_TIMEOUT', temporary: true, mayHaveSucceeded: true });
    }
    t.same(await store.get(A, Uint8Array.of(1)), entry(A, [1], 'w'), 'written on the master');
    const one = await RedisClusterKvStore.connect({ nodes, prefix, replicas: 1, waitTimeoutMs: 2000 });
    t.teardown(() => one.close());
    t.same(await one.putIfAbsent([entry(A, [1], 'w')]), ['duplicate'], 'the retry with a reachable replica count is a duplicate and succeeds');
  });

  t.test('an unreachable cluster is KV_UNAVAILABLE (temporary); bad options are KV_OPEN_FAILED', async (t) => {
    try {
      await RedisClusterKvStore.connect({ nodes: [{ host: '127.0.0.1', port: 1 }], operationTimeoutMs: 1000, clusterOptions: { clusterRetryStrategy: () => null } });
      t.fail('expected KV_UNAVAILABLE');
    } catch (err) {
      t.match(err, { code: 'KV_UNAVAILABLE', temporary: true });
    }
    for (const [what, options] of [
      ['a prefix with a brace', { nodes, prefix: 'a{b' }],
      ['negative replicas', { nodes, replicas: -1 }],
      ['no nodes', { nodes: [] }],
    ] as const) {
      await t.rejects(RedisClusterKvStore.connect(options), { code: 'KV_OPEN_FAILED' }, what);
    }
    t.same(parseClusterNodes('127.0.0.1:7201, localhost:7202'), [{ host: '127.0.0.1', port: 7201 }, { host: 'localhost', port: 7202 }]);
    t.throws(() => parseClusterNodes('127.0.0.1'), { code: 'KV_OPEN_FAILED' });
  });

  t.test('health reports the cluster state and masters', async (t) => {
    const store = await RedisClusterKvStore.connect({ nodes, prefix });
    t.teardown(() => store.close());
    const health = await store.health();
    t.match(health, { backend: 'redis-cluster', ok: true, detail: { clusterState: 'ok', status: 'ready' } });
    t.equal((health.detail.masters as string[]).length, 3);
  });
}
