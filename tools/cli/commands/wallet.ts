// `carchain wallet …`: the car owner's wallet — keystore, pairing, trips with maps, records, proofs — over tools/wallet/.
import { readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { parseGenesis } from '../../../gateway/chain/app/genesis.js';
import { ValidatorSet } from '../../../gateway/chain/consensus/validator-set.js';
import { LightClientError, verifyProof } from '../../../gateway/chain/light/light-client.js';
import type { ProofFile } from '../../../gateway/chain/light/proof-file.js';
import { CarchainError } from '../../../protocol/errors.js';
import { generateMnemonic } from '../../../protocol/hd-keys.js';
import { decodeRecord, recordFormat, recordId } from '../../../protocol/record.js';
import { utcDay } from '../../../protocol/pools.js';
import { DEFAULT_GATEWAY_URL, DEFAULT_POOL_SIZE, OwnerWallet, parseDay, type DayRange } from '../../wallet/owner-wallet.js';
import { renderTripHtml, renderTripSvg, tripCaption } from '../../wallet/trip-map.js';
import type { TripView } from '../../wallet/trip-view.js';
import type { RejectedRecord } from '../../wallet/verified-records.js';
import { registerWalletGrantCommands } from './wallet-grants.js';
import { registerWalletLockCommands } from './wallet-lock.js';
import { registerWalletUiCommand } from './wallet-ui.js';
import { registerWalletWriteGrantCommands } from './wallet-write-grants.js';
import { DEFAULT_WALLET_PATH, createWallet, readPassphrase, readWalletMeta, type WalletMeta } from '../../wallet/wallet-keystore.js';

interface GlobalOptions {
  wallet?: string;
  passphraseFile?: string;
  gateway?: string;
  chain?: string;
}

const usage = (message: string): CarchainError => new CarchainError('USAGE', message);
const out = (text: string): void => {
  process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
};
const json = (value: unknown) => out(JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v), 2));

function globals(cmd: Command): GlobalOptions & { walletPath: string } {
  const g = cmd.optsWithGlobals<GlobalOptions>();
  return { ...g, walletPath: resolve(g.wallet ?? DEFAULT_WALLET_PATH) };
}

function gatewayOf(g: GlobalOptions, meta: WalletMeta): string {
  return (g.gateway ?? meta.gatewayUrl ?? DEFAULT_GATEWAY_URL).replace(/\/$/, '');
}

function chainOf(g: GlobalOptions, meta: WalletMeta): string | undefined {
  return g.chain ?? meta.chainRpcUrl;
}

async function openWallet(cmd: Command): Promise<{ wallet: OwnerWallet; g: ReturnType<typeof globals> }> {
  const g = globals(cmd);
  readWalletMeta(g.walletPath); // KEYSTORE_MISSING / KEYSTORE_CORRUPT before asking for a passphrase
  const passphrase = await readPassphrase(g.passphraseFile !== undefined ? { passphraseFile: g.passphraseFile } : {});
  return { wallet: await OwnerWallet.open(g.walletPath, passphrase), g };
}

function intOption(raw: string | undefined, what: string, min: number, max: number): number | undefined {
  if (raw === undefined) return undefined;
  if (!/^\d+$/.test(raw) || Number(raw) < min || Number(raw) > max) throw usage(`${what} must be an integer in ${min}..${max}`);
  return Number(raw);
}

/** --from/--to as UTC days; by default the last `defaultDays` days up to today. */
function dayRange(opts: { from?: string; to?: string }, defaultDays: number): DayRange {
  const to = opts.to !== undefined ? parseDay(opts.to) : utcDay(Date.now());
  const from = opts.from !== undefined ? parseDay(opts.from) : opts.to !== undefined ? to : utcDay(Date.now() - (defaultDays - 1) * 86_400_000);
  return { from, to };
}

/** A progress line on stderr, only for a person watching a terminal. */
function progress(label: string): ((done: number, total: number) => void) | undefined {
  if (!process.stderr.isTTY) return undefined;
  return (done, total) => {
    process.stderr.write(`\r${label} ${done}/${total} addresses`);
    if (done === total) process.stderr.write('\n');
  };
}

