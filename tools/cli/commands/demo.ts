// `carchain demo`: the embedded end-to-end protocol run (no services needed).
import type { Command } from 'commander';
import { runProtocolWalkthrough } from '../../demo/protocol-walkthrough.js';

export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description('run the protocol end to end in-process: wallet, pairing, sealing, uplink, verification, reading, grant')
    .option('--mnemonic <words>', 'restore this wallet instead of creating a fresh one')
    .option('--pool-size <n>', 'addresses in the pool', (v) => Number.parseInt(v, 10), 16)
    .option('--json', 'print the report as JSON')
    .addHelpText('after', '\nExample:\n  $ carchain demo\n  $ carchain demo --json | jq .steps[].ms')
    .action((opts: { mnemonic?: string; poolSize: number; json?: boolean }) => {
      const report = runProtocolWalkthrough({ mnemonic: opts.mnemonic, poolSize: opts.poolSize, now: Date.now() });
      if (opts.json) {
        process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
        return;
      }
      for (const [i, step] of report.steps.entries()) {
        process.stdout.write(`${i + 1}. ${step.step}  (${step.ms} ms)\n`);
        for (const [k, v] of Object.entries(step.detail)) process.stdout.write(`     ${k}: ${typeof v === 'string' ? v : JSON.stringify(v)}\n`);
      }
      process.stdout.write(report.ok ? '\nall steps verified\n' : '\nFAILED\n');
    });
}
