// The gateway's connection to the chain: an embedded single validator or remote validators, its anchoring key, the format dictionary it serves.
import { join } from 'node:path';
import { builtinFormatDictionary } from '../../protocol/builtin-formats.js';
import { type FormatDefinition, FormatDictionary } from '../../protocol/formats.js';
import { ChainClient } from '../chain/client/chain-client.js';
import { loadOrCreateKeyFile } from '../chain/node/key-file.js';
import { type LocalValidator, startLocalValidator } from '../chain/node/local-validator.js';
import type { LogFn } from '../log.js';
import type { GatewayConfig } from '../node/gateway-config.js';

export interface ChainLink {
  client: ChainClient;
  rpcUrl: string;
  privateKey: Uint8Array;
  /** Resolved from the chain (remote mode asks a node once it is reachable). */
  chainId(): Promise<string>;
  /** The FormatRegister dictionary as of the last refresh (built-ins until the chain answers). */
  formats(): FormatDictionary;
  refreshFormats(): Promise<void>;
  stop(): Promise<void>;
}

export async function openChainLink(config: GatewayConfig, log: LogFn): Promise<ChainLink | null> {
  const chain = config.chain;
  if (chain.mode === 'none') return null;
  let validator: LocalValidator | null = null;
  let client: ChainClient;
  let privateKey: Uint8Array;
  if (chain.mode === 'embedded') {
    validator = await startLocalValidator({
      dataDir: join(config.gateway.dataDir, 'chain'), rpc: { host: chain.rpcHost, port: chain.rpcPort },
      blockIntervalMs: chain.blockIntervalMs, emptyBlockIntervalMs: Math.max(chain.blockIntervalMs, 10_000), log,
    });
    client = new ChainClient([validator.rpc.url]);
    // The embedded validator anchors with its own key: validators are anchorers.
    privateKey = validator.privateKey;
  } else {
    client = new ChainClient(chain.rpc);
    privateKey = loadOrCreateKeyFile(chain.keyFile ?? join(config.gateway.dataDir, 'gateway-key.json'));
  }
  let chainId: string | null = validator?.genesis.chainId ?? null;
  let formats = builtinFormatDictionary();
  return {
    client, privateKey,
    rpcUrl: validator?.rpc.url ?? (chain.mode === 'remote' ? chain.rpc[0]! : ''),
    async chainId() {
      chainId ??= (await client.status()).chainId;
      return chainId;
    },
    formats: () => formats,
    async refreshFormats() {
      try {
        const list = await client.query<{ definition: FormatDefinition }[]>('formats');
        formats = new FormatDictionary(list.map((f) => f.definition));
      } catch (err) {
        log('warn', 'format dictionary not refreshed from the chain', { error: (err as Error).message });
      }
    },
    async stop() {
      await validator?.stop();
    },
  };
}
