// `npm run bench:ingest`: gateway ingest end to end (devices → broker → gateway → KV + leaf log → anchored) vs a bare pipe to the same KV, same run, JSON.
//
// Issue 4's measurement. With CARCHAIN_REDIS_CLUSTER=host:port,… (what .ci/run exports) the gateway
// writes to that Redis Cluster (`BENCH_KV=redis`, the default then) and the bare pipe is the same
// message bytes through the same broker to subscribers that SET each payload in the same cluster and
// acknowledge after the write (ingest-bare.ts). Without it the gateway writes to SQLite and the only
// baseline is subscribers that just acknowledge (the JSON says so). Each round publishes the same
// pre-signed messages from BENCH_DEVICES device connections at once (fresh KV prefix or file, leaf
// log and validator per round, so every record is a real insert and every batch a new anchor):
//   gateway   records/s until every record is stored and its leaf durable (= every message PUBACKed
//             by the gateway), and until every leaf is sealed and its batch anchored (lag reported).
//   bare      records/s until every message's write resolved and it was acknowledged.
// Latency: after the rounds, messages at fixed offered loads (BENCH_LATENCY_RATES records/s), each
// timed from the device's publish call to the moment its group was durable, which is when the gateway
// PUBACKs it (with Mosquitto the device's own PUBACK comes from the broker; reported too).
// CPU: ms per 1,000 records in this process and (INFO cpu) in every Redis node during each timed part;
// on a shared cluster (CI's) other clients' work counts too.
// Knobs (env): BENCH_ROUNDS (5), BENCH_MESSAGES per round (800), BENCH_RECORDS per message (64),
// BENCH_GPS_POINTS (17: ~1 KiB sealed records), BENCH_DEVICES (16 publishing connections),
// BENCH_CONNECTIONS (8 gateway / bare subscriber connections), BENCH_KV (redis | sqlite),
// BENCH_REDIS_REPLICAS (0: WAIT for none, the gateway default), BENCH_SYNCHRONOUS (FULL), BENCH_ANCHOR (1),
// BENCH_BLOCK_INTERVAL_MS (1000, the embedded chain's default), BENCH_MAX_LEAVES per batch (32768, the
// gateway default), BENCH_LATENCY_RATES (5000,10000 records/s), BENCH_LATENCY_MESSAGES per rate (320),
// BENCH_REFERENCE (1: also SQLite-gateway and ack-only rounds in Redis mode; the SQLite rounds anchor
// in the background but stop once durable), BENCH_BROKER (auto | mosquitto | embedded).
import { randomBytes } from 'node:crypto';
import { connect as tcpConnect } from 'node:net';
import { loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import type { Cluster } from 'ioredis';
import { startEmbeddedBroker } from '../../gateway/broker/embedded-broker.js';
import { parseClusterNodes, type ClusterNodeAddress } from '../../gateway/kv/redis-cluster-kv-store.js';
import type { SqliteSynchronous } from '../../gateway/kv/sqlite-kv-store.js';
import { startBareSubscribers, type BareHandler } from './ingest-bare.js';
import { startGatewayUnderTest, type BrokerChoice, type KvChoice } from './ingest-gateway.js';
import { connectPublishers, median, percentile, publishBurst, publishPaced, until } from './ingest-load.js';
import { makeFixture, type BenchMessage } from './ingest-messages.js';
import { clusterCpuSeconds, connectBenchCluster, deletePrefix } from './ingest-redis.js';

const env = (name: string, fallback: number) => Number(process.env[name] ?? fallback);
const ROUNDS = env('BENCH_ROUNDS', 5);
const MESSAGES = env('BENCH_MESSAGES', 800);
const RECORDS = env('BENCH_RECORDS', 64);
const GPS_POINTS = env('BENCH_GPS_POINTS', 17);
const DEVICES = env('BENCH_DEVICES', env('BENCH_PUBLISHERS', 16));
const CONNECTIONS = env('BENCH_CONNECTIONS', 8);
const REPLICAS = env('BENCH_REDIS_REPLICAS', 0);
const SYNCHRONOUS = (process.env.BENCH_SYNCHRONOUS ?? 'FULL') as SqliteSynchronous;
const ANCHOR = process.env.BENCH_ANCHOR !== '0';
const BLOCK_INTERVAL_MS = env('BENCH_BLOCK_INTERVAL_MS', 1000);
const LATENCY_RATES = (process.env.BENCH_LATENCY_RATES ?? '5000,10000').split(',').filter((r) => r.trim() !== '').map(Number);
const LATENCY_MESSAGES = env('BENCH_LATENCY_MESSAGES', 320);
const MAX_LEAVES = env('BENCH_MAX_LEAVES', 32_768);
const REFERENCE = process.env.BENCH_REFERENCE !== '0';
const BROKER = process.env.BENCH_BROKER ?? 'auto';
const CLUSTER_SPEC = process.env.CARCHAIN_REDIS_CLUSTER?.trim() ?? '';
const KV = process.env.BENCH_KV ?? (CLUSTER_SPEC !== '' ? 'redis' : 'sqlite');
const GOAL = { recordsPerSecond: 20_000, ratio: 0.5 };

const run = randomBytes(4).toString('hex');
let roundNo = 0;
const nextRound = () => `r${roundNo++}`;
const rate = (records: number, ms: number) => Math.round((records / ms) * 1000);
const load = () => loadavg().map((l) => Math.round(l * 100) / 100);

async function mosquittoReachable(): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = tcpConnect({ host: '127.0.0.1', port: 1883 }, () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
    socket.setTimeout(500, () => {
      socket.destroy();
      resolve(false);
    });
  });
}

