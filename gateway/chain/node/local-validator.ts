// A single in-process validator with its RPC: the embedded default (one box runs gateway and chain) and the chain tests' fixture.
//
// It creates its genesis on first start (this validator alone, the given anchorers) and keeps it in
// the data directory, so a restart resumes the same chain.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { p2pkhAddress } from '../../../protocol/address.js';
import { publicKeyFromPrivate } from '../../../protocol/signature.js';
import type { LogFn } from '../../log.js';
import { type Genesis, genesisExecution, genesisHash, parseGenesis, serialiseGenesis } from '../app/genesis.js';
import { ChainNode } from './chain-node.js';
import { loadOrCreateKeyFile } from './key-file.js';
import { type RpcServer, startRpcServer } from './rpc-server.js';
import { chainQueries } from './chain-queries.js';
import { MemoryHub } from './transport.js';
import { CARCHAIN_APP } from './validator.js';

export interface LocalValidatorOptions {
  dataDir: string;
  chainId?: string;
  /** Addresses allowed to anchor batches besides the validator. */
  anchorers?: string[];
  rpc?: { host: string; port: number };
  blockIntervalMs?: number;
  emptyBlockIntervalMs?: number;
  log?: LogFn;
}

export interface LocalValidator {
  node: ChainNode;
  rpc: RpcServer;
  genesis: Genesis;
  genesisFile: string;
  privateKey: Uint8Array;
  stop(): Promise<void>;
}

export async function startLocalValidator(o: LocalValidatorOptions): Promise<LocalValidator> {
  mkdirSync(o.dataDir, { recursive: true });
  const privateKey = loadOrCreateKeyFile(join(o.dataDir, 'validator-key.json'));
  const genesisFile = join(o.dataDir, 'genesis.json');
  let genesis: Genesis;
  if (existsSync(genesisFile)) genesis = parseGenesis(JSON.parse(readFileSync(genesisFile, 'utf8')));
  else {
    genesis = parseGenesis({
      chainId: o.chainId ?? 'carchain-local', genesisTime: Date.now(),
      validators: [{ publicKey: Buffer.from(publicKeyFromPrivate(privateKey)).toString('hex'), power: 100, name: 'local' }],
      accounts: [{ address: p2pkhAddress(publicKeyFromPrivate(privateKey)), balance: 1000 }],
      anchorers: o.anchorers ?? [],
    });
    writeFileSync(genesisFile, serialiseGenesis(genesis));
  }
  const transport = new MemoryHub().join(p2pkhAddress(publicKeyFromPrivate(privateKey)));
  const node = ChainNode.start({
    chainId: genesis.chainId, genesis: { hash: genesisHash(genesis), time: genesis.genesisTime, execution: genesisExecution(genesis) },
    dataDir: join(o.dataDir, 'data'), app: CARCHAIN_APP, transport, privateKey,
    // One validator: a round can only fail by a crash, so short timeouts cost nothing.
    timeouts: { propose: { baseMs: 500, deltaMs: 250 }, prevote: { baseMs: 250, deltaMs: 100 }, precommit: { baseMs: 250, deltaMs: 100 } },
    blockIntervalMs: o.blockIntervalMs ?? 200, emptyBlockIntervalMs: o.emptyBlockIntervalMs ?? 5000,
    ...(o.log !== undefined ? { log: o.log } : {}),
  });
  const rpc = await startRpcServer({ node, host: o.rpc?.host ?? '127.0.0.1', port: o.rpc?.port ?? 0, queries: chainQueries(node) });
  return {
    node, rpc, genesis, genesisFile, privateKey,
    async stop() {
      await rpc.close();
      await node.stop();
      await transport.close();
    },
  };
}
