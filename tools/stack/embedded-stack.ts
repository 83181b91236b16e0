// The whole system in one process on the embedded default: gateway (Aedes, SQLite KV, one validator, API), a simulated dongle, a paired owner wallet.
//
// Everything lives under one data directory, so a second start resumes: the gateway reopens its KV
// store, leaf log and chain; the dongle keeps its identity, pairing and outbox (records committed
// before a Ctrl-C are delivered after the restart); the wallet file is reused and not re-paired.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { parseDongleConfig } from '../../firmware/config/dongle-config.js';
import type { LogFn } from '../../firmware/outbox/outbox.js';
import { childLogger } from '../../firmware/runtime/json-log.js';
import { startDongleRuntime, type DongleRuntimeHandle } from '../../firmware/runtime/dongle-runtime.js';
import { parseGatewayConfig } from '../../gateway/node/gateway-config.js';
import { startGateway, type GatewayHandle } from '../../gateway/node/gateway-node.js';
import { CarchainError } from '../../protocol/errors.js';
import { isScenarioName } from '../../hardware/sim/scenarios.js';
import { ensureStackWallet, type StackWallet } from './stack-wallet.js';

export interface EmbeddedStackOptions {
  /** Everything the stack keeps: gateway/, dongle/, wallet.json, wallet-passphrase. */
  dataDir: string;
  host?: string;
  /** Preferred API port (default 8080); an ephemeral one is used when it is taken. */
  apiPort?: number;
  /** Preferred embedded broker port (default 1883); an ephemeral one is used when it is taken. */
  brokerPort?: number;
  /** The simulated car's scenario (hardware/sim/scenarios.ts), default `ignition-cycle`: two trips. */
  scenario?: string;
  /** Simulated seconds per real second (default 10: the two trips of `ignition-cycle` in about a minute). */
  timeScale?: number;
  /** Batch sealing interval (default 2000 ms). */
  batchIntervalMs?: number;
  /** Structured log of every component (the CLI writes it to dataDir/stack.log). */
  log: LogFn;
  /** One call per batch the chain has committed an anchor for. */
  onBatchAnchored?: (batch: AnchoredBatch) => void;
}

export interface AnchoredBatch {
  batchId: number;
  size: number;
  height: number;
  txId: string;
}

export interface EmbeddedStack {
  apiUrl: string;
  brokerUrl: string;
  chainRpcUrl: string;
  genesisFile: string;
  deviceId: string;
  wallet: StackWallet;
  /** True when this start found an existing data directory. */
  resumed: boolean;
  gateway: GatewayHandle;
  dongle: DongleRuntimeHandle;
  stop(): Promise<void>;
}

export class StackError extends CarchainError<'STACK_SCENARIO_UNKNOWN' | 'STACK_DATA_DIR'> {}

/** `preferred` if it can be bound on `host` right now, else 0 (the OS picks). */
export async function portOrEphemeral(host: string, preferred: number): Promise<number> {
  if (preferred === 0) return 0;
  return new Promise((resolve) => {
    const probe = createServer();
    probe.once('error', () => resolve(0));
    probe.listen({ host, port: preferred, exclusive: true }, () => probe.close(() => resolve(preferred)));
  });
}

