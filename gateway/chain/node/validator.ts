// Composition root of one validator process: home directory → peer network, chain node, RPC server; one log line per block.
import { p2pkhAddress } from '../../../protocol/address.js';
import { buildTx } from '../../../protocol/chain/transactions.js';
import { encodeEvidenceBody } from '../../../protocol/chain/tx-bodies.js';
import { publicKeyFromPrivate } from '../../../protocol/signature.js';
import type { LogFn } from '../../log.js';
import { checkTx, executeBlock, genesisExecution, genesisHash } from '../app/index.js';
import { encodeVote } from '../consensus/messages.js';
import type { TimeoutConfig } from '../consensus/timeouts.js';
import { FaultPolicy, type FaultPolicyConfig } from '../net/fault-policy.js';
import { PeerNetwork } from '../net/peer-network.js';
import type { ChainApplication } from './application.js';
import { ChainNode } from './chain-node.js';
import type { ChainHome } from './chain-home.js';
import { chainQueries } from './chain-queries.js';
import { type RpcServer, startRpcServer } from './rpc-server.js';

/** The chain application as the node sees it. */
export const CARCHAIN_APP: ChainApplication = { executeBlock, checkTx };

export interface RunningValidator {
  node: ChainNode;
  network: PeerNetwork;
  rpc: RpcServer;
  faults: FaultPolicy;
  stop(): Promise<void>;
}

const EVIDENCE_LIFETIME_MS = 10 * 60_000;

export async function startValidator(h: ChainHome, log: LogFn): Promise<RunningValidator> {
  const { config, genesis } = h;
  const execution = genesisExecution(genesis);
  const observers = new Set(config.observers);
  const genesisKeys = new Set(genesis.validators.map((v) => v.publicKey));
  const faults = new FaultPolicy();
  // The network authorises peers against the node's validator set, and the node needs the network: a late-bound reference.
  const late: { node?: ChainNode } = {};
  const network = await PeerNetwork.start({
    chainId: genesis.chainId, privateKey: h.privateKey, listen: config.p2p, peers: config.peers, faults, log,
    // Known validators (genesis or current set) and configured observers; everyone else is refused at the handshake.
    authorise: (publicKey) => {
      const key = Buffer.from(publicKey).toString('hex');
      if (genesisKeys.has(key) || observers.has(key)) return true;
      const n = late.node;
      return n?.validatorsAt(n.height + 1).has(p2pkhAddress(publicKey)) ?? false;
    },
  });
  const timeouts: TimeoutConfig | undefined = genesis.consensus?.timeouts;
  const node = ChainNode.start({
    chainId: genesis.chainId, genesis: { hash: genesisHash(genesis), time: genesis.genesisTime, execution },
    dataDir: h.dataDir, app: CARCHAIN_APP, transport: network, privateKey: h.privateKey,
    ...(timeouts !== undefined ? { timeouts } : {}),
    blockIntervalMs: config.blockIntervalMs, emptyBlockIntervalMs: config.emptyBlockIntervalMs, log,
    ...(genesis.consensus?.maxBlockTxs !== undefined ? { maxBlockTxs: genesis.consensus.maxBlockTxs } : {}),
    ...(genesis.consensus?.maxBlockBytes !== undefined ? { maxBlockBytes: genesis.consensus.maxBlockBytes } : {}),
    evidenceTx: (a, b) => buildTx({
      type: 'Evidence', chainId: genesis.chainId, signerPriv: h.privateKey, expiresAt: Date.now() + EVIDENCE_LIFETIME_MS,
      body: encodeEvidenceBody({ voteA: encodeVote(a), voteB: encodeVote(b) }),
    }).bytes,
    ...(config.testMode && config.misbehaviour !== undefined ? { misbehaviour: config.misbehaviour } : {}),
  });
  late.node = node;
  const running = node;
  const rpc = await startRpcServer({
    node: running, host: config.rpc.host, port: config.rpc.port, queries: chainQueries(running),
    ...(config.testMode ? {
      admin: (path: string, _q: URLSearchParams, body: Uint8Array) => {
        if (path === 'faults') {
          if (body.length > 0) faults.update(JSON.parse(Buffer.from(body).toString('utf8')) as FaultPolicyConfig);
          return faults.toJSON();
        }
        return { stats: network.stats() };
      },
    } : {}),
  });
  log('info', 'validator started', {
    moniker: config.moniker, address: p2pkhAddress(publicKeyFromPrivate(h.privateKey)), chainId: genesis.chainId,
    p2pPort: network.port, rpc: rpc.url, height: running.height, validator: running.isValidator(),
  });
  return {
    node: running, network, rpc, faults,
    async stop() {
      await rpc.close();
      await running.stop();
      await network.close();
    },
  };
}