interface Context {
  broker: BrokerChoice;
  nodes: ClusterNodeAddress[];
  /** The bench's own cluster client: bare-pipe writes and key cleanup. */
  cluster: Cluster | null;
}

type KvKind = 'redis' | 'sqlite';

function kvChoice(ctx: Context, kind: KvKind, round: string): KvChoice {
  return kind === 'redis' ? { backend: 'redis-cluster', nodes: ctx.nodes, replicas: REPLICAS, prefix: `bench-${run}-${round}` } : { backend: 'sqlite', synchronous: SYNCHRONOUS };
}

/** CPU per 1,000 records during a round's timed part: this process (gateway or subscribers, and the devices) and the Redis nodes. */
interface CpuCost {
  benchProcessMs: number;
  redisMs: number | null;
}

async function cpuMeter(ctx: Context): Promise<(records: number) => Promise<CpuCost>> {
  const redisBefore = ctx.cluster === null ? 0 : await clusterCpuSeconds(ctx.cluster);
  const before = process.cpuUsage();
  return async (records) => {
    const used = process.cpuUsage(before);
    const redis = ctx.cluster === null ? null : (await clusterCpuSeconds(ctx.cluster)) - redisBefore;
    const per1000 = (ms: number) => Math.round((ms / records) * 1000 * 10) / 10;
    return { benchProcessMs: per1000((used.user + used.system) / 1000), redisMs: redis === null ? null : per1000(redis * 1000) };
  };
}

interface GatewayRound {
  cpu: CpuCost;
  durable: number;
  anchored: number | null;
  anchoringLagMs: number | null;
  meanGroupMessages: number;
}

async function gatewayRound(ctx: Context, kind: KvKind, messages: readonly BenchMessage[], waitAnchored = ANCHOR): Promise<GatewayRound> {
  const round = nextRound();
  const kv = kvChoice(ctx, kind, round);
  const gw = await startGatewayUnderTest({
    run, round, kv, broker: ctx.broker, connections: CONNECTIONS, anchor: ANCHOR, blockIntervalMs: BLOCK_INTERVAL_MS, batchIntervalMs: 1000, maxLeaves: MAX_LEAVES,
  });
  const publishers = await connectPublishers(gw.brokerUrl, gw.protocolVersion, DEVICES, `${run}-${round}`);
  const total = messages.length * RECORDS;
  try {
    const meter = await cpuMeter(ctx);
    const start = performance.now();
    const published = publishBurst(publishers, messages);
    await until(() => gw.accepted() >= total);
    const durableMs = performance.now() - start;
    await published;
    const cpu = await meter(total);
    let anchoredMs: number | null = null;
    if (waitAnchored) {
      await until(() => gw.allAnchored(), 300_000, 20);
      anchoredMs = performance.now() - start;
    }
    return {
      cpu,
      durable: rate(total, durableMs),
      anchored: anchoredMs === null ? null : rate(total, anchoredMs),
      anchoringLagMs: anchoredMs === null ? null : Math.round(anchoredMs - durableMs),
      meanGroupMessages: Math.round((messages.length / gw.groups()) * 10) / 10,
    };
  } finally {
    await publishers.end();
    await gw.stop();
    if (kv.backend === 'redis-cluster') await deletePrefix(ctx.cluster!, kv.prefix);
  }
}

