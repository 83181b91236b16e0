// `carchain wallet unlock|lock|start|stop|trunk`, `wallet keys init|add|revoke|list`, `wallet transfer-accept|transfer`: the car lock from the owner's (or a delegate's) side.
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { currentChainKeySet } from '../../../firmware/lock/chain-key-set-source.js';
import { connectTcpLockTransport } from '../../../firmware/lock/tcp-lock-client.js';
import { ChainClient } from '../../../gateway/chain/client/chain-client.js';
import { readKeyFile, writeKeyFile } from '../../../gateway/chain/node/key-file.js';
import { decodeActuatorState } from '../../../hardware/lock/lock-actuator.js';
import { p2pkhAddress } from '../../../protocol/address.js';
import { vehicleIdHash } from '../../../protocol/device-statements.js';
import { CarchainError } from '../../../protocol/errors.js';
import { DELEGABLE_COMMANDS, LOCK_COMMAND_CODES, permissionsOf, type LockCommand } from '../../../protocol/lock/commands.js';
import { decodeKeySet, type KeySet } from '../../../protocol/lock/key-set.js';
import type { LockTransport } from '../../../protocol/lock/transport.js';
import { ownerIdentity } from '../../../protocol/owner-keys.js';
import { publicKeyFromPrivate } from '../../../protocol/signature.js';
import { LockClient } from '../../wallet/lock-client.js';
import { LockOwner, parsePublicKey, type PublishedKeySet, type TransferAcceptance } from '../../wallet/lock-owner.js';
import { connectMqttLockTransport, parseMqttLockUrl } from '../../wallet/mqtt-lock-transport.js';
import { DEFAULT_WALLET_PATH, readPassphrase, readWalletMeta, unlockWallet } from '../../wallet/wallet-keystore.js';

interface GlobalOptions {
  wallet?: string;
  passphraseFile?: string;
  chain?: string;
}

const usage = (message: string) => new CarchainError('USAGE', message);
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const print = (text: string) => process.stdout.write(`${text}\n`);

function walletPath(g: GlobalOptions): string {
  return resolve(g.wallet ?? DEFAULT_WALLET_PATH);
}

/** --chain, else the wallet's remembered chain RPC (readable without the passphrase). */
function chainUrl(g: GlobalOptions, required: true): string;
function chainUrl(g: GlobalOptions, required: false): string | undefined;
function chainUrl(g: GlobalOptions, required: boolean): string | undefined {
  let url = g.chain;
  if (url === undefined && existsSync(walletPath(g))) url = readWalletMeta(walletPath(g)).chainRpcUrl;
  if (url === undefined && required) throw usage('no chain RPC: give --chain URL (a wallet option: `carchain wallet --chain URL …`)');
  return url;
}

async function ownerRoot(g: GlobalOptions) {
  const path = walletPath(g);
  readWalletMeta(path); // KEYSTORE_MISSING / KEYSTORE_CORRUPT before asking for a passphrase
  const passphrase = await readPassphrase(g.passphraseFile !== undefined ? { passphraseFile: g.passphraseFile } : {});
  return (await unlockWallet(path, passphrase)).root;
}

async function owner(cmd: Command): Promise<LockOwner> {
  const g = cmd.optsWithGlobals<GlobalOptions>();
  const client = new ChainClient([chainUrl(g, true)]);
  return new LockOwner(client, await ownerRoot(g));
}

function vidHashOf(vid: string): Uint8Array {
  try {
    return vehicleIdHash(vid);
  } catch (cause) {
    throw usage(`--vehicle: ${(cause as Error).message}`);
  }
}

