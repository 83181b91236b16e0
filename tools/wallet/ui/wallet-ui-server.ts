// The owner's trip viewer server (`carchain wallet ui`): the page's static files and a small JSON API over an OwnerWallet unlocked in this process, on 127.0.0.1 only.
//
// The private keys stay here: the page sends the passphrase once (POST /api/unlock), gets a session
// cookie, and from then on asks for trips, records and grants, which this server reads from the
// gateway and chain, verifies and decrypts. Lock drops the unlocked wallet.
import type { AddressInfo } from 'node:net';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { loadPageAssets, PAGE_CONTENT_SECURITY_POLICY, type PageAsset } from '../../../gateway/api/static-page.js';
import { ChainClient } from '../../../gateway/chain/client/chain-client.js';
import { isAddress } from '../../../protocol/address.js';
import { CarchainError } from '../../../protocol/errors.js';
import { utcDay } from '../../../protocol/pools.js';
import { createGrant, listGrants, revokeGrant } from '../grant-flow.js';
import { maintenanceRecords } from '../maintenance-records.js';
import { OwnerWallet, parseDay, recordDay, type DayRange } from '../owner-wallet.js';
import { formatDistance, formatDuration, renderTripSvg } from '../trip-map.js';
import type { TripView } from '../trip-view.js';
import type { VerifiedRecord } from '../verified-records.js';
import { readWalletMeta } from '../wallet-keystore.js';
import { refuseForeign, UiSession } from './ui-guard.js';

export type WalletUiErrorCode = 'UI_HOST_REFUSED' | 'LOCKED' | 'UNLOCK_BUSY' | 'CHAIN_UNKNOWN' | 'BAD_REQUEST';
export class WalletUiError extends CarchainError<WalletUiErrorCode> {}

export const UI_HOST = '127.0.0.1';

export interface WalletUiOptions {
  walletPath: string;
  gatewayUrl: string;
  /** Chain RPC for grants; without one the grant panel says so. */
  chainRpcUrl?: string;
  /** Only 127.0.0.1 is accepted: anything else is refused before listening. */
  host?: string;
  /** Default 0: the OS picks a free port. */
  port?: number;
}

export interface WalletUiHandle {
  url: string;
  port: number;
  /** True while an unlocked wallet is held (for tests and the CLI's status line). */
  unlocked(): boolean;
  stop(): Promise<void>;
}

const ASSETS = {
  'index.html': 'text/html; charset=utf-8',
  'viewer.js': 'text/javascript; charset=utf-8',
  'viewer.css': 'text/css; charset=utf-8',
} as const;

/** Next to this module; from dist/ (where `npm run build` copies page/) or the checkout. */
function loadAssets(): Map<string, PageAsset> {
  const assets = loadPageAssets([new URL('./page/', import.meta.url), new URL('../../../../tools/wallet/ui/page/', import.meta.url)], ASSETS);
  if (assets === null) throw new WalletUiError('BAD_REQUEST', 'the trip viewer page (tools/wallet/ui/page/) is not installed next to the server');
  return assets;
}

/** JSON-safe copy: bigints (large CBOR integers) as strings, byte arrays as hex. */
function plain(value: unknown): unknown {
  return JSON.parse(JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v instanceof Uint8Array ? Buffer.from(v).toString('hex') : v))) as unknown;
}

function tripSummary(t: TripView) {
  return {
    id: t.id, recordId: t.recordId, vehicleIndex: t.vehicleIndex, vid: t.vid, day: Number.isFinite(t.start) ? utcDay(t.start) : null,
    start: t.start, end: t.end, distanceM: t.distanceM, durationS: t.durationS, maxSpeedKmh: t.maxSpeedKmh, avgSpeedKmh: t.avgSpeedKmh,
    points: t.points.length, events: t.events.length,
    text: { distance: formatDistance(t.distanceM), duration: formatDuration(t.durationS), maxSpeed: `${Math.round(t.maxSpeedKmh)} km/h` },
    inclusion: t.verification ? (t.verification.inclusion === 'anchored' ? `anchored at height ${t.verification.anchorHeight}` : t.verification.inclusion) : 'not verified',
  };
}

