// `carchain wallet grant|grants|revoke|shared`: share days of a car's records with someone, list and revoke grants, read what was shared with you.
//
// Thin over tools/wallet/grant-flow.ts. The owner's commands unlock the wallet (helper options of the
// `wallet` command: --wallet, --passphrase-file, --gateway, --chain); `shared` is for the grantee and
// needs no wallet, only the grant id and the grantee's RSA private key.
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { ChainClient } from '../../../gateway/chain/client/chain-client.js';
import { isAddress } from '../../../protocol/address.js';
import { CarchainError } from '../../../protocol/errors.js';
import { createGrant, listGrants, readShared, revokeGrant } from '../../wallet/grant-flow.js';
import { DEFAULT_WALLET_PATH, readPassphrase, unlockWallet, type UnlockedWallet } from '../../wallet/wallet-keystore.js';

const DEFAULT_GATEWAY = 'http://127.0.0.1:8080';
const DEFAULT_CHAIN = 'http://127.0.0.1:26657';

interface WalletGlobals {
  wallet?: string;
  passphraseFile?: string;
  gateway?: string;
  chain?: string;
}

const usage = (message: string): CarchainError => new CarchainError('USAGE', message);

/** YYYY-MM-DD or YYYYMMDD → the YYYYMMDD number. */
export function parseDayOption(text: string, what: string): number {
  const compact = text.replaceAll('-', '');
  const m = /^(\d{4})(\d{2})(\d{2})$/.exec(compact);
  const ok = m !== null && (() => {
    const d = new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])));
    return d.getUTCFullYear() === Number(m[1]) && d.getUTCMonth() === Number(m[2]) - 1 && d.getUTCDate() === Number(m[3]);
  })();
  if (!ok) throw usage(`${what}: ${JSON.stringify(text)} is not a date (YYYY-MM-DD)`);
  return Number(compact);
}

function readFileOption(path: string, what: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (cause) {
    throw usage(`${what}: cannot read ${path}: ${(cause as Error).message}`);
  }
}

async function openWallet(g: WalletGlobals): Promise<UnlockedWallet> {
  const passphrase = await readPassphrase(g.passphraseFile === undefined ? {} : { passphraseFile: g.passphraseFile });
  return unlockWallet(g.wallet ?? DEFAULT_WALLET_PATH, passphrase);
}

const gatewayOf = (g: WalletGlobals, w?: UnlockedWallet) => g.gateway ?? w?.meta.gatewayUrl ?? DEFAULT_GATEWAY;
const chainOf = (g: WalletGlobals, w?: UnlockedWallet) => new ChainClient([g.chain ?? w?.meta.chainRpcUrl ?? DEFAULT_CHAIN]);
const print = (value: unknown): void => void process.stdout.write(`${JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v instanceof Uint8Array ? Buffer.from(v).toString('hex') : v), 2)}\n`);