/** tcp://HOST:PORT or mqtt://HOST:PORT/DEVICE_ID. */
async function openLink(via: string): Promise<LockTransport> {
  const tcp = /^tcp:\/\/([^/]+):(\d{1,5})\/?$/.exec(via);
  if (tcp !== null) return connectTcpLockTransport(Number(tcp[2]), tcp[1]);
  if (/^mqtts?:\/\//.test(via)) return connectMqttLockTransport(parseMqttLockUrl(via));
  throw usage(`--via expects tcp://HOST:PORT or mqtt://HOST:PORT/DEVICE_ID, got ${via}`);
}

function parseTime(text: string | undefined, fallback: number, what: string): number {
  if (text === undefined) return fallback;
  const ms = /^\d+$/.test(text) ? Number(text) : Date.parse(text);
  if (!Number.isSafeInteger(ms) || ms < 0) throw usage(`${what}: an ISO time or ms since the epoch, got ${text}`);
  return ms;
}

function parsePermissions(text: string): number {
  const names = text.split(',').map((s) => s.trim()).filter((s) => s !== '');
  for (const n of names) if (!(DELEGABLE_COMMANDS as readonly string[]).includes(n)) throw usage(`--permissions: ${n} is not one of ${DELEGABLE_COMMANDS.join(',')}`);
  if (names.length === 0) throw usage('--permissions: at least one command');
  return permissionsOf(names as LockCommand[]);
}

function permissionNames(bits: number): string[] {
  return DELEGABLE_COMMANDS.filter((c) => (bits & (1 << (LOCK_COMMAND_CODES[c] - 1))) !== 0);
}

function keySetJson(ks: KeySet, extra: Record<string, unknown> = {}) {
  return {
    vidHash: hex(ks.vidHash), epoch: ks.epoch, issuedAt: new Date(ks.issuedAt).toISOString(),
    owner: { publicKey: hex(ks.ownerPublicKey), address: p2pkhAddress(ks.ownerPublicKey) }, lockPublicKey: hex(ks.lockPublicKey),
    delegates: ks.delegates.map((d) => ({ publicKey: hex(d.publicKey), from: new Date(d.notBefore).toISOString(), until: new Date(d.notAfter).toISOString(), permissions: permissionNames(d.permissions) })),
    revoked: ks.revoked.map(hex),
    ...extra,
  };
}

/** The outcome of a key-set change: printed, optionally written as a key-set file for `lock serve`. */
function reportPublished(p: PublishedKeySet, opts: { out?: string; json?: boolean }, extra: Record<string, unknown> = {}): void {
  if (opts.out !== undefined) writeFileSync(opts.out, `${JSON.stringify(p.file, null, 2)}\n`);
  const summary = { ...keySetJson(p.signed.keySet), txId: p.txId, height: p.height, ...(opts.out !== undefined ? { file: opts.out } : {}), ...extra };
  if (opts.json) print(JSON.stringify(summary, null, 2));
  else print(`key set epoch ${p.signed.keySet.epoch} committed at height ${p.height} (tx ${p.txId}); the lock takes it from the chain${opts.out !== undefined ? ` or from ${opts.out}` : ''}`);
}

interface CommandOpts {
  vehicle: string;
  via: string;
  keyFile?: string;
  lockKey?: string;
  timeout: string;
  json?: boolean;
}

async function runLockCommand(command: LockCommand, opts: CommandOpts, cmd: Command): Promise<void> {
  const g = cmd.optsWithGlobals<GlobalOptions>();
  const vidHash = vidHashOf(opts.vehicle);
  const timeoutMs = Number(opts.timeout);
  if (!Number.isInteger(timeoutMs) || timeoutMs < 100) throw usage('--timeout: ms ≥ 100');
  // Which lock key to trust, and the epoch the lock must at least run: from the chain when it can be reached.
  let lockPublicKey = opts.lockKey === undefined ? undefined : parsePublicKey(opts.lockKey, '--lock-key');
  let minEpoch: number | undefined;
  const chain = chainUrl(g, false);
  if (lockPublicKey === undefined) {
    if (chain === undefined) throw usage('no lock key: give --lock-key PUBKEY, or --chain URL to read it from the key set');
    const info = await currentChainKeySet(new ChainClient([chain]), vidHash);
    if (info === null) throw new CarchainError('NO_KEYSET', 'the vehicle has no key set on the chain');
    const ks = decodeKeySet(info.keySet).keySet;
    lockPublicKey = ks.lockPublicKey;
    minEpoch = ks.epoch;
  }
  const privateKey = opts.keyFile !== undefined ? readKeyFile(opts.keyFile) : ownerIdentity(await ownerRoot(g)).privateKey;
  const transport = await openLink(opts.via);
  let client: LockClient;
  try {
    client = await LockClient.connect(transport, { vidHash, lockPublicKey, privateKey, timeoutMs, ...(minEpoch !== undefined ? { minEpoch } : {}) });
  } catch (err) {
    await transport.close();
    throw err;
  }
  try {
    const r = await client.run(command);
    const state = decodeActuatorState(r.state);
    if (opts.json) print(JSON.stringify({ command, ok: true, epoch: client.epoch, state, as: p2pkhAddress(publicKeyFromPrivate(privateKey)) }));
    else print(`${command}: done (epoch ${client.epoch}; ${state.locked ? 'locked' : 'unlocked'}, engine ${state.engineOn ? 'on' : 'off'}, trunk ${state.trunkOpen ? 'open' : 'closed'})`);
  } finally {
    await client.close();
  }
}

export function registerWalletLockCommands(wallet: Command): void {
  for (const command of ['unlock', 'lock', 'start', 'stop', 'trunk'] as const) {
    wallet
      .command(command)
      .description(`${command} the car through its lock; exit 0 only when the lock confirmed`)
      .requiredOption('--vehicle <vid>', "the car's VIN")
      .requiredOption('--via <url>', 'tcp://HOST:PORT (local link) or mqtt://HOST:PORT/DEVICE_ID (relay)')
      .option('--key-file <file>', "a delegate's key file ({\"privateKey\": hex}) instead of the wallet's owner key")
      .option('--lock-key <pubkey>', "the lock's public key (default: from the key set on the chain)")
      .option('--timeout <ms>', 'wait this long for each answer', '10000')
      .option('--json', 'print JSON')
      .addHelpText('after', `\nExample:\n  $ carchain wallet --chain http://127.0.0.1:26657 ${command} --vehicle LBVNU79049SB81546 --via tcp://127.0.0.1:7420`)
      .action((opts: CommandOpts, cmd: Command) => runLockCommand(command, opts, cmd));
  }

  const keys = wallet.command('keys').description("the car lock's key set on the chain: owner, delegates, revocations");
  keys
    .command('init')
    .description('publish the first key set (epoch + 1, owner only) naming the lock key (`carchain lock pubkey`)')
    .requiredOption('--vehicle <vid>', "the car's VIN")
    .requiredOption('--lock-key <pubkey>', "the lock's public key")
    .option('--out <file>', 'also write the key set with its proof (for `lock serve` keySet.file)')
    .option('--json', 'print JSON')
    .addHelpText('after', '\nExample:\n  $ carchain wallet --chain http://127.0.0.1:26657 keys init --vehicle LBVNU79049SB81546 --lock-key 02…')
    .action(async (opts: { vehicle: string; lockKey: string; out?: string; json?: boolean }, cmd: Command) => {
      const lockKey = parsePublicKey(opts.lockKey, '--lock-key');
      reportPublished(await (await owner(cmd)).init(vidHashOf(opts.vehicle), lockKey), opts);
    });
  keys
    .command('add')
    .description('add a delegate key (or change its window and permissions) at epoch + 1')
    .requiredOption('--vehicle <vid>', "the car's VIN")
    .option('--key <pubkey>', "the delegate's public key")
    .option('--name <name>', 'create a new delegate key file instead (written to --key-out, default ./<name>.lock-key.json)')
    .option('--key-out <file>', 'where --name writes the new key file (mode 0600)')
    .requiredOption('--permissions <list>', `comma-separated: ${DELEGABLE_COMMANDS.join(',')}`)
    .option('--from <time>', 'start of the window (ISO time; default now)')
    .option('--until <time>', 'end of the window, exclusive (ISO time; default 24 h after --from)')
    .option('--out <file>', 'also write the key set with its proof')
    .option('--json', 'print JSON')
    .addHelpText('after', '\nExample:\n  $ carchain wallet --chain http://127.0.0.1:26657 keys add --vehicle LBVNU79049SB81546 --name alice --permissions unlock,lock --until 2026-12-01T00:00:00Z')
    .action(async (opts: { vehicle: string; key?: string; name?: string; keyOut?: string; permissions: string; from?: string; until?: string; out?: string; json?: boolean }, cmd: Command) => {
      if ((opts.key === undefined) === (opts.name === undefined)) throw usage('give exactly one of --key PUBKEY or --name NAME');
      const permissions = parsePermissions(opts.permissions);
      const notBefore = parseTime(opts.from, Date.now(), '--from');
      const notAfter = parseTime(opts.until, notBefore + 24 * 3600_000, '--until');
      if (notAfter <= notBefore) throw usage('--until must be after --from');
      let publicKey: Uint8Array;
      let keyFile: string | undefined;
      if (opts.key !== undefined) publicKey = parsePublicKey(opts.key, '--key');
      else {
        if (!/^[A-Za-z0-9_.-]{1,64}$/.test(opts.name!)) throw usage('--name: letters, digits, _ . -');
        keyFile = resolve(opts.keyOut ?? `${opts.name!}.lock-key.json`);
        if (existsSync(keyFile)) throw usage(`${keyFile} exists; choose another --key-out`);
        const privateKey = new Uint8Array(randomBytes(32));
        publicKey = publicKeyFromPrivate(privateKey);
        writeKeyFile(keyFile, privateKey);
      }
      const published = await (await owner(cmd)).addDelegate(vidHashOf(opts.vehicle), { publicKey, notBefore, notAfter, permissions });
      reportPublished(published, opts, { delegate: hex(publicKey), ...(keyFile !== undefined ? { keyFile } : {}) });
      if (!opts.json && keyFile !== undefined) print(`delegate key ${hex(publicKey)} in ${keyFile} (hand it to the delegate: \`wallet unlock --key-file\`)`);
    });
  keys
    .command('revoke')
    .description('revoke a delegate key at epoch + 1 (the lock refuses it with KEY_REVOKED once it has the set)')
    .requiredOption('--vehicle <vid>', "the car's VIN")
    .option('--key <pubkey>', "the delegate's public key")
    .option('--key-file <file>', "the delegate's key file")
    .option('--out <file>', 'also write the key set with its proof')
    .option('--json', 'print JSON')
    .addHelpText('after', '\nExample:\n  $ carchain wallet --chain http://127.0.0.1:26657 keys revoke --vehicle LBVNU79049SB81546 --key-file alice.lock-key.json')
    .action(async (opts: { vehicle: string; key?: string; keyFile?: string; out?: string; json?: boolean }, cmd: Command) => {
      if ((opts.key === undefined) === (opts.keyFile === undefined)) throw usage('give exactly one of --key PUBKEY or --key-file FILE');
      const publicKey = opts.key !== undefined ? parsePublicKey(opts.key, '--key') : publicKeyFromPrivate(readKeyFile(opts.keyFile!));
      reportPublished(await (await owner(cmd)).revoke(vidHashOf(opts.vehicle), publicKey), opts, { revokedKey: hex(publicKey) });
    });
  keys
    .command('list')
    .description('show the key set on the chain (no passphrase needed)')
    .requiredOption('--vehicle <vid>', "the car's VIN")
    .option('--json', 'print JSON')
    .addHelpText('after', '\nExample:\n  $ carchain wallet --chain http://127.0.0.1:26657 keys list --vehicle LBVNU79049SB81546 --json')
    .action(async (opts: { vehicle: string; json?: boolean }, cmd: Command) => {
      const client = new ChainClient([chainUrl(cmd.optsWithGlobals<GlobalOptions>(), true)]);
      const info = await currentChainKeySet(client, vidHashOf(opts.vehicle));
      if (info === null) throw new CarchainError('NO_KEYSET', `${opts.vehicle} has no key set on the chain`);
      const j = keySetJson(decodeKeySet(info.keySet).keySet, { height: info.height, staleAfterTransfer: info.staleAfterTransfer });
      if (opts.json) {
        print(JSON.stringify(j, null, 2));
        return;
      }
      print(`${opts.vehicle}: key set epoch ${j.epoch} (height ${info.height}${info.staleAfterTransfer ? ', STALE: published before the last transfer' : ''})`);
      print(`  owner     ${j.owner.address} ${j.owner.publicKey}`);
      print(`  lock      ${j.lockPublicKey}`);
      for (const d of j.delegates) print(`  delegate  ${d.publicKey} ${d.from} … ${d.until} ${d.permissions.join(',')}`);
      for (const r of j.revoked) print(`  revoked   ${r}`);
    });

  wallet
    .command('transfer-accept')
    .description("new owner: sign the acceptance of a car's transfer and the epoch + 1 key set naming this wallet; hand the file to the seller")
    .requiredOption('--vehicle <vid>', "the car's VIN")
    .requiredOption('--out <file>', 'the acceptance file (valid for about an hour)')
    .option('--json', 'print JSON')
    .addHelpText('after', '\nExample:\n  $ carchain wallet --wallet buyer.json --chain http://127.0.0.1:26657 transfer-accept --vehicle LBVNU79049SB81546 --out acceptance.json')
    .action(async (opts: { vehicle: string; out: string; json?: boolean }, cmd: Command) => {
      const o = await owner(cmd);
      const a = await o.acceptTransfer(vidHashOf(opts.vehicle));
      writeFileSync(opts.out, `${JSON.stringify(a, null, 2)}\n`);
      if (opts.json) print(JSON.stringify({ address: o.address, file: opts.out, expiresAt: new Date(a.expiresAt).toISOString() }));
      else print(`acceptance for ${opts.vehicle} by ${o.address} in ${opts.out} (until ${new Date(a.expiresAt).toISOString()}); the seller runs \`wallet transfer --to ${o.address} --acceptance ${opts.out}\``);
    });
  wallet
    .command('transfer')
    .description('current owner: transfer the car on the chain and publish the new owner\'s epoch + 1 key set (old keys refused once the lock has it)')
    .requiredOption('--vehicle <vid>', "the car's VIN")
    .requiredOption('--to <address>', "the new owner's address")
    .requiredOption('--acceptance <file>', 'the file from the new owner\'s `wallet transfer-accept`')
    .option('--out <file>', 'also write the new key set with its proof')
    .option('--json', 'print JSON')
    .addHelpText('after', '\nExample:\n  $ carchain wallet --chain http://127.0.0.1:26657 transfer --vehicle LBVNU79049SB81546 --to 1Buyer… --acceptance acceptance.json')
    .action(async (opts: { vehicle: string; to: string; acceptance: string; out?: string; json?: boolean }, cmd: Command) => {
      let acceptance: TransferAcceptance;
      try {
        acceptance = JSON.parse(readFileSync(opts.acceptance, 'utf8')) as TransferAcceptance;
      } catch (cause) {
        throw usage(`--acceptance ${opts.acceptance}: ${(cause as Error).message}`);
      }
      reportPublished(await (await owner(cmd)).transfer(vidHashOf(opts.vehicle), opts.to, acceptance), opts, { newOwner: opts.to });
    });
}