async function bareRound(ctx: Context, kind: 'redis' | 'ack', messages: readonly BenchMessage[]): Promise<{ rate: number; cpu: CpuCost }> {
  const round = nextRound();
  const prefix = `bench-${run}-${round}`;
  const handler: BareHandler = kind === 'redis' ? { kind: 'redis', cluster: ctx.cluster!, prefix } : { kind: 'ack' };
  let url: string;
  let closeBroker: () => Promise<void> = () => Promise.resolve();
  if (ctx.broker.kind === 'mosquitto') url = ctx.broker.url;
  else {
    const broker = await startEmbeddedBroker({ host: '127.0.0.1', port: 0 });
    url = broker.url;
    closeBroker = () => broker.close();
  }
  const protocolVersion = ctx.broker.kind === 'mosquitto' ? 5 : 4;
  const subscribers = await startBareSubscribers({ url, protocolVersion, connections: CONNECTIONS, run, round, handler });
  const publishers = await connectPublishers(url, protocolVersion, DEVICES, `${run}-${round}`);
  try {
    const meter = await cpuMeter(ctx);
    const start = performance.now();
    const published = publishBurst(publishers, messages);
    await until(() => subscribers.handled() >= messages.length);
    const result = rate(messages.length * RECORDS, performance.now() - start);
    await published;
    return { rate: result, cpu: await meter(messages.length * RECORDS) };
  } finally {
    await publishers.end();
    await subscribers.end();
    await closeBroker();
    if (kind === 'redis') await deletePrefix(ctx.cluster!, prefix);
  }
}

/** Paced publishing; latency = publish call → the message's group durable (the gateway's PUBACK). */
async function latencyRound(ctx: Context, kind: KvKind, messages: readonly BenchMessage[], recordsPerSecond: number) {
  const round = nextRound();
  const kv = kvChoice(ctx, kind, round);
  const gw = await startGatewayUnderTest({
    run, round, kv, broker: ctx.broker, connections: CONNECTIONS, anchor: ANCHOR, blockIntervalMs: BLOCK_INTERVAL_MS, batchIntervalMs: 1000, maxLeaves: MAX_LEAVES,
  });
  const durableAt = gw.track(new Set(messages.map((m) => m.firstRecordId)));
  const publishers = await connectPublishers(gw.brokerUrl, gw.protocolVersion, DEVICES, `${run}-${round}`);
  try {
    const paced = await publishPaced(publishers, messages, recordsPerSecond / RECORDS);
    await until(() => gw.accepted() >= messages.length * RECORDS);
    const ack = messages.map((m) => durableAt.get(m.firstRecordId)! - paced.sentAt.get(m.index)!);
    const puback = [...paced.pubackMs.values()];
    const ms = (v: number) => Math.round(v * 10) / 10;
    return {
      offeredRecordsPerSecond: recordsPerSecond,
      messages: messages.length,
      p50: ms(percentile(ack, 50)), p99: ms(percentile(ack, 99)), max: ms(Math.max(...ack)),
      devicePubackFromBroker: ctx.broker.kind === 'mosquitto' ? { p50: ms(percentile(puback, 50)), p99: ms(percentile(puback, 99)) } : 'same as above (the embedded broker PUBACKs once durable)',
    };
  } finally {
    await publishers.end();
    await gw.stop();
    if (kv.backend === 'redis-cluster') await deletePrefix(ctx.cluster!, kv.prefix);
  }
}

const summary = (values: number[]) => ({ median: median(values), rounds: values });
const cpuSummary = (values: CpuCost[]) => ({
  benchProcess: median(values.map((c) => c.benchProcessMs)),
  redisNodes: values[0]?.redisMs == null ? null : median(values.map((c) => c.redisMs!)),
});

