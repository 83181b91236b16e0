// `carchain sim elm327 --pty`: the ELM327 + ECU simulator on a pseudo-terminal, for tools and tests.
import type { Command } from 'commander';
import { startElm327OnPty } from '../../../hardware/sim/elm327-on-pty.js';
import { SCENARIO_NAMES } from '../../../hardware/sim/scenarios.js';
import { CarchainError } from '../../../protocol/errors.js';
import { runFleet } from '../../sim/fleet.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export function registerSim(program: Command): void {
  const sim = program.command('sim').description('simulated devices');
  sim
    .command('elm327')
    .description(`run the ELM327 + ECU simulator; scenarios: ${SCENARIO_NAMES.join(', ')}`)
    .option('--pty', 'expose it on a pseudo-terminal (needs socat) and print {"pty": PATH}', false)
    .option('--scenario <name>', 'driving scenario', 'driving')
    .option('--baud <n>', 'simulated line speed', Number, 38400)
    .option('--time-scale <x>', 'simulated seconds per real second', Number, 1)
    .option('--gps', 'also play NMEA for the same car on a second pty')
    .addHelpText('after', '\nExample:\n  $ carchain sim elm327 --pty --scenario dtcs-present\n  {"pty":"/tmp/carchain-elm327-AbC123/host"}')
    .action(async (opts: { pty: boolean; scenario: string; baud: number; timeScale: number; gps?: boolean }) => {
      if (!opts.pty) throw new CarchainError('USAGE', 'only --pty is available from the command line (in-process use: hardware/sim)');
      const running = await startElm327OnPty({
        scenario: opts.scenario, baudRate: opts.baud, timeScale: opts.timeScale, gps: opts.gps ?? false,
        onEvent: (e) => process.stderr.write(`${JSON.stringify(e)}\n`),
      });
      process.stdout.write(`${JSON.stringify({ pty: running.ptyPath, ...(running.gpsPath ? { gps: running.gpsPath } : {}) })}\n`);
      await new Promise<void>((resolve) => {
        for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => resolve());
      });
      await running.stop();
    });

  sim
    .command('fleet')
    .description('N simulated dongles, each paired to a generated owner wallet, publishing M records each through the real outbox and uplink')
    .requiredOption('--broker <url>', 'MQTT broker, e.g. mqtt://127.0.0.1:1883')
    .option('--devices <n>', 'dongles', Number, 10)
    .option('--records <m>', 'records per dongle', Number, 100)
    .option('--json', 'print a JSON summary')
    .addHelpText('after', '\nExample:\n  $ carchain sim fleet --devices 50 --records 2000 --broker mqtt://127.0.0.1:1883')
    .action(async (opts: { broker: string; devices: number; records: number; json?: boolean }) => {
      if (!(opts.devices >= 1 && opts.records >= 1)) throw new CarchainError('USAGE', '--devices and --records must be positive');
      const dir = mkdtempSync(join(tmpdir(), 'carchain-fleet-'));
      let lastShown = 0;
      try {
        const result = await runFleet({
          devices: opts.devices, recordsPerDevice: opts.records, brokerUrl: opts.broker, dir,
          onProgress: (done, total) => {
            const pct = Math.floor((done / total) * 100);
            if (!opts.json && process.stderr.isTTY && pct !== lastShown) {
              lastShown = pct;
              process.stderr.write(`\r[${'#'.repeat(pct / 5).padEnd(20, '.')}] ${pct}% (${done}/${total} records committed)`);
            }
          },
        });
        const summary = { devices: result.devices.length, records: result.recordIds.length, ms: result.ms, recordsPerSec: Math.round((result.recordIds.length / result.ms) * 1000) };
        if (!opts.json && process.stderr.isTTY) process.stderr.write('\n');
        process.stdout.write(opts.json ? `${JSON.stringify(summary)}\n` : `${summary.records} records from ${summary.devices} dongles delivered in ${summary.ms} ms (${summary.recordsPerSec}/s)\n`);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
}