/** `--to` names both the grantee and the last day (issue 8's spelling): each value is told apart by its shape. */
function collectTo(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

export function registerWalletGrantCommands(wallet: Command): void {
  wallet
    .command('grant')
    .description("share days of a vehicle's records with a grantee: a Grant on the chain, then the record keys re-wrapped to the grantee on the gateway")
    .requiredOption('--to <address|date>', 'the grantee\'s address, and (again) the last day YYYY-MM-DD', collectTo)
    .requiredOption('--rsa <file>', "the grantee's RSA public key (SPKI PEM)")
    .requiredOption('--from <date>', 'first day, YYYY-MM-DD (UTC)')
    .option('--until <date>', 'last day, instead of a second --to')
    .requiredOption('--formats <list>', 'comma-separated format names, e.g. trip-gps,dtc')
    .option('--resell', 'the grantee may pass the data on (recorded on the chain for wallets and gateways to honour)')
    .option('--expires <date>', 'the grant ends at the start of this UTC day (default: never)')
    .option('--vehicle <index>', "which of the wallet's vehicles (default: the first paired device's)")
    .option('--pool-size <n>', 'its pool size (default: from the paired device)')
    .option('--json', 'print JSON')
    .addHelpText('after', [
      '',
      'Example:',
      '  $ carchain wallet grant --to 1BoatSLRHtKNngkdXEeobR76b53LETtpyT --rsa insurer.pem \\',
      '      --from 2026-11-01 --to 2026-11-30 --formats trip-gps,dtc --expires 2027-01-01',
    ].join('\n'))
    .action(async (opts: { to: string[]; rsa: string; from: string; until?: string; formats: string; resell?: boolean; expires?: string; vehicle?: string; poolSize?: string; json?: boolean }, cmd: Command) => {
      const g = cmd.optsWithGlobals<WalletGlobals>();
      const grantees = opts.to.filter((v) => isAddress(v));
      const dates = opts.to.filter((v) => !isAddress(v));
      if (grantees.length !== 1) throw usage('--to: give the grantee\'s address exactly once');
      if (dates.length + (opts.until === undefined ? 0 : 1) !== 1) throw usage('the last day: give it once, as a second --to DATE or as --until DATE');
      const toDay = parseDayOption(opts.until ?? dates[0]!, '--to');
      const fromDay = parseDayOption(opts.from, '--from');
      const formats = opts.formats.split(',').map((f) => f.trim()).filter((f) => f.length > 0);
      if (formats.length === 0) throw usage('--formats: at least one format');
      const expiresAt = opts.expires === undefined ? 0 : (() => {
        const d = parseDayOption(opts.expires, '--expires');
        return Date.UTC(Math.floor(d / 10000), (Math.floor(d / 100) % 100) - 1, d % 100);
      })();
      const rsaPem = readFileOption(opts.rsa, '--rsa');
      const w = await openWallet(g);
      const device = opts.vehicle === undefined ? w.meta.devices[0] : w.meta.devices.find((d) => d.vehicleIndex === Number(opts.vehicle));
      const index = opts.vehicle === undefined ? device?.vehicleIndex : Number(opts.vehicle);
      const poolSize = opts.poolSize === undefined ? device?.poolSize : Number(opts.poolSize);
      if (index === undefined || poolSize === undefined || !Number.isInteger(index) || index < 0 || !Number.isInteger(poolSize) || poolSize < 1) {
        throw usage('no paired device in this wallet: give --vehicle INDEX and --pool-size N');
      }
      const created = await createGrant(
        { root: w.root, vehicle: { index, poolSize }, grantee: grantees[0]!, granteeRsaPublicKeyPem: rsaPem, fromDay, toDay, formats, resell: opts.resell === true, expiresAt },
        { gatewayUrl: gatewayOf(g, w), chain: chainOf(g, w), progress: opts.json ? undefined : (done, total) => process.stderr.write(`\rwrapped keys stored ${done}/${total}`) },
      );
      if (!opts.json && created.records > 0) process.stderr.write('\n');
      if (opts.json) print(created);
      else process.stdout.write(`grant ${created.grantId} committed at height ${created.height ?? '?'}: ${created.records} record(s) shared from ${created.addresses} pool address(es)\n`);
    });

  wallet
    .command('grants')
    .description('the grants this wallet made, from the chain (revoked and expired ones marked)')
    .option('--json', 'print JSON')
    .addHelpText('after', '\nExample:\n  $ carchain wallet grants --json')
    .action(async (opts: { json?: boolean }, cmd: Command) => {
      const g = cmd.optsWithGlobals<WalletGlobals>();
      const w = await openWallet(g);
      const grants = await listGrants(w.root, chainOf(g, w));
      if (opts.json) return print(grants);
      if (grants.length === 0) process.stdout.write('no grants\n');
      for (const x of grants) {
        const state = x.revokedAt !== 0 ? `revoked at ${x.revokedAt}` : x.active ? 'active' : 'expired';
        process.stdout.write(`${x.grantId}  ${x.grantee}  ${x.fromDay}..${x.toDay}  ${x.formats.join(',')}  ${state}${x.resell ? '  resell' : ''}\n`);
      }
    });

  wallet
    .command('revoke')
    .description('revoke one of this wallet\'s grants (the gateway refuses its keys from then on)')
    .argument('<grantId>', 'the grant id (64 hex digits, from `wallet grants`)')
    .option('--json', 'print JSON')
    .addHelpText('after', '\nExample:\n  $ carchain wallet revoke 3f9c…e1 --json')
    .action(async (grantId: string, opts: { json?: boolean }, cmd: Command) => {
      const g = cmd.optsWithGlobals<WalletGlobals>();
      const w = await openWallet(g);
      const revoked = await revokeGrant(w.root, grantId, chainOf(g, w));
      if (opts.json) print(revoked);
      else process.stdout.write(`grant ${grantId} revoked at height ${revoked.height ?? '?'}\n`);
    });

  wallet
    .command('shared')
    .description('grantee: read and decrypt what was shared with you under a grant (no wallet needed)')
    .requiredOption('--grant <id>', 'the grant id')
    .requiredOption('--key <file>', 'your RSA private key (PEM)')
    .option('--json', 'print JSON')
    .addHelpText('after', '\nExample:\n  $ carchain wallet shared --grant 3f9c…e1 --key insurer-private.pem --gateway http://127.0.0.1:8080 --json')
    .action(async (opts: { grant: string; key: string; json?: boolean }, cmd: Command) => {
      const g = cmd.optsWithGlobals<WalletGlobals>();
      const records = await readShared({ grantId: opts.grant, granteeRsaPrivateKeyPem: readFileOption(opts.key, '--key') }, gatewayOf(g));
      if (opts.json) return print({ grantId: opts.grant, records });
      process.stdout.write(`${records.length} shared record(s)\n`);
      for (const r of records) {
        const key = Object.entries(r.key).map(([k, v]) => `${k}=${String(v)}`).join(' ');
        process.stdout.write(`${r.format}  ${key}  ${JSON.stringify(r.value, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))}\n`);
      }
    });
}
