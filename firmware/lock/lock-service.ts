// `carchain lock serve` as a library: the lock with the simulated actuator, its links (TCP, MQTT relay) and its key-set sources (file, chain).
//
// Every decision the lock audits is also reported as an event, so the CLI prints one line per
// decision. Key sets come only through CarLock.updateKeySet, i.e. with a finality proof verified by
// the light client against the genesis the lock was provisioned with.
import { mkdirSync, readFileSync } from 'node:fs';
import { ChainClient } from '../../gateway/chain/client/chain-client.js';
import { parseGenesis } from '../../gateway/chain/app/genesis.js';
import { ValidatorSet } from '../../gateway/chain/consensus/validator-set.js';
import { ChainKeySetFinality } from '../../gateway/chain/light/key-set-finality.js';
import { loadOrCreateKeyFile } from '../../gateway/chain/node/key-file.js';
import { SimulatedLockActuator } from '../../hardware/lock/lock-actuator.js';
import { vehicleIdHash } from '../../protocol/device-statements.js';
import { CarchainError } from '../../protocol/errors.js';
import { isLockError } from '../../protocol/lock/errors.js';
import { publicKeyFromPrivate } from '../../protocol/signature.js';
import { CarLock } from './car-lock.js';
import { fetchNewerKeySet } from './chain-key-set-source.js';
import { readKeySetFile, type FinalKeySet } from './key-set-file.js';
import type { LockConfig } from './lock-config.js';
import { startMqttLockRelay, type MqttLockRelay } from './mqtt-lock-relay.js';
import { startTcpLockServer, type TcpLockServer } from './tcp-lock-server.js';

export type LockEvent =
  | { event: 'ready'; lockPublicKey: string; epoch: number; tcp: string | null; relay: string | null }
  | { event: 'decision'; time: number; epoch: number; kind: string; key: string | null; detail: string }
  | { event: 'keyset-source-failed'; source: 'file' | 'chain'; code: string; message: string };

export interface LockService {
  lock: CarLock;
  tcpPort: number | null;
  stop(): Promise<void>;
}

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

/** The lock's key: created on first use, so `lock pubkey` can provision it before the first start. */
export function lockPublicKeyOf(config: LockConfig): Uint8Array {
  mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
  return publicKeyFromPrivate(loadOrCreateKeyFile(config.lockKeyFile));
}

function trustedFinality(genesisFile: string): ChainKeySetFinality {
  let genesis;
  try {
    genesis = parseGenesis(JSON.parse(readFileSync(genesisFile, 'utf8')));
  } catch (cause) {
    throw new CarchainError('CONFIG_INVALID', `trust.genesis ${genesisFile}: ${(cause as Error).message}`, { cause });
  }
  const validators = new ValidatorSet(genesis.validators.map((v) => ({ publicKey: Uint8Array.from(Buffer.from(v.publicKey, 'hex')), power: v.power })));
  return new ChainKeySetFinality({ chainId: genesis.chainId, validators });
}

export async function startLockService(config: LockConfig, emit: (e: LockEvent) => void): Promise<LockService> {
  mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
  const lockPrivateKey = loadOrCreateKeyFile(config.lockKeyFile);
  const lock = CarLock.open({
    dir: config.dataDir,
    vidHash: vehicleIdHash(config.vehicle.vid),
    lockPrivateKey,
    finality: trustedFinality(config.trust.genesis),
    actuator: new SimulatedLockActuator(),
    stalenessMs: config.stalenessMs,
    onAudit: (e) => emit({ event: 'decision', time: e.time, epoch: e.epoch, kind: e.event, key: e.publicKey === null ? null : hex(e.publicKey), detail: e.detail }),
  });

  const install = (source: 'file' | 'chain', update: FinalKeySet) => {
    try {
      lock.updateKeySet(update.keySet, update.proof);
    } catch (err) {
      // Refusals are already audited (and so printed); a source that fails is not fatal.
      if (!isLockError(err)) throw err;
      if (err.code === 'EPOCH_NOT_INCREASING') return;
      emit({ event: 'keyset-source-failed', source, code: err.code, message: err.message });
    }
  };
  if (config.keySet.file !== null) {
    try {
      install('file', readKeySetFile(config.keySet.file));
    } catch (err) {
      if (!(err instanceof CarchainError)) throw err;
      emit({ event: 'keyset-source-failed', source: 'file', code: String(err.code), message: err.message });
    }
  }

  let tcp: TcpLockServer | null = null;
  let relay: MqttLockRelay | null = null;
  let poller: NodeJS.Timeout | null = null;
  let stopped = false;
  const stop = async () => {
    stopped = true;
    if (poller !== null) clearTimeout(poller);
    await tcp?.close();
    await relay?.close();
    lock.close();
  };
  try {
    if (config.listen !== null) tcp = await startTcpLockServer(lock, { host: config.listen.host, port: config.listen.port });
    if (config.relay !== null) relay = await startMqttLockRelay(lock, { brokerUrl: config.relay.brokerUrl, deviceId: config.relay.deviceId });
  } catch (err) {
    await stop();
    throw err;
  }

  if (config.keySet.chainRpc.length > 0) {
    const client = new ChainClient(config.keySet.chainRpc);
    const vidHash = vehicleIdHash(config.vehicle.vid);
    let lastFailure = '';
    const poll = async () => {
      try {
        const update = await fetchNewerKeySet(client, vidHash, lock.epoch);
        if (update !== null && !stopped) install('chain', update);
        lastFailure = '';
      } catch (err) {
        // Offline is normal for a car: say so once per distinct failure, keep the cached set.
        const code = err instanceof CarchainError ? String(err.code) : 'UNEXPECTED';
        const message = err instanceof Error ? err.message : String(err);
        if (`${code}:${message}` !== lastFailure) emit({ event: 'keyset-source-failed', source: 'chain', code, message });
        lastFailure = `${code}:${message}`;
      }
      if (!stopped) poller = setTimeout(() => void poll(), config.keySet.pollMs);
    };
    await poll();
  }

  emit({
    event: 'ready',
    lockPublicKey: hex(lock.lockPublicKey),
    epoch: lock.epoch,
    tcp: tcp === null ? null : `${config.listen!.host}:${tcp.port}`,
    relay: config.relay === null ? null : `${config.relay.brokerUrl}/${config.relay.deviceId}`,
  });
  return { lock, tcpPort: tcp?.port ?? null, stop };
}