function reportRejected(rejected: readonly RejectedRecord[]): void {
  for (const r of rejected) process.stderr.write(`carchain: record ${r.recordId} under ${r.address} REJECTED: ${r.reason}\n`);
  // Data was shown, but not all of it could be trusted: say so in the exit code.
  if (rejected.length > 0) process.exitCode = 1;
}

function inclusionText(t: TripView): string {
  const v = t.verification;
  if (!v) return '-';
  return v.inclusion === 'anchored' ? `anchored@${v.anchorHeight}` : v.inclusion;
}

function iso(ms: number): string {
  return Number.isFinite(ms) ? new Date(ms).toISOString().replace('T', ' ').slice(0, 19) : '-';
}

function tripSummary(t: TripView) {
  return {
    id: t.id, recordId: t.recordId, vid: t.vid, sessionId: t.sessionId, start: new Date(t.start).toISOString(), end: new Date(t.end).toISOString(),
    distanceM: Math.round(t.distanceM), durationS: Math.round(t.durationS), maxSpeedKmh: t.maxSpeedKmh, avgSpeedKmh: t.avgSpeedKmh,
    points: t.points.length, events: t.events.length, verification: t.verification,
  };
}

export function registerWallet(program: Command): void {
  const wallet = program
    .command('wallet')
    .description("the car owner's wallet: keys, paired dongles, verified and decrypted trips and records")
    .option('--wallet <file>', `wallet file (default ${DEFAULT_WALLET_PATH})`)
    .option('--passphrase-file <file>', 'read the passphrase from this file (else $CARCHAIN_WALLET_PASSPHRASE, else a prompt)')
    .option('--gateway <url>', `gateway API (default: the wallet's, else ${DEFAULT_GATEWAY_URL})`)
    .option('--chain <url>', "chain RPC for DeviceSetup/DeviceReset (default: the wallet's, if set)")
    // `carchain wallet records … | head` closes the pipe early: that is the reader's choice, not an error.
    .hook('preAction', () => {
      process.stdout.once('error', (err: NodeJS.ErrnoException) => {
        if (err.code === 'EPIPE') process.exit(0);
        throw err;
      });
    });

  wallet
    .command('init')
    .description('create a wallet: a new BIP39 mnemonic, shown once, encrypted under a passphrase')
    .option('--genesis <file>', 'remember a trusted genesis.json for `wallet verify`')
    .option('--json', 'print JSON (includes the mnemonic)')
    .addHelpText('after', '\nExample:\n  $ carchain wallet --wallet ~/.carchain/wallet.json --gateway http://127.0.0.1:8080 init\n  (write the 24 words down: they are the only way to restore the wallet and read old data)')
    .action(async (opts: { genesis?: string; json?: boolean }, cmd: Command) => {
      const g = globals(cmd);
      readWalletMetaAbsent(g.walletPath);
      const passphrase = await readPassphrase({ confirm: true, ...(g.passphraseFile !== undefined ? { passphraseFile: g.passphraseFile } : {}) });
      const mnemonic = generateMnemonic();
      const created = await createWallet(g.walletPath, { mnemonic, passphrase, meta: metaFromOptions(g, opts.genesis) });
      if (opts.json) return json({ wallet: g.walletPath, ownerAddress: created.meta.ownerAddress, mnemonic });
      out(`wallet ${g.walletPath}\nowner address ${created.meta.ownerAddress}\n\nmnemonic (shown only now; anyone with these words reads your car's data):\n\n  ${mnemonic}\n`);
    });

  wallet
    .command('restore')
    .description('recreate a wallet from its mnemonic: the same owner, RSA and pool keys, so every old record is readable again')
    .option('--mnemonic-file <file>', 'read the words from this file (else from standard input)')
    .option('--force', 'replace an existing wallet file')
    .option('--genesis <file>', 'remember a trusted genesis.json for `wallet verify`')
    .option('--json', 'print JSON')
    .addHelpText('after', '\nExample:\n  $ carchain wallet --wallet restored.json restore --mnemonic-file words.txt\n  $ carchain wallet --wallet restored.json pair … --vehicle 0 --pool-size 16   # re-pair: same pool, old days readable')
    .action(async (opts: { mnemonicFile?: string; force?: boolean; genesis?: string; json?: boolean }, cmd: Command) => {
      const g = globals(cmd);
      if (!opts.force) readWalletMetaAbsent(g.walletPath);
      let mnemonic: string;
      if (opts.mnemonicFile !== undefined) mnemonic = readFileSync(opts.mnemonicFile, 'utf8');
      else if (!process.stdin.isTTY) mnemonic = readFileSync(0, 'utf8');
      else throw usage('give --mnemonic-file FILE, or pipe the words on standard input');
      const passphrase = await readPassphrase({ confirm: true, ...(g.passphraseFile !== undefined ? { passphraseFile: g.passphraseFile } : {}) });
      const created = await createWallet(g.walletPath, { mnemonic, passphrase, overwrite: opts.force === true, meta: metaFromOptions(g, opts.genesis) });
      if (opts.json) return json({ wallet: g.walletPath, ownerAddress: created.meta.ownerAddress });
      out(`restored ${g.walletPath}: owner address ${created.meta.ownerAddress}\npair each dongle again with its old --vehicle index and --pool-size to read its old records`);
    });

  wallet
    .command('pair')
    .description("pair a dongle: setup (co-signed by owner and dongle) and setDup (this vehicle's address pool and authorisations)")
    .requiredOption('--url <url>', "the dongle's local pairing endpoint")
    .option('--code <code>', "the pairing code on the dongle's label (carchain-pair:v1:…); default: the one its local endpoint shows while unpaired")
    .requiredOption('--vid <vin>', 'the vehicle identification number')
    .option('--vehicle <n>', "this vehicle's index in the wallet (default: the VIN's existing one, else the next)")
    .option('--pool-size <n>', 'number of pool addresses', String(DEFAULT_POOL_SIZE))
    .option('--json', 'print JSON')
    .addHelpText('after', '\nExample:\n  $ carchain wallet pair --url http://127.0.0.1:8765 --code carchain-pair:v1:1Abc…:K7Q2M9XW4P --vid LBVNU79049SB81546\n  $ carchain wallet pair --url http://192.168.4.1:8765 --vid LBVNU79049SB81546   # on the dongle\'s own Wi-Fi: the code it shows')
    .action(async (opts: { url: string; code?: string; vid: string; vehicle?: string; poolSize: string; json?: boolean }, cmd: Command) => {
      const vehicleIndex = intOption(opts.vehicle, '--vehicle', 0, 0x7fffffff);
      const poolSize = intOption(opts.poolSize, '--pool-size', 1, 1024)!;
      const { wallet: w, g } = await openWallet(cmd);
      const chain = chainOf(g, w.meta);
      const url = opts.url.replace(/\/$/, '');
      const code = opts.code ?? (await pairingCodeShownAt(url));
      const result = await w.pair({ url, code, vid: opts.vid, poolSize, ...(vehicleIndex !== undefined ? { vehicleIndex } : {}), ...(chain !== undefined ? { chainRpcUrl: chain } : {}) });
      if (opts.json) return json({ ...result.device, authorised: result.authorised, setupTxId: result.setupTxId });
      out(`paired ${result.device.deviceId} to ${result.device.vid} (vehicle ${result.device.vehicleIndex}, ${result.device.poolSize} pool addresses, ${result.authorised} authorised)`);
      out(result.setupTxId ? `DeviceSetup committed on the chain: tx ${result.setupTxId}` : 'DeviceSetup not submitted (no --chain): the gateway accepts the records on the pool authorisations alone');
    });

  wallet
    .command('devices')
    .description('the dongles this wallet paired (no passphrase needed)')
    .option('--json', 'print JSON')
    .addHelpText('after', '\nExample:\n  $ carchain wallet devices --json')
    .action((opts: { json?: boolean }, cmd: Command) => {
      const meta = readWalletMeta(globals(cmd).walletPath);
      if (opts.json) return json(meta.devices);
      if (meta.devices.length === 0) return out('no paired devices');
      for (const d of meta.devices) {
        out(`${d.deviceId}  ${d.vid}  vehicle ${d.vehicleIndex}  pool ${d.poolSize}  paired ${iso(d.pairedAt)}${d.resetAt ? `  reset ${iso(d.resetAt)}` : ''}${d.setupTxId ? `  setup tx ${d.setupTxId.slice(0, 16)}…` : ''}`);
      }
    });

  wallet
    .command('reset')
    .description('reset a paired dongle: it forgets this owner (records already sealed to you are still sent and stay readable)')
    .requiredOption('--url <url>', "the dongle's local pairing endpoint")
    .option('--json', 'print JSON')
    .addHelpText('after', '\nExample:\n  $ carchain wallet reset --url http://127.0.0.1:8765')
    .action(async (opts: { url: string; json?: boolean }, cmd: Command) => {
      const { wallet: w, g } = await openWallet(cmd);
      const chain = chainOf(g, w.meta);
      const result = await w.reset(opts.url.replace(/\/$/, ''), chain !== undefined ? { chainRpcUrl: chain } : {});
      if (opts.json) return json(result);
      out(`reset ${result.deviceId} at ${iso(result.resetAt)}${result.resetTxId ? `; DeviceReset tx ${result.resetTxId}` : ''}`);
    });

  wallet
    .command('trips')
    .description("list trips: each day's pool address is derived, read with getKVRange, proofs checked, records decrypted")
    .option('--from <date>', 'first UTC day, YYYY-MM-DD (default: 7 days ago)')
    .option('--to <date>', 'last UTC day (default: today)')
    .option('--json', 'print JSON')
    .addHelpText('after', '\nExample:\n  $ carchain wallet trips --from 2026-11-01 --to 2026-11-22\n  $ carchain wallet --gateway http://127.0.0.1:8080 trips --json')
    .action(async (opts: { from?: string; to?: string; json?: boolean }, cmd: Command) => {
      const range = dayRange(opts, 7);
      const { wallet: w, g } = await openWallet(cmd);
      const listing = await w.listTrips(gatewayOf(g, w.meta), range, progress('reading'));
      if (opts.json) json({ from: range.from, to: range.to, trips: listing.trips.map(tripSummary), rejected: listing.rejected });
      else if (listing.trips.length === 0) out(`no trips between ${range.from} and ${range.to}`);
      else {
        out(`${'trip'.padEnd(26)} ${'start (UTC)'.padEnd(19)}  ${'distance'.padStart(9)}  ${'duration'.padStart(13)}  ${'max'.padStart(9)}  proof`);
        for (const t of listing.trips) {
          out(`${t.id.padEnd(26)} ${iso(t.start)}  ${(t.distanceM / 1000).toFixed(2).padStart(6)} km  ${String(Math.round(t.durationS)).padStart(11)} s  ${String(Math.round(t.maxSpeedKmh)).padStart(4)} km/h  ${inclusionText(t)}`);
        }
      }
      reportRejected(listing.rejected);
    });

  const trip = wallet.command('trip').description('one trip');
  trip
    .command('show')
    .description('print a trip and write it as a self-contained HTML map (offline SVG) and optionally a PNG')
    .argument('<id>', 'trip id as `wallet trips` prints it (vehicle-START_TIME-SESSION), or its record id')
    .option('--html <file>', 'write the HTML page here')
    .option('--png <file>', 'write a PNG of the map here')
    .option('--from <date>', 'for a record id: first UTC day to search (default: 30 days ago)')
    .option('--to <date>', 'for a record id: last UTC day to search (default: today)')
    .option('--json', 'print JSON (the whole track)')
    .addHelpText('after', '\nExample:\n  $ carchain wallet trip show 0-20261122071428-3 --html trip.html --png trip.png')
    .action(async (id: string, opts: { html?: string; png?: string; from?: string; to?: string; json?: boolean }, cmd: Command) => {
      const range = opts.from !== undefined || opts.to !== undefined ? dayRange(opts, 30) : undefined;
      const { wallet: w, g } = await openWallet(cmd);
      const t = await w.trip(gatewayOf(g, w.meta), id, range);
      if (opts.html !== undefined) writeFileSync(opts.html, renderTripHtml(t));
      if (opts.png !== undefined) {
        const { default: sharp } = await import('sharp');
        await sharp(Buffer.from(renderTripSvg(t, { standalone: true, width: 1200, height: 900 }))).png().toFile(opts.png);
      }
      if (opts.json) return json({ ...tripSummary(t), track: t.points.map((p, i) => ({ ...p, speedKmh: t.speeds[i] ?? null })), eventList: t.events, html: opts.html ?? null, png: opts.png ?? null });
      out(`trip ${t.id}  ${t.vid}  session ${t.sessionId}`);
      out(`  ${iso(t.start)} → ${iso(t.end)} UTC   ${tripCaption(t)}${t.avgSpeedKmh !== null ? `, avg ${Math.round(t.avgSpeedKmh)} km/h` : ''}`);
      out(`  ${t.points.length} GPS points, ${t.events.length} events${t.events.length ? `: ${t.events.map((e) => e.type).join(', ')}` : ''}`);
      out(`  record ${t.recordId}: origin signature ok, ${inclusionText(t)}`);
      if (opts.html !== undefined) out(`  map: ${opts.html}`);
      if (opts.png !== undefined) out(`  png: ${opts.png}`);
    });

  wallet
    .command('records')
    .description('records of one format on the days given, verified and decrypted, optionally only some columns')
    .requiredOption('--format <name>', 'format name (trip-gps, dtc, obd-snapshot, VIN_CODE, …)')
    .option('--from <date>', 'first UTC day (default: today)')
    .option('--to <date>', 'last UTC day (default: today)')
    .option('--columns <list>', 'comma-separated value columns to keep (e.g. VID,pids)')
    .option('--json', 'print JSON')
    .addHelpText('after', '\nExample:\n  $ carchain wallet records --format obd-snapshot --columns pids --json\n  $ carchain wallet records --format dtc --from 2026-11-01 --to 2026-11-22')
    .action(async (opts: { format: string; from?: string; to?: string; columns?: string; json?: boolean }, cmd: Command) => {
      const range = dayRange(opts, 1);
      const columns = opts.columns?.split(',').map((c) => c.trim()).filter((c) => c.length > 0);
      const { wallet: w, g } = await openWallet(cmd);
      const result = await w.records(gatewayOf(g, w.meta), range, { format: opts.format, ...(progress('reading') ? { onProgress: progress('reading')! } : {}) });
      const rows = result.records.map((r) => ({
        recordId: r.recordId, address: r.address, format: r.format, key: r.key,
        value: columns ? w.project(r, columns) : r.value, storedAt: r.storedAt, verification: r.verification,
      }));
      if (opts.json) json({ format: opts.format, from: range.from, to: range.to, records: rows, rejected: result.rejected });
      else {
        out(`${rows.length} ${opts.format} record(s) between ${range.from} and ${range.to}`);
        for (const r of rows) out(`${r.recordId.slice(0, 16)}  ${JSON.stringify(r.key, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))}  ${JSON.stringify(r.value)}  ${r.verification.inclusion}`);
      }
      reportRejected(result.rejected);
    });

  wallet
    .command('verify')
    .description("check a record's proof file offline: record → batch root → BatchAnchor → block headers → the trusted genesis")
    .argument('<file>', 'proof file, e.g. from GET /v1/records/<recordId>/proof-file')
    .option('--genesis <file>', "the trusted genesis.json (default: the wallet's, from init --genesis)")
    .option('--json', 'print JSON')
    .addHelpText('after', '\nExample:\n  $ curl -s http://127.0.0.1:8080/v1/records/<recordId>/proof-file > proof.json\n  $ carchain wallet verify proof.json --genesis ./localnet/genesis.json   # exit 0 only when valid')
    .action((file: string, opts: { genesis?: string; json?: boolean }, cmd: Command) => {
      const g = globals(cmd);
      let genesisFile = opts.genesis;
      if (genesisFile === undefined) {
        try {
          genesisFile = readWalletMeta(g.walletPath).genesisFile;
        } catch {
          // No wallet: the genesis must then be given.
        }
      }
      if (genesisFile === undefined) throw usage('give --genesis FILE (a trusted genesis.json), or create the wallet with --genesis');
      const genesis = parseGenesis(JSON.parse(readFileSync(genesisFile, 'utf8')));
      const validators = new ValidatorSet(genesis.validators.map((v) => ({ publicKey: Uint8Array.from(Buffer.from(v.publicKey, 'hex')), power: v.power })));
      let proof: ProofFile;
      try {
        proof = JSON.parse(readFileSync(file, 'utf8')) as ProofFile;
      } catch (cause) {
        throw new LightClientError('PROOF_MALFORMED', `${file}: ${(cause as Error).message}`, { cause });
      }
      if (proof?.kind !== 'record') throw new LightClientError('PROOF_MALFORMED', `${file} is not a record proof (kind ${JSON.stringify(proof?.kind)}); use \`carchain proof verify\` for transactions`);
      const v = verifyProof({ chainId: genesis.chainId, validators }, proof);
      const summary: Record<string, unknown> = {
        valid: true, recordId: proof.record?.recordId ?? null, leafHash: Buffer.from(v.batch!.leafHash).toString('hex'),
        batchId: v.batch!.batchId, batchRoot: Buffer.from(v.batch!.root).toString('hex'), leafIndex: v.batch!.leafIndex,
        anchorTxId: Buffer.from(v.tx.txId).toString('hex'), height: v.header.height, blockTime: v.header.time, chainId: genesis.chainId,
      };
      if (proof.record?.recordBytes !== undefined) {
        // With the record itself in the file, also say what it is and check the id it claims.
        const record = decodeRecord(Uint8Array.from(Buffer.from(proof.record.recordBytes, 'hex')));
        const id = Buffer.from(recordId(record.address, record.encodedKey)).toString('hex');
        if (proof.record.recordId !== undefined && proof.record.recordId !== id) throw new LightClientError('ANCHOR_MISMATCH', `the record's id is ${id}, the file claims ${proof.record.recordId}`);
        Object.assign(summary, { recordId: id, address: record.address, format: recordFormat(record) });
      }
      if (opts.json) return json(summary);
      out(`valid: record ${String(summary.recordId ?? summary.leafHash)} is leaf ${v.batch!.leafIndex} of batch ${v.batch!.batchId}, anchored in block ${v.header.height} (${new Date(v.header.time).toISOString()}) of ${genesis.chainId}`);
    });

  registerWalletGrantCommands(wallet);
  registerWalletLockCommands(wallet);
  registerWalletUiCommand(wallet);
  registerWalletWriteGrantCommands(wallet);
}

