// `carchain wallet write-grant|write-revoke|maintenance|sightings`: the owner authorises a repair shop for one car and plate, and reads what shops wrote.
//
// Thin over tools/wallet/write-grant-flow.ts and maintenance-records.ts; uses the `wallet` command's
// globals (--wallet, --passphrase-file, --gateway, --chain).
import { writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { ChainClient } from '../../../gateway/chain/client/chain-client.js';
import { builtinFormatDictionary } from '../../../protocol/builtin-formats.js';
import { CarchainError } from '../../../protocol/errors.js';
import { ownerIdentity, ownerRsaKeyPair } from '../../../protocol/owner-keys.js';
import { maintenanceRecords, sightingRecords, type MaintenanceQuery } from '../../wallet/maintenance-records.js';
import { DEFAULT_WALLET_PATH, readPassphrase, unlockWallet, type UnlockedWallet } from '../../wallet/wallet-keystore.js';
import { issueWriteGrant, revokeWriteGrant } from '../../wallet/write-grant-flow.js';

interface WalletGlobals {
  wallet?: string;
  passphraseFile?: string;
  gateway?: string;
  chain?: string;
}

const usage = (message: string): CarchainError => new CarchainError('USAGE', message);
const print = (value: unknown): void => void process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);

async function openWallet(g: WalletGlobals): Promise<UnlockedWallet> {
  const passphrase = await readPassphrase(g.passphraseFile === undefined ? {} : { passphraseFile: g.passphraseFile });
  return unlockWallet(g.wallet ?? DEFAULT_WALLET_PATH, passphrase);
}

function chainOf(g: WalletGlobals, w: UnlockedWallet): ChainClient {
  const url = g.chain ?? w.meta.chainRpcUrl;
  if (url === undefined) throw usage('no chain RPC: pass --chain URL');
  return new ChainClient([url]);
}

async function shopRecordQuery(g: WalletGlobals): Promise<MaintenanceQuery & { ownerPrivateKey: Uint8Array }> {
  const w = await openWallet(g);
  const gatewayUrl = g.gateway ?? w.meta.gatewayUrl;
  if (gatewayUrl === undefined) throw usage('no gateway: pass --gateway URL');
  return {
    gatewayUrl, chain: chainOf(g, w), ownerAddress: w.meta.ownerAddress, vids: w.meta.devices.map((d) => d.vid),
    formats: builtinFormatDictionary(), rsaPrivateKey: ownerRsaKeyPair(w.root).privateKey, ownerPrivateKey: ownerIdentity(w.root).privateKey,
  };
}

/** A built-in TIME key (UTC YYYYMMDDhhmmss) as ISO 8601. */
function timeKeyIso(t: unknown): string {
  const s = String(t);
  return /^\d{14}$/.test(s) ? `${s.slice(0, 4)}-${s.slice(4, 6)}-${s.slice(6, 8)}T${s.slice(8, 10)}:${s.slice(10, 12)}:${s.slice(12, 14)}Z` : s;
}

