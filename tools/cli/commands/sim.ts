// `carchain sim elm327 --pty`: the ELM327 + ECU simulator on a pseudo-terminal, for tools and tests.
import type { Command } from 'commander';
import { startElm327OnPty } from '../../../hardware/sim/elm327-on-pty.js';
import { SCENARIO_NAMES } from '../../../hardware/sim/scenarios.js';
import { CarchainError } from '../../../protocol/errors.js';

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
}
