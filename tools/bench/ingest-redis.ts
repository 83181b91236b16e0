// bench:ingest Redis Cluster helpers: the bench's own cluster client (auto-pipelining) and removal of one round's keys.
import { Cluster } from 'ioredis';
import type { ClusterNodeAddress } from '../../gateway/kv/redis-cluster-kv-store.js';

/** The bare pipe's client: commands issued in one tick go to each master as one pipeline. */
export async function connectBenchCluster(nodes: readonly ClusterNodeAddress[]): Promise<Cluster> {
  const cluster = new Cluster(nodes.map((n) => ({ host: n.host, port: n.port })), { lazyConnect: true, enableAutoPipelining: true });
  cluster.on('error', () => undefined);
  await cluster.connect();
  return cluster;
}

/**
 * Deletes every key under `prefix:` on every master (UNLINK, pipelined), so each round starts on an
 * empty keyspace and a shared cluster (CI's) keeps nothing of the bench. Returns how many.
 */
export async function deletePrefix(cluster: Cluster, prefix: string): Promise<number> {
  let deleted = 0;
  for (const master of cluster.nodes('master')) {
    let cursor = '0';
    do {
      const [next, keys] = await master.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 2000);
      cursor = next;
      // Keys found on a master are served by it: no redirection, one pipeline per page.
      if (keys.length > 0) {
        const pipeline = master.pipeline();
        for (const key of keys) pipeline.unlink(key);
        for (const [err, n] of (await pipeline.exec()) ?? []) {
          if (err !== null) throw err;
          deleted += Number(n);
        }
      }
    } while (cursor !== '0');
  }
  return deleted;
}

/** CPU seconds (user + system) used so far by every node of the cluster, masters and replicas (INFO cpu). */
export async function clusterCpuSeconds(cluster: Cluster): Promise<number> {
  let seconds = 0;
  for (const node of cluster.nodes('all')) {
    const info = await node.info('cpu');
    seconds += Number(/used_cpu_user:([\d.]+)/.exec(info)?.[1] ?? 0) + Number(/used_cpu_sys:([\d.]+)/.exec(info)?.[1] ?? 0);
  }
  return seconds;
}
