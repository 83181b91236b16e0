// `carchain shop identity|grants|maintenance add`: a repair shop's side of WriteGrants on its CAIT terminal.
//
// Thin over firmware/cait/shop-terminal.ts. Every command reads the terminal's config (the same file
// `carchain cait run` uses): keystore and grant cache in terminal.dataDir, chain RPC, broker.
import type { Command } from 'commander';
import { loadCaitConfig } from '../../../firmware/cait/cait-config.js';
import { addMaintenanceJob, openShopTerminal, syncTerminal } from '../../../firmware/cait/shop-terminal.js';
import { jsonLogger } from '../../../firmware/runtime/json-log.js';
import { CarchainError } from '../../../protocol/errors.js';

const usage = (message: string): CarchainError => new CarchainError('USAGE', message);
const print = (value: unknown): void => void process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

export function registerShop(program: Command): void {
  const shop = program.command('shop').description('repair shop: its identity, the WriteGrants naming it, maintenance jobs');

  shop
    .command('identity')
    .description('the shop key owners name in a WriteGrant, and the address its records are filed under')
    .requiredOption('--config <file>', 'the terminal config (YAML)')
    .option('--json', 'print JSON')
    .addHelpText('after', '\nExample:\n  carchain shop identity --config /etc/carchain/cait.yaml --json\n')
    .action((opts: { config: string; json?: boolean }) => {
      const t = openShopTerminal(loadCaitConfig(opts.config));
      const out = { address: t.identity.address, publicKey: hex(t.identity.publicKey) };
      t.close();
      if (opts.json) print(out);
      else process.stdout.write(`shop address     ${out.address}\nshop public key  ${out.publicKey}\n`);
    });

  shop
    .command('grants')
    .description('sync the WriteGrants naming this shop from the chain, import owner tickets, and list them (no plates: grants only hold keyed hashes)')
    .requiredOption('--config <file>', 'the terminal config (YAML)')
    .option('--json', 'print JSON')
    .addHelpText('after', '\nExample:\n  carchain shop grants --config /etc/carchain/cait.yaml --json\n')
    .action(async (opts: { config: string; json?: boolean }) => {
      const t = openShopTerminal(loadCaitConfig(opts.config));
      try {
        const now = Date.now();
        const sync = await syncTerminal(t, now);
        const grants = t.store.list().map((g) => ({
          id: g.id, vidHash: hex(g.vidHash), formats: g.formats, expiresAt: g.expiresAt, revokedAt: g.revokedAt, ownerCurrent: g.ownerCurrent,
          usable: g.revokedAt === 0 && (g.expiresAt === 0 || g.expiresAt > now) && g.ownerCurrent, ticket: g.ticket !== undefined,
        }));
        if (opts.json) print({ ...sync, list: grants });
        else {
          process.stdout.write(`${sync.grants} write grants (${sync.usable} usable)${sync.fresh ? '' : ' — chain unreachable, cached'}\n`);
          for (const g of grants) process.stdout.write(`${g.id}  ${g.usable ? 'usable ' : 'ended  '}  ${g.ticket ? 'ticket' : 'no ticket'}  ${g.formats.join(',')}\n`);
          for (const f of sync.tickets.failed) process.stdout.write(`ticket ${f.file}: ${f.code} ${f.message}\n`);
        }
      } finally {
        t.close();
      }
    });

  const maintenance = shop.command('maintenance').description('maintenance jobs for cars whose owners granted this shop');
  maintenance
    .command('add')
    .description('seal a maintenance job to the owner, commit it to the outbox and send it; refused (NOT_AUTHORISED) when no active WriteGrant covers the plate')
    .requiredOption('--config <file>', 'the terminal config (YAML)')
    .requiredOption('--plate <text>', 'the car\'s plate as printed, e.g. 皖A·12345')
    .requiredOption('--mileage <km>', 'odometer reading in km')
    .requiredOption('--work <text>', 'what was done')
    .option('--parts <list>', 'comma-separated parts, e.g. oil-filter,brake-pads')
    .option('--technician <name>', 'who did the work')
    .option('--json', 'print JSON: {recordId, address, writeGrantId, jobId, delivered, waiting}')
    .addHelpText('after', [
      '', 'Exit status: 0 delivered (PUBACK), 1 refused (NOT_AUTHORISED, NO_TICKET, FORMAT_NOT_GRANTED, JOB_INVALID),',
      '75 committed but not delivered yet (sent by the next run), 2 usage.', '',
      'Example:', '  carchain shop maintenance add --config /etc/carchain/cait.yaml --plate 皖A·12345 --mileage 84210 --work "oil change" --parts oil-filter,oil-5w30 --json', '',
    ].join('\n'))
    .action(async (opts: { config: string; plate: string; mileage: string; work: string; parts?: string; technician?: string; json?: boolean }) => {
      const mileageKm = Number(opts.mileage);
      if (opts.mileage.trim() === '' || !Number.isFinite(mileageKm) || mileageKm < 0) throw usage(`--mileage: ${JSON.stringify(opts.mileage)} is not a number of km`);
      const parts = opts.parts === undefined ? undefined : opts.parts.split(',').map((p) => p.trim()).filter((p) => p !== '');
      const config = loadCaitConfig(opts.config);
      const log = jsonLogger('warn', 'shop', (line) => process.stderr.write(line));
      const result = await addMaintenanceJob(config, {
        plate: opts.plate, mileageKm, work: opts.work, ...(parts ? { parts } : {}), ...(opts.technician !== undefined ? { technician: opts.technician } : {}),
      }, log);
      if (opts.json) print(result);
      else process.stdout.write(`maintenance record ${result.recordId} under ${result.address} (write grant ${result.writeGrantId}): ${result.delivered ? 'delivered' : `committed, ${result.waiting} waiting for the broker`}\n`);
      if (!result.delivered) process.exitCode = 75;
    });
}