async function main(): Promise<void> {
  const loadBefore = load();
  if (KV !== 'redis' && KV !== 'sqlite') throw new Error(`BENCH_KV must be redis or sqlite, not ${KV}`);
  if (KV === 'redis' && CLUSTER_SPEC === '') throw new Error('BENCH_KV=redis needs CARCHAIN_REDIS_CLUSTER=host:port,… (e.g. from tools/ci/redis-cluster.sh)');
  const useMosquitto = BROKER === 'mosquitto' || (BROKER === 'auto' && (await mosquittoReachable()));
  const nodes = KV === 'redis' ? parseClusterNodes(CLUSTER_SPEC) : [];
  const ctx: Context = {
    broker: useMosquitto ? { kind: 'mosquitto', url: 'mqtt://127.0.0.1:1883' } : { kind: 'embedded' },
    nodes,
    cluster: KV === 'redis' ? await connectBenchCluster(nodes) : null,
  };
  try {
    const fixture = makeFixture({ run, devices: DEVICES, messages: Math.max(MESSAGES, LATENCY_MESSAGES), recordsPerMessage: RECORDS, gpsPoints: GPS_POINTS });
    const messages = fixture.messages.slice(0, MESSAGES);
    const primary: KvKind = KV === 'redis' ? 'redis' : 'sqlite';
    const bareKind = KV === 'redis' ? 'redis' : 'ack';
    const reference = KV === 'redis' && REFERENCE;
    const warm = messages.slice(0, Math.min(64, messages.length));
    await gatewayRound(ctx, primary, warm); // JIT, sockets, cluster connections, SQLite
    await bareRound(ctx, bareKind, warm);
    const gateway: GatewayRound[] = [];
    const bare: { rate: number; cpu: CpuCost }[] = [];
    const sqlite: GatewayRound[] = [];
    const ackOnly: { rate: number; cpu: CpuCost }[] = [];
    // Interleaved, so drift on a shared machine hits every figure alike.
    for (let r = 0; r < ROUNDS; r++) {
      gateway.push(await gatewayRound(ctx, primary, messages));
      bare.push(await bareRound(ctx, bareKind, messages));
      if (reference) {
        sqlite.push(await gatewayRound(ctx, 'sqlite', messages, false));
        ackOnly.push(await bareRound(ctx, 'ack', messages));
      }
    }
    const latency = [];
    for (const r of LATENCY_MESSAGES > 0 ? LATENCY_RATES : []) latency.push(await latencyRound(ctx, primary, fixture.messages.slice(0, LATENCY_MESSAGES), r));
    const g = median(gateway.map((x) => x.durable));
    const b = median(bare.map((x) => x.rate));
    const anchored = ANCHOR ? median(gateway.map((x) => x.anchored!)) : null;
    const gatewayFigures = (rounds: GatewayRound[]) => ({
      recordsPerSecond: summary(rounds.map((x) => x.durable)),
      anchored: rounds[0]?.anchored != null
        ? { recordsPerSecond: summary(rounds.map((x) => x.anchored!)), lagAfterLastDurableMs: summary(rounds.map((x) => x.anchoringLagMs!)) }
        : ANCHOR ? 'anchoring runs in the background; the round stops once durable' : 'BENCH_ANCHOR=0: batches neither sealed nor anchored',
      meanGroupMessages: median(rounds.map((x) => x.meanGroupMessages)),
      cpuMsPer1000Records: cpuSummary(rounds.map((x) => x.cpu)),
    });
    const bareFigures = (rounds: { rate: number; cpu: CpuCost }[]) => ({ recordsPerSecond: summary(rounds.map((x) => x.rate)), cpuMsPer1000Records: cpuSummary(rounds.map((x) => x.cpu)) });
    process.stdout.write(`${JSON.stringify({
      bench: 'ingest',
      mode: KV === 'redis'
        ? 'redis-cluster: gateway → Redis Cluster vs bare pipe → the same cluster'
        : 'sqlite: CARCHAIN_REDIS_CLUSTER unset, gateway → SQLite vs subscribers that only acknowledge (not issue 4\'s baseline)',
      broker: useMosquitto ? `mosquitto 127.0.0.1:1883 (MQTT 5, $share, ${CONNECTIONS} subscriber connections)` : 'embedded aedes (MQTT 3.1.1, sink before PUBACK, one bare subscriber)',
      kv: KV === 'redis' ? `redis-cluster ${nodes.length} seed nodes, replicas=${REPLICAS}${REPLICAS === 0 ? ' (no WAIT)' : ' (WAIT)'}` : `sqlite synchronous=${SYNCHRONOUS}`,
      leafLog: 'sqlite synchronous=FULL (WAL)',
      anchoring: ANCHOR ? `embedded validator, ${BLOCK_INTERVAL_MS} ms blocks; batches sealed every 1 s or at ${MAX_LEAVES} leaves, anchored one at a time` : 'off',
      records: { perMessage: RECORDS, bytes: fixture.recordBytes, format: `trip-gps, ${GPS_POINTS} points, RSA-3072 envelope`, messageBytes: fixture.messageBytes, messagesPerRound: messages.length, devices: DEVICES },
      gateway: gatewayFigures(gateway),
      barePipe: {
        what: KV === 'redis'
          ? 'same bytes, same broker and subscriber connections; one SET per message (hash-tagged by device topic) via an auto-pipelining ioredis Cluster client, PUBACK after the SET resolved'
          : 'same bytes, same broker and subscriber connections; PUBACK at once, no write',
        ...bareFigures(bare),
      },
      ratio: Math.round((g / b) * 100) / 100,
      ackLatencyMs: latency,
      goal: {
        ...GOAL,
        recordsPerSecondMet: g >= GOAL.recordsPerSecond,
        anchoredRecordsPerSecondMet: anchored === null ? null : anchored >= GOAL.recordsPerSecond,
        ratioMet: g / b >= GOAL.ratio,
        baselineIsIssue4s: KV === 'redis',
      },
      ...(reference ? {
        reference: {
          sqliteGateway: { kv: `sqlite synchronous=${SYNCHRONOUS}`, ...gatewayFigures(sqlite) },
          bareAckOnly: bareFigures(ackOnly),
          ratioGatewayToAckOnly: Math.round((g / median(ackOnly.map((x) => x.rate))) * 100) / 100,
        },
      } : {}),
      loadAverage: { before: loadBefore, after: load() },
    }, null, 2)}\n`);
  } finally {
    await ctx.cluster?.quit();
  }
}

await main();
