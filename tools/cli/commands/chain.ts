// `carchain chain init|start|status|block` and `carchain proof verify`: thin front ends over gateway/chain.
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { jsonLogger } from '../../../firmware/runtime/json-log.js';
import { parseGenesis } from '../../../gateway/chain/app/genesis.js';
import { ChainClient } from '../../../gateway/chain/client/chain-client.js';
import { ValidatorSet } from '../../../gateway/chain/consensus/validator-set.js';
import { LightClientError, verifyProof } from '../../../gateway/chain/light/light-client.js';
import type { ProofFile } from '../../../gateway/chain/light/proof-file.js';
import { initChainHomes, loadChainHome } from '../../../gateway/chain/node/chain-home.js';
import { startValidator } from '../../../gateway/chain/node/validator.js';
import { CarchainError } from '../../../protocol/errors.js';

const usage = (message: string): CarchainError => new CarchainError('USAGE', message);

function positiveInt(raw: string, what: string): number {
  if (!/^\d+$/.test(raw)) throw usage(`${what} must be a positive integer`);
  return Number(raw);
}

export function registerChain(program: Command): void {
  const chain = program.command('chain').description('the proof-of-stake BFT chain run by the gateways');
  chain
    .command('init')
    .description('write a genesis and one home directory per validator (keys, config with loopback ports)')
    .requiredOption('--validators <n>', 'number of validators')
    .requiredOption('--out <dir>', 'output directory')
    .option('--chain-id <id>', 'chain id', 'carchain-local')
    .option('--base-port <port>', 'validator i uses base+2i (p2p) and base+2i+1 (rpc)', '26656')
    .option('--block-interval <ms>', 'gap between blocks', '1000')
    .option('--test-mode', 'enable /admin fault injection (tests only)')
    .addHelpText('after', '\nExample:\n  $ carchain chain init --validators 4 --out ./localnet\n  $ carchain chain start --home ./localnet/node0')
    .action((opts: { validators: string; out: string; chainId: string; basePort: string; blockInterval: string; testMode?: boolean }) => {
      const result = initChainHomes({
        validators: positiveInt(opts.validators, '--validators'), outDir: opts.out, chainId: opts.chainId,
        basePort: positiveInt(opts.basePort, '--base-port'), blockIntervalMs: positiveInt(opts.blockInterval, '--block-interval'),
        testMode: opts.testMode === true,
      });
      process.stdout.write(`genesis ${result.genesisFile}\n`);
      for (const h of result.homes) process.stdout.write(`${h.home}  ${h.address}  p2p 127.0.0.1:${h.p2pPort}  rpc http://127.0.0.1:${h.rpcPort}\n`);
    });
  chain
    .command('start')
    .description('run one validator until SIGTERM/SIGINT; one log line per committed block')
    .requiredOption('--home <dir>', 'validator home (from chain init)')
    .addHelpText('after', '\nExample:\n  $ carchain chain start --home ./localnet/node0')
    .action(async (opts: { home: string }) => {
      const home = loadChainHome(opts.home);
      const log = jsonLogger(home.config.log.level, `chain:${home.config.moniker}`);
      const running = await startValidator(home, log);
      await new Promise<void>((resolve) => {
        for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => resolve());
      });
      await running.stop();
    });
  chain
    .command('status')
    .description('height, last block hash and time, validators, app hash')
    .option('--rpc <url>', 'a node RPC URL', 'http://127.0.0.1:26657')
    .option('--json', 'print JSON')
    .addHelpText('after', '\nExample:\n  $ carchain chain status --rpc http://127.0.0.1:26657 --json')
    .action(async (opts: { rpc: string; json?: boolean }) => {
      const s = await new ChainClient([opts.rpc]).status();
      if (opts.json) {
        process.stdout.write(`${JSON.stringify(s, null, 2)}\n`);
        return;
      }
      process.stdout.write(`chain      ${s.chainId}\nheight     ${s.height}\nlast block ${s.lastBlockHash ?? '-'}\n`);
      process.stdout.write(`time       ${s.lastBlockTime === null ? '-' : new Date(s.lastBlockTime).toISOString()}\napp hash   ${s.appHash}\n`);
      for (const v of s.validators) process.stdout.write(`validator  ${v.address}  power ${v.power}\n`);
    });
  chain
    .command('block')
    .description('a block header and its commit')
    .option('--rpc <url>', 'a node RPC URL', 'http://127.0.0.1:26657')
    .option('--height <h>', 'height (default: latest)')
    .option('--json', 'print JSON')
    .addHelpText('after', '\nExample:\n  $ carchain chain block --rpc http://127.0.0.1:26657 --height 12 --json')
    .action(async (opts: { rpc: string; height?: string; json?: boolean }) => {
      const b = await new ChainClient([opts.rpc]).block(opts.height === undefined ? undefined : positiveInt(opts.height, '--height'));
      const out = { blockId: b.blockId, header: b.header, commit: b.commit, txCount: b.txs.length };
      if (opts.json) {
        process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
        return;
      }
      process.stdout.write(`block ${b.header.height}  ${b.blockId}\n`);
      for (const [k, v] of Object.entries(b.header)) process.stdout.write(`  ${k.padEnd(20)} ${String(v)}\n`);
      process.stdout.write(`  commit: round ${b.commit.round}, ${b.commit.precommits.length} precommits\n`);
    });

  const proof = program.command('proof').description('offline proofs of transactions and records');
  proof
    .command('verify')
    .description('verify a record or transaction proof against a trusted genesis, offline; exit 0 only when valid')
    .argument('<file>', 'proof file (JSON)')
    .requiredOption('--genesis <file>', 'the trusted genesis.json')
    .option('--json', 'print JSON')
    .addHelpText('after', '\nExample:\n  $ carchain proof verify record-proof.json --genesis ./localnet/genesis.json')
    .action((file: string, opts: { genesis: string; json?: boolean }) => {
      const genesis = parseGenesis(JSON.parse(readFileSync(opts.genesis, 'utf8')));
      const validators = new ValidatorSet(genesis.validators.map((v) => ({ publicKey: Uint8Array.from(Buffer.from(v.publicKey, 'hex')), power: v.power })));
      let parsed: ProofFile;
      try {
        parsed = JSON.parse(readFileSync(file, 'utf8')) as ProofFile;
      } catch (cause) {
        throw new LightClientError('PROOF_MALFORMED', `${file}: ${(cause as Error).message}`, { cause });
      }
      const v = verifyProof({ chainId: genesis.chainId, validators }, parsed);
      const summary = {
        valid: true, kind: v.kind, chainId: genesis.chainId, height: v.header.height, blockTime: v.header.time,
        blockId: Buffer.from(v.blockId).toString('hex'), txId: Buffer.from(v.tx.txId).toString('hex'), txType: v.tx.type,
        ...(v.batch !== undefined ? { batchId: v.batch.batchId, batchRoot: Buffer.from(v.batch.root).toString('hex'), leafIndex: v.batch.leafIndex } : {}),
      };
      if (opts.json) process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
      else process.stdout.write(`valid ${v.kind} proof: ${v.tx.type} ${summary.txId} in block ${v.header.height} (${new Date(v.header.time).toISOString()})\n`);
    });
}
