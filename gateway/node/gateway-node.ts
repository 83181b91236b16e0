// Composition root of a gateway: KV backend, leaf log, verifier, MQTT ingest, batch sealing and the status endpoint.
import { mkdirSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { builtinFormatDictionary } from '../../protocol/builtin-formats.js';
import { LeafLog } from '../batches/leaf-log.js';
import { MqttIngest, type IngestStats } from '../ingest/mqtt-ingest.js';
import { UplinkVerifier } from '../ingest/uplink-verifier.js';
import type { KvHealth, KvStore } from '../kv/kv-store.js';
import { RedisClusterKvStore, parseClusterNodes } from '../kv/redis-cluster-kv-store.js';
import { SqliteKvStore } from '../kv/sqlite-kv-store.js';
import type { LogFn } from '../log.js';
import type { GatewayConfig } from './gateway-config.js';

export interface GatewayStats {
  gatewayId: string;
  ingest: IngestStats;
  batches: { sealed: number; anchored: number; pendingLeaves: number };
  kv: KvHealth;
}

export interface GatewayHandle {
  apiUrl: string;
  stats(): Promise<GatewayStats>;
  stop(): Promise<void>;
}

async function openKv(config: GatewayConfig): Promise<KvStore> {
  const kv = config.kv;
  if (kv.backend === 'sqlite') return SqliteKvStore.open({ path: join(config.gateway.dataDir, 'kv.db'), synchronous: kv.synchronous });
  return RedisClusterKvStore.connect({ nodes: parseClusterNodes(kv.nodes), prefix: kv.prefix, replicas: kv.replicas, waitTimeoutMs: kv.waitTimeoutMs });
}

export async function startGateway(config: GatewayConfig, log: LogFn): Promise<GatewayHandle> {
  mkdirSync(config.gateway.dataDir, { recursive: true });
  const kv = await openKv(config);
  const leafLog = new LeafLog(join(config.gateway.dataDir, 'leaves.db'));
  const formats = builtinFormatDictionary(); // the chain's FormatRegister dictionary replaces this once the chain client exists
  const ingest = new MqttIngest({
    brokerUrl: config.broker.url, clientId: `carchain-gateway-${config.gateway.id}`, shareGroup: config.broker.shareGroup,
    receiveMaximum: config.broker.receiveMaximum, kv, leafLog, verifier: new UplinkVerifier({ formats: () => formats }), log,
  });
  await ingest.start();

  // Seal on a timer, and early when enough leaves are pending. Anchoring (BatchAnchor on the chain) comes with the chain client.
  const seal = () => {
    while (leafLog.pendingLeaves() > 0) {
      const batch = leafLog.sealBatch(config.batches.maxLeaves);
      if (!batch) break;
      log('info', 'batch sealed', { batchId: batch.batchId, size: batch.size, root: Buffer.from(batch.root).toString('hex') });
      if (batch.size < config.batches.maxLeaves) break;
    }
  };
  const sealTimer = setInterval(seal, config.batches.intervalMs);
  const eagerTimer = setInterval(() => {
    if (leafLog.pendingLeaves() >= config.batches.maxLeaves) seal();
  }, Math.min(100, config.batches.intervalMs));

  const stats = async (): Promise<GatewayStats> => {
    const s = leafLog.stats();
    return { gatewayId: config.gateway.id, ingest: ingest.stats(), batches: { sealed: s.batches, anchored: s.anchoredBatches, pendingLeaves: s.pendingLeaves }, kv: await kv.health() };
  };
  const server: Server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://gateway').pathname;
    const send = (status: number, type: string, body: string) => {
      res.writeHead(status, { 'content-type': type });
      res.end(body);
    };
    stats().then(
      (s) => {
        if (path === '/stats') return send(200, 'application/json', JSON.stringify(s));
        if (path === '/health') return send(s.kv.ok && s.ingest.connected ? 200 : 503, 'application/json', JSON.stringify({ ok: s.kv.ok && s.ingest.connected, kv: s.kv, mqtt: s.ingest.connected }));
        if (path === '/metrics') return send(200, 'text/plain; version=0.0.4', prometheus(s));
        return send(404, 'application/json', JSON.stringify({ error: { code: 'NOT_FOUND', message: `${path} is not a gateway route` } }));
      },
      (err: unknown) => send(500, 'application/json', JSON.stringify({ error: { code: 'INTERNAL', message: String(err) } })),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.api.port, config.api.host, () => resolve());
  });
  const address = server.address() as AddressInfo;
  const apiUrl = `http://${address.address}:${address.port}`;
  log('info', 'gateway started', { gatewayId: config.gateway.id, api: apiUrl, broker: config.broker.url, kv: config.kv.backend });

  return {
    apiUrl,
    stats,
    stop: async () => {
      clearInterval(sealTimer);
      clearInterval(eagerTimer);
      await ingest.stop();
      seal();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await kv.close();
      leafLog.close();
      log('info', 'gateway stopped');
    },
  };
}

/** Prometheus text exposition of the counters. */
export function prometheus(s: GatewayStats): string {
  const lines = [
    '# HELP carchain_records_total Records by ingest outcome.',
    '# TYPE carchain_records_total counter',
    `carchain_records_total{outcome="accepted"} ${s.ingest.accepted}`,
    `carchain_records_total{outcome="duplicate"} ${s.ingest.duplicates}`,
    `carchain_records_total{outcome="conflict"} ${s.ingest.conflicts}`,
    '# HELP carchain_messages_rejected_total Uplink messages rejected, by reason.',
    '# TYPE carchain_messages_rejected_total counter',
    ...Object.entries(s.ingest.rejectedByReason).map(([reason, n]) => `carchain_messages_rejected_total{reason="${reason}"} ${n}`),
    '# HELP carchain_messages_total Uplink messages received.',
    '# TYPE carchain_messages_total counter',
    `carchain_messages_total ${s.ingest.messages}`,
    '# HELP carchain_batches_total Batches sealed and anchored.',
    '# TYPE carchain_batches_total counter',
    `carchain_batches_total{state="sealed"} ${s.batches.sealed}`,
    `carchain_batches_total{state="anchored"} ${s.batches.anchored}`,
    '# HELP carchain_pending_leaves Leaves waiting for a batch.',
    '# TYPE carchain_pending_leaves gauge',
    `carchain_pending_leaves ${s.batches.pendingLeaves}`,
    '# HELP carchain_kv_up 1 when the KV backend answers.',
    '# TYPE carchain_kv_up gauge',
    `carchain_kv_up{backend="${s.kv.backend}"} ${s.kv.ok ? 1 : 0}`,
  ];
  return `${lines.join('\n')}\n`;
}
