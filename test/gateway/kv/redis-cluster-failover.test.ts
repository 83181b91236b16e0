// A master of a private Redis Cluster is killed (kill -9) mid-run: writes reject temporarily or succeed, and every WAIT-acknowledged record survives.
import t from 'tap';
import { KvError, type KvEntry } from '../../../gateway/kv/kv-store.js';
import { RedisClusterKvStore } from '../../../gateway/kv/redis-cluster-kv-store.js';
import { entry, freshAddress } from './kv-contract.js';
import { clusterNodes, nodeClient, sharedClusterNodes, startPrivateCluster } from './redis-test-cluster.js';

const shared = sharedClusterNodes();
// The private cluster needs redis-server like the shared one; where that is absent locally, skip the same way.
if ('fail' in shared) t.fail(shared.fail);
else if ('skip' in shared) t.test('Redis Cluster failover', { skip: shared.skip }, () => undefined);
else runFailoverTest();

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

function keyOf(n: number): Uint8Array {
  return Uint8Array.of(0x66, 0x00, 0x01, 0x01, (n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff);
}

/** The master serving `slot`, its pid (INFO server process_id) and its replicas, from CLUSTER NODES. */
async function masterOfSlot(via: number, slot: number): Promise<{ port: number; pid: number; replicaPorts: number[] }> {
  const lines = await clusterNodes({ host: '127.0.0.1', port: via });
  const master = lines.find((l) => l.flags.includes('master') && !l.flags.includes('fail') && l.slots.some((range) => {
    const [from, to] = range.split('-').map(Number);
    return slot >= from! && slot <= (to ?? from)!;
  }));
  if (master === undefined) throw new Error(`slot ${slot} has no live master`);
  const client = nodeClient({ host: '127.0.0.1', port: master.port });
  try {
    await client.connect();
    const pid = Number(/process_id:(\d+)/.exec(await client.info('server'))?.[1]);
    const replicaPorts = lines.filter((l) => l.masterId === master.id && !l.flags.includes('fail')).map((l) => l.port);
    return { port: master.port, pid, replicaPorts };
  } finally {
    client.disconnect();
  }
}

/** Whether the replica at `port` has finished syncing from its master. */
async function replicaInSync(port: number): Promise<boolean> {
  const client = nodeClient({ host: '127.0.0.1', port });
  try {
    await client.connect();
    const info = await client.info('replication');
    return /role:slave/.test(info) && /master_link_status:up/.test(info);
  } catch {
    return false;
  } finally {
    client.disconnect();
  }
}

function runFailoverTest(): void {
  t.test('kill -9 of the master holding an address: temporary errors or success, no acknowledged record lost', { timeout: 120_000 }, async (t) => {
    const cluster = await startPrivateCluster();
    t.teardown(() => cluster.stop());
    const store = await RedisClusterKvStore.connect({
      nodes: cluster.nodes.slice(0, 3),
      prefix: 'failover',
      replicas: 1,
      waitTimeoutMs: 500,
      operationTimeoutMs: 2500,
      retryDelayMs: 200,
    });
    t.teardown(() => store.close());
    const A = freshAddress();
    const B = freshAddress();
    const probe = nodeClient(cluster.nodes[0]!);
    t.teardown(() => probe.disconnect());
    await probe.connect();
    const slot = Number(await probe.cluster('KEYSLOT', `{${A}}`));
    const victim = await masterOfSlot(cluster.nodes[0]!.port, slot);
    t.ok(victim.pid > 0 && victim.replicaPorts.length === 1, `slot ${slot}: master :${victim.port} (pid ${victim.pid}), replica :${victim.replicaPorts[0]}`);

    // A surviving node to ask about the topology.
    const observer = cluster.nodes.find((n) => n.port !== victim.port && n.port !== victim.replicaPorts[0])!.port;
    const acknowledged: KvEntry[] = [];
    const errors = new Map<string, number>();
    let next = 0;
    let phase: 'before' | 'killed' | 'promoted' | 'rejoined' = 'before';
    let killedAt = 0;
    let promotedAfterMs = 0;
    let okAfterRejoin = 0;
    const started = Date.now();
    // One writer, batches of 8 records for A and 2 for B (B may live on another master), WAIT for 1 replica.
    // Phases: kill A's master; its replica takes over (A's writes then fail WAIT: the new master has no
    // replica yet); restart the killed node, it rejoins as the new master's replica; A's writes succeed again.
    while (okAfterRejoin < 20 && Date.now() - started < 50_000) {
      const batch = [...Array.from({ length: 8 }, () => entry(A, keyOf(next++), 'f')), ...Array.from({ length: 2 }, () => entry(B, keyOf(next++), 'f'))];
      try {
        const outcomes = await store.putIfAbsent(batch);
        if (outcomes.some((o) => o === 'conflict')) t.fail(`conflict in ${outcomes.join(',')}`);
        acknowledged.push(...batch);
        if (phase === 'rejoined') okAfterRejoin++;
      } catch (err) {
        if (!(err instanceof KvError) || !err.temporary || (err.code !== 'KV_UNAVAILABLE' && err.code !== 'KV_REPLICATION_TIMEOUT')) {
          t.fail(`a write during failover failed with a non-temporary error: ${String(err)}`);
          break;
        }
        errors.set(err.code, (errors.get(err.code) ?? 0) + 1);
        if (phase === 'before') t.fail(`error before the kill: ${err.message}`);
        await sleep(100);
      }
      if (phase === 'before' && acknowledged.length >= 200) {
        process.kill(victim.pid, 'SIGKILL');
        killedAt = Date.now();
        phase = 'killed';
        t.comment(`killed :${victim.port} after ${acknowledged.length} acknowledged records`);
      } else if (phase === 'killed' && (await masterOfSlot(observer, slot).catch(() => null))?.port === victim.replicaPorts[0]) {
        promotedAfterMs = Date.now() - killedAt;
        phase = 'promoted';
        t.comment(`:${victim.replicaPorts[0]} promoted ${promotedAfterMs} ms after the kill; restarting :${victim.port}`);
        await cluster.restartNode(victim.port);
      } else if (phase === 'promoted' && (await replicaInSync(victim.port))) {
        phase = 'rejoined';
        t.comment(`:${victim.port} is back as a replica ${Date.now() - killedAt} ms after the kill`);
      }
    }
    t.equal(phase, 'rejoined', 'the slot failed over and the killed node rejoined as a replica');
    t.ok(promotedAfterMs > 0 && promotedAfterMs < 15_000, `the replica took over within ${promotedAfterMs} ms (cluster-node-timeout 3000 ms)`);
    t.equal(okAfterRejoin, 20, `WAIT-acknowledged writes work again (errors on the way: ${JSON.stringify(Object.fromEntries(errors))})`);
    t.ok(errors.size > 0, 'the failover was visible as temporary errors');

    const now = await masterOfSlot(observer, slot);
    t.equal(now.port, victim.replicaPorts[0], 'the old replica is the slot\'s master');
    t.same(now.replicaPorts, [victim.port], 'the old master is its replica');

    // A fresh client reads everything back: every acknowledged record, with its bytes.
    const reader = await RedisClusterKvStore.connect({ nodes: [{ host: '127.0.0.1', port: now.port }], prefix: 'failover' });
    t.teardown(() => reader.close());
    let missing = 0;
    for (const e of acknowledged) {
      const stored = await reader.get(e.address, e.encodedKey);
      if (stored === null || !Buffer.from(stored.record).equals(Buffer.from(e.record))) missing++;
    }
    t.equal(missing, 0, `all ${acknowledged.length} WAIT-acknowledged records are there after the failover`);
    const listed = new Set<string>();
    let cursor: string | undefined;
    do {
      const page = await reader.range(A, new Uint8Array(0), Uint8Array.of(0xff), { limit: 1000, ...(cursor === undefined ? {} : { cursor }) });
      for (const e of page.entries) listed.add(Buffer.from(e.encodedKey).toString('hex'));
      cursor = page.nextCursor ?? undefined;
    } while (cursor !== undefined);
    const ackedA = acknowledged.filter((e) => e.address === A).map((e) => Buffer.from(e.encodedKey).toString('hex'));
    t.ok(ackedA.every((hex) => listed.has(hex)), `the index of A lists all ${ackedA.length} acknowledged keys (${listed.size} listed)`);

    // The whole cluster gone: writes are KV_UNAVAILABLE (temporary, may have succeeded), health says not ok.
    await cluster.stop();
    try {
      await store.putIfAbsent([entry(A, keyOf(next++), 'down')]);
      t.fail('expected KV_UNAVAILABLE with the cluster stopped');
    } catch (err) {
      t.match(err, { code: 'KV_UNAVAILABLE', temporary: true, mayHaveSucceeded: true }, 'a write to a stopped cluster');
    }
    t.match(await store.health(), { backend: 'redis-cluster', ok: false }, 'health resolves with ok: false');
  });
}
