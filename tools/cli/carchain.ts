#!/usr/bin/env node
// The `carchain` command: a thin front end over library code; one module per command group.
import { Command, CommanderError } from 'commander';
import { CarchainError } from '../../protocol/errors.js';
import { registerCait } from '../cait/read-command.js';
import { registerCaitRun } from './commands/cait-run.js';
import { registerChain } from './commands/chain.js';
import { registerDemo } from './commands/demo.js';
import { registerDongle } from './commands/dongle.js';
import { registerFleet } from './commands/fleet.js';
import { registerGateway } from './commands/gateway.js';
import { registerLock } from './commands/lock.js';
import { registerObd } from './commands/obd.js';
import { registerSim } from './commands/sim.js';
import { registerShop } from './commands/shop.js';
import { registerStack } from './commands/stack.js';
import { registerWallet } from './commands/wallet.js';

const program = new Command()
  .name('carchain')
  .description('CarChain Edge: OBD dongles, CAIT terminals and the gateways they talk to')
  .version('0.1.0')
  .showHelpAfterError()
  .exitOverride();

registerCait(program);
registerCaitRun(program);
registerChain(program);
registerDemo(program);
registerDongle(program);
registerFleet(program);
registerGateway(program);
registerLock(program);
registerObd(program);
registerShop(program);
registerSim(program);
registerStack(program);
registerWallet(program);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) {
    // --help and --version exit through here with code 0; usage errors with 2 (sysexits: bad usage).
    process.exitCode = err.exitCode === 0 ? 0 : 2;
  } else if (err instanceof CarchainError && err.code === 'USAGE') {
    process.stderr.write(`carchain: ${err.message}\n`);
    process.exitCode = 2;
  } else if (err instanceof CarchainError) {
    process.stderr.write(`carchain: error ${err.code}: ${err.message}\n`);
    process.exitCode = err.temporary ? 75 : 1;
  } else {
    process.stderr.write(`carchain: unexpected error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 70;
  }
  // A failed command may leave sockets or timers behind; it has said what went wrong, so leave now.
  if (process.exitCode) process.exit();
}
