// Test helpers for the Redis Cluster backend: the shared cluster from CARCHAIN_REDIS_CLUSTER, key cleanup, a throwaway private cluster.
import { spawn } from 'node:child_process';
import { connect as tcpConnect } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Cluster, Redis } from 'ioredis';
import { parseClusterNodes, type ClusterNodeAddress } from '../../../gateway/kv/redis-cluster-kv-store.js';

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const clusterScript = join(repoRoot, 'tools', 'ci', 'redis-cluster.sh');

/**
 * The shared cluster's seed nodes, or a reason to skip. Unset is a skip on a workstation but a
 * failure under CI=true, where .ci/run always starts a cluster and a silent skip would hide a break.
 */
export function sharedClusterNodes(): { nodes: ClusterNodeAddress[] } | { skip: string } | { fail: string } {
  const spec = process.env.CARCHAIN_REDIS_CLUSTER;
  if (spec !== undefined && spec.trim() !== '') return { nodes: parseClusterNodes(spec) };
  if (process.env.CI === 'true') return { fail: 'CARCHAIN_REDIS_CLUSTER is unset but CI=true: .ci/run should have started a Redis Cluster' };
  return { skip: 'CARCHAIN_REDIS_CLUSTER is unset (e.g. 127.0.0.1:7101,127.0.0.1:7102): Redis Cluster tests skipped' };
}

/** A prefix no other run uses, so parallel runs against one cluster never see each other's keys. */
export function uniquePrefix(): string {
  return `cctest-${process.pid}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
}

/** Deletes every key under `prefix:` on every master; returns how many. */
export async function deleteKeysWithPrefix(nodes: readonly ClusterNodeAddress[], prefix: string): Promise<number> {
  const cluster = new Cluster(nodes.map((n) => ({ host: n.host, port: n.port })), { lazyConnect: true });
  cluster.on('error', () => undefined);
  await cluster.connect();
  let deleted = 0;
  try {
    for (const master of cluster.nodes('master')) {
      let cursor = '0';
      do {
        const [next, keys] = await master.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
        cursor = next;
        // Keys found on a master are served by it, so deleting them there needs no redirection.
        for (const key of keys) deleted += await master.del(key);
      } while (cursor !== '0');
    }
  } finally {
    cluster.disconnect();
  }
  return deleted;
}

/** Connects to one node directly (not through the cluster client), for CLUSTER / INFO / DEBUG commands. */
export function nodeClient(node: ClusterNodeAddress): Redis {
  const client = new Redis({ host: node.host, port: node.port, lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => null });
  client.on('error', () => undefined);
  return client;
}

function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = tcpConnect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => resolve(true));
  });
}

async function freeBasePort(): Promise<number> {
  for (let base = 7301; base < 7900; base += 20) {
    const ports = [0, 1, 2, 3, 4, 5].flatMap((i) => [base + i, base + i + 10000]);
    const free = await Promise.all(ports.map(portIsFree));
    if (free.every(Boolean)) return base;
  }
  throw new Error('no free port range for a private Redis Cluster in 7301..7900');
}

function runBash(script: string, env: Record<string, string>): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', ['-c', script], { cwd: repoRoot, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`bash exited ${code}: ${err || out}`))));
  });
}

export interface PrivateCluster {
  nodes: ClusterNodeAddress[];
  dir: string;
  /** Starts a killed node again with its old config (it rejoins, as a replica if it lost a failover). */
  restartNode(port: number): Promise<void>;
  stop(): Promise<void>;
}

/** One line of CLUSTER NODES. */
export interface ClusterNodeLine {
  id: string;
  port: number;
  flags: string[];
  masterId: string | null;
  slots: string[];
}

export async function clusterNodes(via: ClusterNodeAddress): Promise<ClusterNodeLine[]> {
  const client = nodeClient(via);
  try {
    await client.connect();
    const text = String(await client.cluster('NODES'));
    return text.trim().split('\n').map((line) => {
      const [id, address, flags, master, , , , , ...slots] = line.trim().split(' ');
      return { id: id!, port: Number(/:(\d+)@/.exec(address!)?.[1]), flags: flags!.split(','), masterId: master === '-' ? null : master!, slots };
    });
  } finally {
    client.disconnect();
  }
}

/** A throwaway 6-node cluster (3 masters, 3 replicas, node timeout 3 s) from tools/ci/redis-cluster.sh. */
export async function startPrivateCluster(): Promise<PrivateCluster> {
  const base = await freeBasePort();
  const out = await runBash(`source '${clusterScript}' && { redis_cluster_start || { redis_cluster_stop; exit 1; }; } && echo "CLUSTER_DIR=$REDIS_CLUSTER_DIR"`, { REDIS_CLUSTER_BASE_PORT: String(base) });
  const dir = /CLUSTER_DIR=(\S+)/.exec(out)?.[1];
  if (dir === undefined) throw new Error(`redis_cluster_start printed no directory: ${out}`);
  let stopped = false;
  const nodes = [0, 1, 2, 3, 4, 5].map((i) => ({ host: '127.0.0.1', port: base + i }));
  try {
    await waitUntilReplicasSynced(nodes);
  } catch (err) {
    await runBash(`source '${clusterScript}' && redis_cluster_stop`, { REDIS_CLUSTER_DIR: dir });
    throw err;
  }
  return {
    nodes,
    dir,
    async restartNode(port: number) {
      const nodeDir = join(dir, String(port));
      // The same command line as tools/ci/redis-cluster.sh, so redis_cluster_stop finds it by its pidfile.
      await runBash(
        `redis-server --port ${port} --bind 127.0.0.1 --protected-mode yes --cluster-enabled yes --cluster-config-file nodes.conf ` +
          `--cluster-node-timeout 3000 --appendonly yes --appendfsync everysec --save "" --dir '${nodeDir}' ` +
          `--pidfile '${nodeDir}/redis.pid' --logfile '${nodeDir}/redis.log' --daemonize yes`,
        {},
      );
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      await runBash(`source '${clusterScript}' && redis_cluster_stop`, { REDIS_CLUSTER_DIR: dir });
    },
  };
}

/** redis_cluster_start returns once replicas are assigned; WAIT needs them to have finished the initial sync too. */
async function waitUntilReplicasSynced(nodes: readonly ClusterNodeAddress[], timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const clients = nodes.map(nodeClient);
  try {
    await Promise.all(clients.map((c) => c.connect()));
    for (;;) {
      const infos = await Promise.all(clients.map((c) => c.info('replication')));
      const replicas = infos.filter((info) => /role:slave/.test(info));
      if (replicas.length === 3 && replicas.every((info) => /master_link_status:up/.test(info) && /master_sync_in_progress:0/.test(info))) return;
      if (Date.now() > deadline) throw new Error('replicas of the private cluster did not sync in time');
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  } finally {
    for (const c of clients) c.disconnect();
  }
}