function readWalletMetaAbsent(path: string): void {
  let exists = true;
  try {
    readFileSync(path);
  } catch {
    exists = false;
  }
  if (exists) throw new CarchainError('KEYSTORE_EXISTS', `${path} already holds a wallet (restore --force replaces it)`);
}

function metaFromOptions(g: GlobalOptions, genesis: string | undefined): Partial<WalletMeta> {
  return {
    ...(g.gateway !== undefined ? { gatewayUrl: g.gateway.replace(/\/$/, '') } : {}),
    ...(g.chain !== undefined ? { chainRpcUrl: g.chain } : {}),
    ...(genesis !== undefined ? { genesisFile: resolve(genesis) } : {}),
  };
}

/**
 * The code an unpaired dongle shows on its local endpoint. Reaching that endpoint is the proof of
 * presence (the car's own Wi-Fi or a cable); a paired dongle shows none and must be reset first.
 */
async function pairingCodeShownAt(url: string): Promise<string> {
  let info: { pairingCode?: string | null; claimed?: boolean };
  try {
    info = (await (await fetch(`${url}/pairing`)).json()) as typeof info;
  } catch (cause) {
    throw new CarchainError('PAIRING_UNREACHABLE', `cannot read the pairing endpoint at ${url}: ${(cause as Error).message}`, { temporary: true, cause });
  }
  if (typeof info.pairingCode === 'string') return info.pairingCode;
  throw new CarchainError('PAIRING_ALREADY_CLAIMED', `the dongle at ${url} is already paired (it shows no code): reset it first, or pass --code`);
}
