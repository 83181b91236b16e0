// `carchain lock serve|pubkey`: run the car lock (simulated actuator) on its local link and MQTT relay; print its public key.
import type { Command } from 'commander';
import { loadLockConfig, type LockConfig } from '../../../firmware/lock/lock-config.js';
import { lockPublicKeyOf, startLockService, type LockEvent } from '../../../firmware/lock/lock-service.js';
import { CarchainError } from '../../../protocol/errors.js';
import { parseMqttLockUrl } from '../../wallet/mqtt-lock-transport.js';

function parseListen(value: string): { host: string; port: number } {
  const m = /^(.+):(\d{1,5})$/.exec(value);
  const port = m === null ? NaN : Number(m[2]);
  if (m === null || port > 65535) throw new CarchainError('USAGE', `--listen expects HOST:PORT, got ${value}`);
  return { host: m[1]!, port };
}

function line(e: LockEvent): string {
  switch (e.event) {
    case 'ready':
      return `lock ready: epoch ${e.epoch}, lock key ${e.lockPublicKey}${e.tcp === null ? '' : `, tcp ${e.tcp}`}${e.relay === null ? '' : `, relay ${e.relay}`}`;
    case 'decision':
      return `${new Date(e.time).toISOString()} epoch ${e.epoch} ${e.kind} ${e.detail}${e.key === null ? '' : ` key ${e.key}`}`;
    case 'keyset-source-failed':
      return `key set from ${e.source} not taken: ${e.code}: ${e.message}`;
  }
}

export function registerLock(program: Command): void {
  const lock = program.command('lock').description('the car lock on the dongle: handshake, key sets from the chain, simulated actuator');
  lock
    .command('serve')
    .description('run the lock until SIGTERM/SIGINT, printing one line per decision')
    .requiredOption('--config <file>', 'YAML config (see firmware/lock/lock.example.yaml)')
    .option('--listen <host:port>', 'local TCP link (BLE stand-in); overrides listen in the config')
    .option('--relay <url>', 'MQTT relay mqtt://HOST:PORT/DEVICE_ID; overrides relay in the config')
    .option('--json', 'one JSON object per line')
    .addHelpText('after', '\nExample:\n  $ carchain lock serve --config firmware/lock/lock.example.yaml --listen 127.0.0.1:7420 --relay mqtt://127.0.0.1:1883/lock-LBVNU79049SB81546 --json')
    .action(async (opts: { config: string; listen?: string; relay?: string; json?: boolean }) => {
      const config: LockConfig = loadLockConfig(opts.config);
      if (opts.listen !== undefined) config.listen = parseListen(opts.listen);
      if (opts.relay !== undefined) config.relay = parseMqttLockUrl(opts.relay);
      if (config.listen === null && config.relay === null) throw new CarchainError('USAGE', 'no link: give --listen HOST:PORT or --relay URL (or listen/relay in the config)');
      const print = (e: LockEvent) => process.stdout.write(`${opts.json ? JSON.stringify(e) : line(e)}\n`);
      const service = await startLockService(config, print);
      await new Promise<void>((resolve) => {
        for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => resolve());
      });
      await service.stop();
    });
  lock
    .command('pubkey')
    .description("print the lock's public key (creating its key file on first use): the owner puts it in the first key set")
    .requiredOption('--config <file>', 'YAML config')
    .option('--json', 'print JSON')
    .addHelpText('after', '\nExample:\n  $ carchain lock pubkey --config firmware/lock/lock.example.yaml')
    .action((opts: { config: string; json?: boolean }) => {
      const config = loadLockConfig(opts.config);
      const publicKey = Buffer.from(lockPublicKeyOf(config)).toString('hex');
      process.stdout.write(opts.json ? `${JSON.stringify({ lockPublicKey: publicKey, vid: config.vehicle.vid })}\n` : `${publicKey}\n`);
    });
}
