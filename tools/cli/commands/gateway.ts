// `carchain gateway start|stats`: run a gateway (MQTT ingest → KV store → batches) and read its counters.
import type { Command } from 'commander';
import { jsonLogger } from '../../../firmware/runtime/json-log.js';
import { loadGatewayConfig } from '../../../gateway/node/gateway-config.js';
import { startGateway, type GatewayStats } from '../../../gateway/node/gateway-node.js';
import { CarchainError } from '../../../protocol/errors.js';

export function registerGateway(program: Command): void {
  const gateway = program.command('gateway').description('the gateway: ingest, KV store, batches');
  gateway
    .command('start')
    .description('run a gateway until SIGTERM/SIGINT')
    .requiredOption('--config <file>', 'YAML config (see gateway/node/gateway.example.yaml)')
    .addHelpText('after', '\nExample:\n  $ carchain gateway start --config gateway/node/gateway.example.yaml')
    .action(async (opts: { config: string }) => {
      const config = loadGatewayConfig(opts.config);
      const handle = await startGateway(config, jsonLogger(config.log.level, 'gateway'));
      await new Promise<void>((resolve) => {
        for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => resolve());
      });
      await handle.stop();
    });
  gateway
    .command('stats')
    .description('accepted, duplicates, conflicts, rejected by reason, batches sealed and anchored, pending leaves')
    .option('--url <url>', 'the gateway API', 'http://127.0.0.1:8080')
    .option('--json', 'print JSON')
    .addHelpText('after', '\nExample:\n  $ carchain gateway stats --json --url http://127.0.0.1:8080')
    .action(async (opts: { url: string; json?: boolean }) => {
      let stats: GatewayStats;
      try {
        const res = await fetch(`${opts.url}/stats`);
        stats = (await res.json()) as GatewayStats;
      } catch (cause) {
        throw new CarchainError('GATEWAY_UNREACHABLE', `cannot reach ${opts.url}: ${(cause as Error).message}`, { temporary: true, cause });
      }
      const flat = {
        accepted: stats.ingest.accepted, duplicates: stats.ingest.duplicates, conflicts: stats.ingest.conflicts,
        rejected: stats.ingest.rejectedByReason, batchesSealed: stats.batches.sealed, batchesAnchored: stats.batches.anchored,
        pendingLeaves: stats.batches.pendingLeaves, kv: stats.kv.backend, kvOk: stats.kv.ok, mqttConnected: stats.ingest.connected,
      };
      if (opts.json) {
        process.stdout.write(`${JSON.stringify(flat, null, 2)}\n`);
        return;
      }
      for (const [k, v] of Object.entries(flat)) process.stdout.write(`${k.padEnd(16)} ${typeof v === 'object' ? JSON.stringify(v) : String(v)}\n`);
    });
}
