// `carchain stack`: the one-command embedded system (`npm start`) — gateway, validator, simulated dongle, paired wallet.
import { createWriteStream, mkdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import type { Command } from 'commander';
import { jsonLogger } from '../../../firmware/runtime/json-log.js';
import { startEmbeddedStack, type EmbeddedStack } from '../../stack/embedded-stack.js';

interface StackOptions {
  dataDir: string;
  apiPort: number;
  brokerPort: number;
  scenario: string;
  timeScale: number;
  json?: boolean;
}

export function registerStack(program: Command): void {
  program
    .command('stack')
    .description('run everything on the embedded default: Aedes broker, SQLite KV, a local validator, the gateway and its API, a simulated dongle and a paired wallet')
    .option('--data-dir <dir>', 'where the stack keeps its state (a second start resumes from it)', '.carchain/stack')
    .option('--api-port <n>', 'gateway API port (an ephemeral one if taken)', Number, 8080)
    .option('--broker-port <n>', 'embedded MQTT broker port (an ephemeral one if taken)', Number, 1883)
    .option('--scenario <name>', 'the simulated car (see `carchain sim elm327 --help`)', 'ignition-cycle')
    .option('--time-scale <x>', 'simulated seconds per real second', Number, 10)
    .option('--json', 'print one JSON line when up and one per anchored batch (for scripts and tests)')
    .addHelpText('after', '\nExample:\n  $ npm start                # = carchain stack --data-dir .carchain/stack\n  $ carchain stack --data-dir /tmp/demo --api-port 0 --time-scale 30')
    .action(async (opts: StackOptions) => {
      mkdirSync(opts.dataDir, { recursive: true, mode: 0o700 });
      const logFile = createWriteStream(join(opts.dataDir, 'stack.log'), { flags: 'a' });
      const out = (line: string) => process.stdout.write(`${line}\n`);
      let stack: EmbeddedStack;
      try {
        stack = await startEmbeddedStack({
          dataDir: opts.dataDir, apiPort: opts.apiPort, brokerPort: opts.brokerPort, scenario: opts.scenario, timeScale: opts.timeScale,
          log: jsonLogger('info', 'stack', (line) => logFile.write(line)),
          onBatchAnchored: (b) => out(opts.json
            ? JSON.stringify({ event: 'batch-anchored', ...b })
            : `batch ${b.batchId} anchored: ${b.size} record${b.size === 1 ? '' : 's'} at height ${b.height} (tx ${b.txId.slice(0, 12)}…)`),
        });
      } catch (err) {
        logFile.end();
        throw err;
      }
      printBanner(stack, opts, out, logFile.path.toString());

      await new Promise<void>((resolve) => {
        for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => resolve());
      });
      // A second Ctrl-C while stopping leaves at once (nothing acknowledged is lost: it is all on disk).
      process.once('SIGINT', () => process.exit(130));
      if (!opts.json) out('stopping (the dongle cuts its trip and drains its outbox)…');
      await stack.stop();
      out(opts.json ? JSON.stringify({ event: 'stopped' }) : `stopped; \`npm start\` again resumes from ${opts.dataDir}`);
      logFile.end();
    });
}

function printBanner(stack: EmbeddedStack, opts: StackOptions, out: (line: string) => void, logPath: string): void {
  if (opts.json) {
    out(JSON.stringify({
      event: 'up', resumed: stack.resumed, apiUrl: stack.apiUrl, brokerUrl: stack.brokerUrl, chainRpcUrl: stack.chainRpcUrl, genesisFile: stack.genesisFile,
      deviceId: stack.deviceId, wallet: stack.wallet.path, passphraseFile: stack.wallet.passphraseFile, ownerAddress: stack.wallet.ownerAddress, log: logPath,
    }));
    return;
  }
  // Paths under the working directory read best relative (npm start's .carchain/stack); others absolute.
  const rel = (p: string) => {
    const r = relative(process.cwd(), p);
    return r === '' || r.startsWith('..') ? p : r;
  };
  const walletArgs = `--wallet ${rel(stack.wallet.path)} --passphrase-file ${rel(stack.wallet.passphraseFile)} --gateway ${stack.apiUrl}`;
  out(`CarChain Edge embedded stack (${stack.resumed ? 'resumed from' : 'new in'} ${rel(opts.dataDir)})`);
  out(`  gateway API  ${stack.apiUrl}   dashboard ${stack.apiUrl}/`);
  out(`  MQTT broker  ${stack.brokerUrl}`);
  out(`  chain RPC    ${stack.chainRpcUrl}   genesis ${rel(stack.genesisFile)}`);
  out(`  dongle       ${stack.deviceId} (simulated car: ${opts.scenario}, ×${opts.timeScale})`);
  out(`  wallet       ${rel(stack.wallet.path)} owner ${stack.wallet.ownerAddress}${stack.wallet.created ? ' (new, paired with the dongle)' : ''}`);
  out('Try:');
  out(`  npx carchain gateway stats --url ${stack.apiUrl}`);
  out(`  npx carchain chain status --rpc ${stack.chainRpcUrl}`);
  out(`  npx carchain wallet trips ${walletArgs}`);
  out(`Logs: ${rel(logPath)} · Ctrl-C stops (a second start resumes)`);
}
