// Composition root of a gateway: KV backend, leaf log, verifier, MQTT ingest, batch sealing and the HTTP API.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { builtinFormatDictionary } from '../../protocol/builtin-formats.js';
import { CarchainError } from '../../protocol/errors.js';
import type { FormatDictionary } from '../../protocol/formats.js';
import { BatchAnchorer } from '../anchoring/batch-anchorer.js';
import { openChainLink } from '../anchoring/chain-link.js';
import { ChainGrantAuthority } from '../api/chain-grant-authority.js';
import { startGatewayApi } from '../api/gateway-api.js';
import type { GatewayStats } from '../api/gateway-status.js';
import { chainlessGrantAuthority, permissiveGrantAuthority } from '../api/grant-keys.js';
import { LeafLog } from '../batches/leaf-log.js';
import { startUplinkIntake } from '../broker/uplink-intake.js';
import { UplinkVerifier } from '../ingest/uplink-verifier.js';
import type { KvStore } from '../kv/kv-store.js';
import { RedisClusterKvStore, parseClusterNodes } from '../kv/redis-cluster-kv-store.js';
import { SqliteKvStore } from '../kv/sqlite-kv-store.js';
import type { LogFn } from '../log.js';
import type { GatewayConfig } from './gateway-config.js';

export type { GatewayStats } from '../api/gateway-status.js';
export { prometheus } from '../api/gateway-status.js';

export interface GatewayHandle {
  apiUrl: string;
  /** The broker devices publish to (the embedded one's listening address, or broker.url). */
  brokerUrl: string;
  /** The chain RPC batches are anchored through (the embedded validator's, or the first remote one). */
  chainRpcUrl: string | null;
  stats(): Promise<GatewayStats>;
  stop(): Promise<void>;
}

/** A cluster in the middle of a failover refuses connections for a few seconds: wait it out rather than exit. */
async function openKvPatiently(config: GatewayConfig, log: LogFn, patienceMs = 60_000): Promise<KvStore> {
  const deadline = Date.now() + patienceMs;
  for (let attempt = 1; ; attempt++) {
    try {
      return await openKv(config);
    } catch (err) {
      if (!(err instanceof CarchainError && err.temporary) || Date.now() > deadline) throw err;
      log('warn', 'KV store not reachable yet; retrying', { attempt, error: err.message });
      await new Promise((r) => setTimeout(r, Math.min(5000, 250 * attempt)));
    }
  }
}

async function openKv(config: GatewayConfig): Promise<KvStore> {
  const kv = config.kv;
  if (kv.backend === 'sqlite') return SqliteKvStore.open({ path: join(config.gateway.dataDir, 'kv.db'), synchronous: kv.synchronous });
  return RedisClusterKvStore.connect({ nodes: parseClusterNodes(kv.nodes), prefix: kv.prefix, replicas: kv.replicas, waitTimeoutMs: kv.waitTimeoutMs });
}

export async function startGateway(config: GatewayConfig, log: LogFn): Promise<GatewayHandle> {
  mkdirSync(config.gateway.dataDir, { recursive: true });
  const kv = await openKvPatiently(config, log);
  const leafLog = new LeafLog(join(config.gateway.dataDir, 'leaves.db'));
  const chain = await openChainLink(config, log);
  const builtins = builtinFormatDictionary();
  // The chain's FormatRegister dictionary; the built-in formats without a chain.
  const formats = (): FormatDictionary => chain?.formats() ?? builtins;
  await chain?.refreshFormats();
  const verifier = new UplinkVerifier({ formats });
  const intake = await startUplinkIntake(config.broker, `carchain-gateway-${config.gateway.id}`, { kv, leafLog, verifier, log });

  const anchorer = chain === null ? null : new BatchAnchorer({ chain: chain.client, leafLog, privateKey: chain.privateKey, chainId: () => chain.chainId(), log });
  const anchorEvery = config.chain.mode === 'none' ? 0 : config.chain.anchorIntervalMs;
  const anchorTimer = anchorer === null ? undefined : setInterval(() => void anchorer.anchorPending(), anchorEvery);
  const formatsTimer = chain === null ? undefined : setInterval(() => void chain.refreshFormats(), 30_000);

  // Seal on a timer, and early when enough leaves are pending; each sealed batch is then anchored.
  const seal = () => {
    while (leafLog.pendingLeaves() > 0) {
      const batch = leafLog.sealBatch(config.batches.maxLeaves);
      if (!batch) break;
      log('info', 'batch sealed', { batchId: batch.batchId, size: batch.size, root: Buffer.from(batch.root).toString('hex') });
      if (batch.size < config.batches.maxLeaves) break;
    }
    void anchorer?.anchorPending();
  };
  const sealTimer = setInterval(seal, config.batches.intervalMs);
  const eagerTimer = setInterval(() => {
    if (leafLog.pendingLeaves() >= config.batches.maxLeaves) seal();
  }, Math.min(100, config.batches.intervalMs));

  const stats = async (): Promise<GatewayStats> => {
    const s = leafLog.stats();
    return { gatewayId: config.gateway.id, ingest: intake.stats(), batches: { sealed: s.batches, anchored: s.anchoredBatches, pendingLeaves: s.pendingLeaves }, kv: await kv.health() };
  };
  const api = await startGatewayApi(
    {
      kv, batches: leafLog, formats, stats, log,
      grants: config.api.grants === 'permissive' ? permissiveGrantAuthority : chain === null ? chainlessGrantAuthority : new ChainGrantAuthority({ chain: chain.client, kv, formats }),
      ...(chain !== null ? { chainTxProof: (txId: string) => chain.client.txProof(txId) } : {}),
      ...(chain !== null ? { chain: chain.client } : {}), devices: () => intake.devices(),
    },
    { host: config.api.host, port: config.api.port },
  );
  const apiUrl = api.url;
  log('info', 'gateway started', {
    gatewayId: config.gateway.id, api: apiUrl, broker: intake.brokerUrl, embeddedBroker: intake.embedded, kv: config.kv.backend,
    chain: config.chain.mode, chainRpc: chain?.rpcUrl ?? null,
  });

  return {
    apiUrl,
    brokerUrl: intake.brokerUrl,
    chainRpcUrl: chain?.rpcUrl ?? null,
    stats,
    stop: async () => {
      clearInterval(sealTimer);
      clearInterval(eagerTimer);
      clearInterval(anchorTimer);
      clearInterval(formatsTimer);
      await intake.stop();
      seal();
      await anchorer?.anchorPending();
      await anchorer?.stop();
      await chain?.stop();
      await api.close();
      await kv.close();
      leafLog.close();
      log('info', 'gateway stopped');
    },
  };
}
