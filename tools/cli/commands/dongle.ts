// `carchain dongle run --config FILE`: the dongle runtime (real adapter or `sim:<scenario>`), until SIGTERM/SIGINT.
import type { Command } from 'commander';
import { loadDongleConfig } from '../../../firmware/config/dongle-config.js';
import { startDongleRuntime } from '../../../firmware/runtime/dongle-runtime.js';

export function registerDongle(program: Command): void {
  const dongle = program.command('dongle').description('the in-car dongle');
  dongle
    .command('run')
    .description('run the dongle: OBD sampling, trips, sealed records, durable outbox, MQTT uplink, pairing endpoint')
    .requiredOption('--config <file>', 'YAML config (see firmware/config/dongle.example.yaml)')
    .addHelpText('after', '\nExample:\n  $ carchain dongle run --config /etc/carchain/dongle.yaml\n  (set obd.port: sim:driving to run against the built-in simulator)')
    .action(async (opts: { config: string }) => {
      const runtime = await startDongleRuntime(loadDongleConfig(opts.config));
      await new Promise<void>((resolve) => {
        for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => resolve());
      });
      await runtime.stop();
    });
}