function recordSummary(r: VerifiedRecord) {
  return plain({ recordId: r.recordId, format: r.format, key: r.key, value: r.value, storedAt: r.storedAt, inclusion: r.verification.inclusion });
}

const NOT_FOUND = new Set(['TRIP_NOT_FOUND']);
const CLIENT = new Set(['USAGE', 'BAD_REQUEST', 'BAD_GRANT', 'KEY_INVALID', 'FORMAT_UNKNOWN', 'RANGE_TOO_LONG', 'NO_DEVICES', 'GRANT_REFUSED']);

function statusOf(err: CarchainError<string>): number {
  if (err.code === 'WRONG_PASSPHRASE' || err.code === 'LOCKED') return 401;
  if (NOT_FOUND.has(err.code)) return 404;
  if (err.code === 'CHAIN_UNKNOWN') return 503;
  if (CLIENT.has(err.code)) return 400;
  if (err.temporary) return 503;
  return 502;
}

const str = (v: unknown, what: string): string => {
  if (typeof v !== 'string' || v.length === 0) throw new WalletUiError('BAD_REQUEST', `${what} is required`);
  return v;
};

export async function startWalletUi(o: WalletUiOptions): Promise<WalletUiHandle> {
  const host = o.host ?? UI_HOST;
  if (host !== UI_HOST) {
    throw new WalletUiError('UI_HOST_REFUSED', `the trip viewer listens on ${UI_HOST} only (asked for ${host}): it holds your unlocked keys and must not be reachable from another machine`);
  }
  readWalletMeta(o.walletPath); // KEYSTORE_MISSING / KEYSTORE_CORRUPT now, not at the first unlock
  const assets = loadAssets();
  const gatewayUrl = o.gatewayUrl.replace(/\/$/, '');
  const chain = o.chainRpcUrl === undefined ? null : new ChainClient([o.chainRpcUrl]);
  let wallet: OwnerWallet | null = null;
  let unlocking = false;
  let port = 0;
  let session: UiSession | null = null;

  const app: FastifyInstance = Fastify({ logger: false, bodyLimit: 64 * 1024 });

  app.addHook('onRequest', async (req, reply) => {
    const refusal = refuseForeign({
      method: req.method, host: req.headers.host, origin: req.headers.origin,
      secFetchSite: req.headers['sec-fetch-site'], contentType: req.headers['content-type'],
    }, port);
    if (refusal !== null) return reply.code(refusal.status).send({ error: { code: refusal.code, message: refusal.message, temporary: false } });
    reply.header('cache-control', 'no-store').header('x-content-type-options', 'nosniff').header('referrer-policy', 'no-referrer')
      .header('content-security-policy', PAGE_CONTENT_SECURITY_POLICY);
  });

  app.setErrorHandler((err: Error & { statusCode?: number }, _req, reply) => {
    if (err instanceof CarchainError) {
      const known = err as CarchainError<string>;
      return reply.code(statusOf(known)).send({ error: { code: known.code, message: known.message, temporary: known.temporary } });
    }
    const status = err.statusCode !== undefined && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 500;
    return reply.code(status).send({ error: { code: status === 500 ? 'INTERNAL' : 'BAD_REQUEST', message: err.message, temporary: false } });
  });

  /** The unlocked wallet for a data route, or a 401 when the request lacks this unlock's session. */
  const unlockedFor = (req: FastifyRequest): OwnerWallet => {
    if (wallet === null || session === null || !session.matches(req.headers.cookie)) {
      throw new WalletUiError('LOCKED', 'locked: unlock the wallet with its passphrase first');
    }
    return wallet;
  };
  const chainOrFail = (): ChainClient => {
    if (chain === null) throw new WalletUiError('CHAIN_UNKNOWN', 'no chain RPC known: start `carchain wallet ui` with --chain URL (or save one in the wallet) to make and list grants');
    return chain;
  };

  const serve = (name: keyof typeof ASSETS) => (_req: FastifyRequest, reply: FastifyReply) => reply.type(assets.get(name)!.type).header('cache-control', 'no-cache').send(assets.get(name)!.body);
  app.get('/', serve('index.html'));
  app.get('/ui/viewer.js', serve('viewer.js'));
  app.get('/ui/viewer.css', serve('viewer.css'));

  app.get('/api/session', (req) => {
    const open = wallet !== null && session !== null && session.matches(req.headers.cookie);
    return { unlocked: open, ownerAddress: open ? wallet!.ownerAddress : null, walletPath: o.walletPath, gatewayUrl, chain: chain !== null, today: utcDay(Date.now()) };
  });

  app.post('/api/unlock', async (req, reply) => {
    const passphrase = str((req.body as { passphrase?: unknown } | null)?.passphrase, 'passphrase');
    if (unlocking) throw new WalletUiError('UNLOCK_BUSY', 'an unlock is already running; try again in a moment', { temporary: true });
    unlocking = true;
    try {
      const opened = await OwnerWallet.open(o.walletPath, passphrase);
      opened.rsaKeyPair(); // derive the RSA key now, so the first list of trips does not pay for it
      wallet = opened;
    } finally {
      unlocking = false;
    }
    session = new UiSession(port);
    reply.header('set-cookie', session.open());
    return { unlocked: true, ownerAddress: wallet.ownerAddress, devices: wallet.devices().map((d) => ({ vid: d.vid, vehicleIndex: d.vehicleIndex, poolSize: d.poolSize })) };
  });

  app.post('/api/lock', async (req, reply) => {
    unlockedFor(req);
    wallet = null;
    reply.header('set-cookie', session!.close());
    session = null;
    return { unlocked: false };
  });

  app.get('/api/trips', async (req) => {
    const w = unlockedFor(req);
    const q = req.query as { from?: string; to?: string };
    const to = q.to ? parseDay(q.to) : utcDay(Date.now());
    const range: DayRange = { from: q.from ? parseDay(q.from) : utcDay(Date.now() - 6 * 86_400_000), to };
    const { trips, rejected } = await w.listTrips(gatewayUrl, range);
    const totals = { trips: trips.length, distanceM: trips.reduce((s, t) => s + t.distanceM, 0), durationS: trips.reduce((s, t) => s + t.durationS, 0) };
    return {
      range, trips: trips.map(tripSummary), rejected: rejected.length,
      totals: { ...totals, text: { distance: formatDistance(totals.distanceM), duration: formatDuration(totals.durationS) } },
    };
  });

  app.get('/api/trips/:id', async (req) => {
    const w = unlockedFor(req);
    const q = req.query as { width?: string };
    // The page asks for its map's width, so a phone gets a legend laid out for its screen rather than a shrunken desktop one.
    const width = /^\d{3,4}$/.test(q.width ?? '') ? Math.min(1200, Math.max(320, Number(q.width))) : 800;
    const trip = await w.trip(gatewayUrl, (req.params as { id: string }).id);
    return plain({
      ...tripSummary(trip), verification: trip.verification ?? null, eventList: trip.events,
      // A narrow map stacks its legend in several rows: a taller picture keeps room for the track.
      svg: renderTripSvg(trip, { width, height: Math.round(width * (width < 600 ? 1.25 : 0.7)), title: `Trip ${trip.id}` }),
    });
  });

  /** DTC events and maintenance records of one day, of vehicle index `vehicle` (default: all): the pool's own, and with a chain the shops' under write grants. */
  app.get('/api/day-records', async (req) => {
    const w = unlockedFor(req);
    const q = req.query as { day?: string; vehicle?: string };
    const day = parseDay(str(q.day, 'day'));
    const poolOf = new Map<string, number>();
    for (const p of w.pools()) for (const a of p.addresses) poolOf.set(a, p.vehicleIndex);
    const keep = (r: VerifiedRecord) => q.vehicle === undefined || poolOf.get(r.address) === Number(q.vehicle);
    const dtc = await w.records(gatewayUrl, { from: day, to: day }, { format: 'dtc' });
    const maintenance = (await w.records(gatewayUrl, { from: day, to: day }, { format: 'maintenance' })).records.filter(keep);
    let rejected = dtc.rejected.length;
    // Shops file maintenance under their own address (a WriteGrant), found through the chain.
    if (chain !== null) {
      const vids = w.devices().filter((d) => q.vehicle === undefined || d.vehicleIndex === Number(q.vehicle)).map((d) => d.vid);
      const shops = await maintenanceRecords({ gatewayUrl, chain, ownerAddress: w.ownerAddress, vids, formats: w.formats, rsaPrivateKey: w.rsaKeyPair().privateKey });
      rejected += shops.rejected.length;
      const seen = new Set(maintenance.map((r) => r.recordId));
      maintenance.push(...shops.records.filter((r) => recordDay(r.key) === day && !seen.has(r.recordId)));
    }
    return { day, dtc: dtc.records.filter(keep).map(recordSummary), maintenance: maintenance.map(recordSummary), rejected };
  });

  app.get('/api/grants', async (req) => {
    const w = unlockedFor(req);
    return { grants: plain(await listGrants(w.root, chainOrFail())) };
  });

  app.post('/api/grants', async (req) => {
    const w = unlockedFor(req);
    const b = (req.body ?? {}) as Record<string, unknown>;
    const grantee = str(b.grantee, 'grantee address').trim();
    if (!isAddress(grantee)) throw new WalletUiError('BAD_REQUEST', `grantee ${JSON.stringify(grantee)} is not an address (base58check P2PKH, starts with 1)`);
    const pem = str(b.rsaPublicKeyPem, "the grantee's RSA public key (PEM)");
    const fromDay = Number(parseDay(str(b.from, 'first day')));
    const toDay = Number(parseDay(str(b.to, 'last day')));
    const formats = Array.isArray(b.formats) ? b.formats.filter((f): f is string => typeof f === 'string') : [];
    if (formats.length === 0) throw new WalletUiError('BAD_REQUEST', 'choose at least one kind of record to share');
    for (const f of formats) w.formats.get(f); // FORMAT_UNKNOWN before the chain sees anything
    const device = b.vehicleIndex === undefined ? w.devices()[0] : w.devices().find((d) => d.vehicleIndex === Number(b.vehicleIndex));
    if (device === undefined) throw new WalletUiError('BAD_REQUEST', 'no paired vehicle to share from');
    const expires = typeof b.expires === 'string' && b.expires !== '' ? parseDay(b.expires) : null;
    const expiresAt = expires === null ? 0 : Date.UTC(Number(expires.slice(0, 4)), Number(expires.slice(4, 6)) - 1, Number(expires.slice(6, 8)));
    const created = await createGrant(
      { root: w.root, vehicle: { index: device.vehicleIndex, poolSize: device.poolSize }, grantee, granteeRsaPublicKeyPem: pem, fromDay, toDay, formats, expiresAt },
      { gatewayUrl, chain: chainOrFail() },
    );
    return created;
  });

  app.post('/api/grants/:id/revoke', async (req) => {
    const w = unlockedFor(req);
    return revokeGrant(w.root, (req.params as { id: string }).id, chainOrFail());
  });

  await app.listen({ host, port: o.port ?? 0 });
  port = (app.server.address() as AddressInfo).port;
  let stopping: Promise<void> | null = null;
  return {
    url: `http://${host}:${port}/`,
    port,
    unlocked: () => wallet !== null,
    stop: () => {
      stopping ??= (async () => {
        wallet = null;
        session = null;
        await app.close();
      })();
      return stopping;
    },
  };
}
