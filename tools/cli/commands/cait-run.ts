// `carchain cait run --config FILE`: the CAIT terminal runtime (frames → plates → privacy filter → sightings of authorised cars only → plate-sighting records).
//
// Thin over firmware/cait/shop-terminal.ts. Adds `run` to the `cait` command group that
// tools/cait/read-command.ts creates (or creates the group when it is not there).
import type { Command } from 'commander';
import { loadCaitConfig, plateReaderOptions } from '../../../firmware/cait/cait-config.js';
import { PlateReader } from '../../../firmware/cait/plate-reader.js';
import { startCaitRun } from '../../../firmware/cait/shop-terminal.js';
import { jsonLogger } from '../../../firmware/runtime/json-log.js';

export function registerCaitRun(program: Command): void {
  const cait = program.commands.find((c) => c.name() === 'cait') ?? program.command('cait').description('CAIT terminal');
  cait
    .command('run')
    .description('run the terminal: read plates from the configured camera, keep (and log) only sightings of cars whose owners granted this shop a WriteGrant')
    .requiredOption('--config <file>', 'the terminal config (YAML; see docs/cait.md)')
    .addHelpText('after', [
      '', 'Logs one JSON line per event on stdout; a "sighting" line only for an authorised plate. A sighting is sent to the',
      'owner as a plate-sighting record ("sighting queued") only when its grant lists plate-sighting, the owner\'s ticket was',
      'imported and the config has an uplink; otherwise "sighting kept locally" with the reason. Stops on SIGINT/SIGTERM',
      '(waiting up to sightings.stopDrainMs for the broker), or when a finite frame source ends.', '', 'Example:', '  carchain cait run --config /etc/carchain/cait.yaml', '',
    ].join('\n'))
    .action(async (opts: { config: string }) => {
      const config = loadCaitConfig(opts.config);
      const log = jsonLogger(config.log.level, 'cait');
      const reader = await PlateReader.create(plateReaderOptions(config));
      try {
        const run = await startCaitRun(config, reader, log);
        const stop = () => void run.stop();
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
        await run.done.catch(() => undefined);
        await run.stop();
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
      } finally {
        await reader.close();
      }
    });
}