/** Starts gateway, then dongle, then pairs the wallet on first start; stops in the reverse order. */
export async function startEmbeddedStack(o: EmbeddedStackOptions): Promise<EmbeddedStack> {
  const host = o.host ?? '127.0.0.1';
  const scenario = o.scenario ?? 'ignition-cycle';
  if (!isScenarioName(scenario)) throw new StackError('STACK_SCENARIO_UNKNOWN', `no simulator scenario named "${scenario}"`);
  const resumed = existsSync(join(o.dataDir, 'gateway'));
  try {
    mkdirSync(o.dataDir, { recursive: true, mode: 0o700 });
  } catch (cause) {
    throw new StackError('STACK_DATA_DIR', `cannot create ${o.dataDir}: ${(cause as Error).message}`, { cause });
  }

  const gatewayLog = childLogger(o.log, 'gateway');
  const gatewayConfig = parseGatewayConfig({
    gateway: { id: 'stack', dataDir: join(o.dataDir, 'gateway') },
    broker: { embedded: { host, port: await portOrEphemeral(host, o.brokerPort ?? 1883) } },
    kv: { backend: 'sqlite' },
    batches: { intervalMs: o.batchIntervalMs ?? 2000 },
    chain: { mode: 'embedded', rpcHost: host, rpcPort: 0 },
    api: { host, port: await portOrEphemeral(host, o.apiPort ?? 8080) },
    log: { level: 'info' },
  }, 'embedded stack');
  const anchoredLog: LogFn = (level, message, fields) => {
    gatewayLog(level, message, fields);
    if (message === 'batch anchored' && fields && o.onBatchAnchored) {
      o.onBatchAnchored({ batchId: Number(fields.batchId), size: Number(fields.size), height: Number(fields.height), txId: String(fields.txId) });
    }
  };
  const gateway = await startGateway(gatewayConfig, anchoredLog);
  if (gateway.chainRpcUrl === null) throw new Error('the embedded gateway always runs a validator');

  let dongle: DongleRuntimeHandle;
  try {
    dongle = await startDongleRuntime(parseDongleConfig({
      device: { dataDir: join(o.dataDir, 'dongle') },
      // Looping: the car keeps making trips for as long as the stack runs.
      obd: { port: `sim:${scenario}`, simTimeScale: o.timeScale ?? 10, simLoop: true, snapshotIntervalMs: 60_000 },
      gps: { port: `sim:${scenario}` },
      trips: { ignitionOffDebounceMs: 30_000 },
      // The embedded broker (Aedes) speaks MQTT 3.1.1 only.
      uplink: { brokerUrl: gateway.brokerUrl, protocolVersion: 4, healthIntervalMs: 30_000 },
      pairing: { host, port: 0 },
      log: { level: 'info' },
    }, 'embedded stack'), childLogger(o.log, 'dongle'));
  } catch (err) {
    await gateway.stop();
    throw err;
  }

  const genesisFile = join(gatewayConfig.gateway.dataDir, 'chain', 'genesis.json');
  let wallet: StackWallet;
  try {
    wallet = await ensureStackWallet({ dataDir: o.dataDir, dongle, gatewayUrl: gateway.apiUrl, chainRpcUrl: gateway.chainRpcUrl, genesisFile });
  } catch (err) {
    await dongle.stop();
    await gateway.stop();
    throw err;
  }
  writeStackInfo(o.dataDir, { apiUrl: gateway.apiUrl, brokerUrl: gateway.brokerUrl, chainRpcUrl: gateway.chainRpcUrl, genesisFile, deviceId: dongle.deviceId });

  let stopping: Promise<void> | null = null;
  return {
    apiUrl: gateway.apiUrl, brokerUrl: gateway.brokerUrl, chainRpcUrl: gateway.chainRpcUrl, genesisFile,
    deviceId: dongle.deviceId, wallet, resumed, gateway, dongle,
    stop: () => {
      // The dongle first: it cuts the open trip and drains its outbox into the still-running gateway.
      stopping ??= dongle.stop().finally(() => gateway.stop());
      return stopping;
    },
  };
}

/** Where the running stack listens, for tools that want to talk to it (`stack.json` in the data dir). */
function writeStackInfo(dataDir: string, info: Record<string, string>): void {
  writeFileSync(join(dataDir, 'stack.json'), `${JSON.stringify({ ...info, startedAt: new Date().toISOString() }, null, 2)}\n`, { mode: 0o600 });
}

export function readStackInfo(dataDir: string): Record<string, string> | null {
  try {
    return JSON.parse(readFileSync(join(dataDir, 'stack.json'), 'utf8')) as Record<string, string>;
  } catch {
    return null;
  }
}