export function registerWalletWriteGrantCommands(wallet: Command): void {
  wallet
    .command('write-grant')
    .description('let a repair shop recognise one of your cars by its plate and write maintenance records for it (a WriteGrant on the chain + a ticket file for the shop)')
    .requiredOption('--shop <pubkey>', "the shop's public key (`carchain shop identity` on its terminal)")
    .requiredOption('--plate <text>', "the car's plate as printed")
    .requiredOption('--ticket <file>', 'write the ticket for the shop here (VIN + your RSA public key; hand it to the shop)')
    .option('--vid <vin>', "which car (default: the wallet's first paired car)")
    .option('--formats <list>', 'comma-separated formats the shop may write', 'maintenance')
    .option('--expires <date>', 'the grant ends at the start of this UTC day, YYYY-MM-DD (default: never)')
    .option('--json', 'print JSON')
    .addHelpText('after', '\nExample:\n  carchain wallet write-grant --shop 02ab…(66 hex) --plate 浙D·137ET --ticket shop-ticket.json --expires 2027-12-31\n')
    .action(async (opts: { shop: string; plate: string; ticket: string; vid?: string; formats: string; expires?: string; json?: boolean }, cmd: Command) => {
      const g = cmd.optsWithGlobals<WalletGlobals>();
      if (!/^0[23][0-9a-f]{64}$/i.test(opts.shop)) throw usage('--shop: a compressed public key, 66 hex digits');
      let expiresAt = 0;
      if (opts.expires !== undefined) {
        expiresAt = Date.parse(`${opts.expires}T00:00:00Z`);
        if (!/^\d{4}-\d{2}-\d{2}$/.test(opts.expires) || !Number.isFinite(expiresAt)) throw usage(`--expires: ${JSON.stringify(opts.expires)} is not YYYY-MM-DD`);
      }
      const w = await openWallet(g);
      const vid = opts.vid ?? w.meta.devices[0]?.vid;
      if (vid === undefined) throw usage('no paired car in this wallet: give --vid VIN');
      const formats = opts.formats.split(',').map((f) => f.trim()).filter((f) => f !== '');
      const result = await issueWriteGrant({
        root: w.root, ownerRsaPublicKey: ownerRsaKeyPair(w.root).publicKey, vid, plate: opts.plate,
        shopPublicKey: Uint8Array.from(Buffer.from(opts.shop, 'hex')), formats, expiresAt, chain: chainOf(g, w),
      });
      writeFileSync(opts.ticket, `${JSON.stringify(result.ticket, null, 2)}\n`, { mode: 0o600 });
      if (opts.json) print({ writeGrantId: result.writeGrantId, height: result.height, ticket: opts.ticket });
      else process.stdout.write(`write grant ${result.writeGrantId} committed; give ${opts.ticket} to the shop (its terminal.ticketsDir)\n`);
    });

  wallet
    .command('write-revoke')
    .description('revoke a WriteGrant: the shop stops recognising the car and may write no more')
    .argument('<id>', 'the write grant id (64 hex)')
    .option('--json', 'print JSON')
    .addHelpText('after', '\nExample:\n  carchain wallet write-revoke 4b16e751…(64 hex)\n')
    .action(async (id: string, opts: { json?: boolean }, cmd: Command) => {
      if (!/^[0-9a-f]{64}$/.test(id)) throw usage('<id>: 64 lowercase hex digits');
      const g = cmd.optsWithGlobals<WalletGlobals>();
      const w = await openWallet(g);
      const r = await revokeWriteGrant(w.root, id, chainOf(g, w));
      if (opts.json) print({ writeGrantId: id, revokeTxId: r.txId });
      else process.stdout.write(`write grant ${id} revoked (tx ${r.txId})\n`);
    });

  wallet
    .command('maintenance')
    .description('maintenance records repair shops wrote for your cars under your write grants, verified and decrypted')
    .option('--json', 'print JSON: {records, rejected, shops}')
    .addHelpText('after', '\nExample:\n  carchain wallet maintenance --json\n')
    .action(async (opts: { json?: boolean }, cmd: Command) => {
      const result = await maintenanceRecords(await shopRecordQuery(cmd.optsWithGlobals<WalletGlobals>()));
      if (opts.json) {
        print(result);
        return;
      }
      for (const r of result.records) {
        const v = r.value as { mileage_km: number; work: string; parts?: string[] };
        process.stdout.write(`${new Date(r.storedAt).toISOString()}  ${r.vid}  ${v.mileage_km} km  ${v.work}${v.parts ? ` (${v.parts.join(', ')})` : ''}  shop ${r.shopAddress}\n`);
      }
      for (const r of result.rejected) process.stdout.write(`rejected ${r.recordId}: ${r.reason}\n`);
      if (result.records.length === 0 && result.rejected.length === 0) process.stdout.write('no maintenance records\n');
    });

  wallet
    .command('sightings')
    .description('sightings of your cars that CAIT terminals reported under write grants listing plate-sighting, verified and decrypted')
    .option('--json', 'print JSON: {records, rejected, shops}')
    .addHelpText('after', [
      '', 'A shop reports a sighting only when your write grant lists the plate-sighting format', '(`carchain wallet write-grant … --formats maintenance,plate-sighting`).', '',
      'Example:', '  carchain wallet sightings --json', '',
    ].join('\n'))
    .action(async (opts: { json?: boolean }, cmd: Command) => {
      const result = await sightingRecords(await shopRecordQuery(cmd.optsWithGlobals<WalletGlobals>()));
      if (opts.json) {
        print(result);
        return;
      }
      for (const r of result.records) {
        const v = r.value as { plate: string; confidence: number };
        process.stdout.write(`${timeKeyIso(r.key.TIME)}  ${r.vid}  ${v.plate}  ${v.confidence.toFixed(2)}  shop ${r.shopAddress}\n`);
      }
      for (const r of result.rejected) process.stdout.write(`rejected ${r.recordId}: ${r.reason}\n`);
      if (result.records.length === 0 && result.rejected.length === 0) process.stdout.write('no sightings\n');
    });
}
