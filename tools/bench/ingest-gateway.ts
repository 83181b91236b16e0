// bench:ingest gateway side: the production ingest composition (MqttIngest or the embedded broker, KV backend, leaf log, sealing, anchoring) per round.
//
// Built from the same parts and defaults as gateway/node/gateway-node.ts — a KV store (Redis Cluster
// or SQLite), the durable leaf log, the uplink verifier, MqttIngest on a $share group (PUBACK only
// once durable), batches sealed every second or at 4,096 pending leaves and anchored by a BatchAnchorer
// through an embedded single validator (1 s blocks) — but with a private data dir, KV prefix, share
// group and an MQTT session that ends with the connection, so a round leaves nothing behind.
// The leaf log is subclassed only to timestamp when a message's group became durable (latency rounds).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { BatchAnchorer } from '../../gateway/anchoring/batch-anchorer.js';
import { LeafLog, type LeafInput } from '../../gateway/batches/leaf-log.js';
import { startEmbeddedBroker } from '../../gateway/broker/embedded-broker.js';
import { ChainClient } from '../../gateway/chain/client/chain-client.js';
import { startLocalValidator, type LocalValidator } from '../../gateway/chain/node/local-validator.js';
import { IngestPipeline, MqttIngest } from '../../gateway/ingest/mqtt-ingest.js';
import { UplinkVerifier } from '../../gateway/ingest/uplink-verifier.js';
import type { KvStore } from '../../gateway/kv/kv-store.js';
import { RedisClusterKvStore, type ClusterNodeAddress } from '../../gateway/kv/redis-cluster-kv-store.js';
import { SqliteKvStore, type SqliteSynchronous } from '../../gateway/kv/sqlite-kv-store.js';
import { builtinFormatDictionary } from '../../protocol/builtin-formats.js';

export type KvChoice =
  | { backend: 'redis-cluster'; nodes: ClusterNodeAddress[]; replicas: number; prefix: string }
  | { backend: 'sqlite'; synchronous: SqliteSynchronous };

export type BrokerChoice = { kind: 'mosquitto'; url: string } | { kind: 'embedded' };

export interface GatewaySetup {
  run: string;
  round: string;
  kv: KvChoice;
  broker: BrokerChoice;
  /** Subscriber connections in the share group (external broker). */
  connections: number;
  /** Seal and anchor as a gateway does; false: leaves only (no validator in the process). */
  anchor: boolean;
  blockIntervalMs: number;
  batchIntervalMs: number;
  maxLeaves: number;
}

/** Calls back after each durable leaf-log append: the group's KV write and leaf fsync are done, its PUBACKs follow at once. */
class StampingLeafLog extends LeafLog {
  onAppended: ((leaves: readonly LeafInput[]) => void) | null = null;
  override append(leaves: readonly LeafInput[]): number {
    const added = super.append(leaves);
    this.onAppended?.(leaves);
    return added;
  }
}

export interface GatewayUnderTest {
  /** Where the devices publish. */
  brokerUrl: string;
  protocolVersion: 4 | 5;
  accepted(): number;
  groups(): number;
  /** Every leaf so far is in a sealed batch whose anchor is committed and recorded. */
  allAnchored(): boolean;
  /** Records performance.now() when the message whose first record id is in `ids` became durable. */
  track(ids: ReadonlySet<string>): Map<string, number>;
  stop(): Promise<void>;
}

const noLog = () => undefined;

async function openKv(kv: KvChoice, dir: string): Promise<KvStore> {
  if (kv.backend === 'sqlite') return SqliteKvStore.open({ path: join(dir, 'kv.db'), synchronous: kv.synchronous });
  return RedisClusterKvStore.connect({ nodes: kv.nodes, prefix: kv.prefix, replicas: kv.replicas });
}

export async function startGatewayUnderTest(s: GatewaySetup): Promise<GatewayUnderTest> {
  const dir = mkdtempSync(join(tmpdir(), 'carchain-bench-ingest-'));
  const kv = await openKv(s.kv, dir);
  const leafLog = new StampingLeafLog(join(dir, 'leaves.db'));
  const formats = builtinFormatDictionary();
  const parts = { kv, leafLog, verifier: new UplinkVerifier({ formats: () => formats }) };

  let validator: LocalValidator | null = null;
  let anchorer: BatchAnchorer | null = null;
  const timers: NodeJS.Timeout[] = [];
  if (s.anchor) {
    // As gateway/anchoring/chain-link.ts starts the embedded validator; it anchors with its own key.
    validator = await startLocalValidator({
      dataDir: join(dir, 'chain'), rpc: { host: '127.0.0.1', port: 0 }, blockIntervalMs: s.blockIntervalMs,
      emptyBlockIntervalMs: Math.max(s.blockIntervalMs, 10_000), log: noLog,
    });
    const chainId = validator.genesis.chainId;
    const a = new BatchAnchorer({ chain: new ChainClient([validator.rpc.url]), leafLog, privateKey: validator.privateKey, chainId: () => Promise.resolve(chainId), log: noLog });
    anchorer = a;
    // gateway-node.ts's sealing: on a timer, early when a full batch is pending, each seal followed by anchoring.
    const seal = () => {
      while (leafLog.pendingLeaves() > 0) {
        const batch = leafLog.sealBatch(s.maxLeaves);
        if (!batch || batch.size < s.maxLeaves) break;
      }
      void a.anchorPending();
    };
    timers.push(setInterval(seal, s.batchIntervalMs));
    timers.push(setInterval(() => {
      if (leafLog.pendingLeaves() >= s.maxLeaves) seal();
    }, Math.min(100, s.batchIntervalMs)));
    timers.push(setInterval(() => void a.anchorPending(), 1000));
  }

  let ingest: MqttIngest | null = null;
  let pipeline: IngestPipeline;
  let brokerUrl: string;
  let closeBroker: () => Promise<void> = () => Promise.resolve();
  if (s.broker.kind === 'mosquitto') {
    ingest = new MqttIngest({
      ...parts, brokerUrl: s.broker.url, clientId: `carchain-bench-gw-${s.run}-${s.round}`, shareGroup: `bench-gw-${s.run}-${s.round}`,
      connections: s.connections, receiveMaximum: 64, sessionExpirySeconds: 0,
    });
    await ingest.start();
    pipeline = ingest.pipeline;
    brokerUrl = s.broker.url;
  } else {
    const p = new IngestPipeline(parts);
    pipeline = p;
    // The embedded broker stores before it PUBACKs the device, as gateway/broker/uplink-intake.ts wires it.
    const broker = await startEmbeddedBroker({ host: '127.0.0.1', port: 0, uplinkSink: (_topic, payload) => p.submit(payload) });
    brokerUrl = broker.url;
    closeBroker = () => broker.close();
  }

  return {
    brokerUrl,
    protocolVersion: s.broker.kind === 'mosquitto' ? 5 : 4,
    accepted: () => pipeline.stats().accepted,
    groups: () => pipeline.stats().groups,
    allAnchored: () => {
      if (anchorer === null) return true;
      const st = leafLog.stats();
      return st.pendingLeaves === 0 && st.batches === st.anchoredBatches;
    },
    track(ids) {
      const durableAt = new Map<string, number>();
      leafLog.onAppended = (leaves) => {
        const now = performance.now();
        for (const leaf of leaves) {
          const id = Buffer.from(leaf.recordId.buffer, leaf.recordId.byteOffset, leaf.recordId.byteLength).toString('hex');
          if (ids.has(id)) durableAt.set(id, now);
        }
      };
      return durableAt;
    },
    async stop() {
      for (const t of timers) clearInterval(t);
      await ingest?.stop();
      await closeBroker();
      await anchorer?.stop();
      await validator?.stop();
      await kv.close();
      leafLog.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
