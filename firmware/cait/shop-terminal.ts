// Composition root of a CAIT terminal: shop identity, grant cache and its chain sync, maintenance jobs, and the `cait run` frame loop with its sighting records.
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DirectorySource } from '../../hardware/camera/directory-source.js';
import { FfmpegSource } from '../../hardware/camera/ffmpeg-source.js';
import type { FrameSource } from '../../hardware/camera/frame-source.js';
import { ChainClient } from '../../gateway/chain/client/chain-client.js';
import { CarchainError } from '../../protocol/errors.js';
import { ConfigError } from '../config/dongle-config.js';
import type { LogFn } from '../outbox/outbox.js';
import type { CaitConfig } from './cait-config.js';
import { prepareMaintenanceRecord, ShopUplink, type MaintenanceJob } from './maintenance-jobs.js';
import { SightingRecorder, type SightingRecordStats } from './sighting-records.js';
import type { PlateReader } from './plate-reader.js';
import { PrivacyFilter } from './privacy-filter.js';
import { loadShopIdentity, type ShopIdentity } from './shop-identity.js';
import { WriteGrantStore, type WriteGrantTicket } from './write-grant-store.js';

export interface ShopTerminal {
  config: CaitConfig;
  identity: ShopIdentity;
  store: WriteGrantStore;
  chain: ChainClient;
  close(): void;
}

export function openShopTerminal(config: CaitConfig): ShopTerminal {
  mkdirSync(config.terminal.dataDir, { recursive: true, mode: 0o700 });
  const identity = loadShopIdentity(join(config.terminal.dataDir, 'keystore.json'));
  const store = WriteGrantStore.open(join(config.terminal.dataDir, 'grants.db'), identity);
  return { config, identity, store, chain: new ChainClient(config.chain.rpc), close: () => store.close() };
}

export interface SyncResult {
  grants: number;
  usable: number;
  /** False when the chain could not be asked and the cache of the last sync is used. */
  fresh: boolean;
  tickets: { imported: number; failed: { file: string; code: string; message: string }[] };
}

/** Syncs grants from the chain (falls back to the cache when it is unreachable) and imports every ticket file. */
export async function syncTerminal(t: ShopTerminal, now: number, log: LogFn = () => undefined): Promise<SyncResult> {
  let fresh = true;
  try {
    await t.store.sync(t.chain, now);
  } catch (err) {
    if (!(err instanceof CarchainError && err.temporary)) throw err;
    fresh = false;
    log('warn', 'chain unreachable: using the cached write grants', { lastSync: t.store.lastSync(), error: err.message });
  }
  const tickets: SyncResult['tickets'] = { imported: 0, failed: [] };
  const dir = t.config.terminal.ticketsDir;
  let files: string[];
  try {
    files = dir === null ? [] : readdirSync(dir).filter((f) => f.endsWith('.json')).sort();
  } catch {
    files = []; // no tickets directory yet
  }
  for (const file of files) {
    try {
      t.store.importTicket(JSON.parse(readFileSync(join(dir!, file), 'utf8')) as WriteGrantTicket, now);
      tickets.imported++;
    } catch (err) {
      const code = err instanceof CarchainError ? String(err.code) : 'TICKET_INVALID';
      tickets.failed.push({ file, code, message: (err as Error).message });
      log('warn', 'ticket not imported', { file, code, error: (err as Error).message });
    }
  }
  const usable = t.store.list().filter((g) => g.revokedAt === 0 && (g.expiresAt === 0 || g.expiresAt > now) && g.ownerCurrent).length;
  return { grants: t.store.list().length, usable, fresh, tickets };
}

export interface MaintenanceResult {
  recordId: string;
  address: string;
  writeGrantId: string;
  jobId: number;
  delivered: boolean;
  /** Records still in the outbox after the wait (sent on the next run). */
  waiting: number;
}

/** A broker URL fit for a log line: user and password removed. */
function withoutCredentials(url: string): string {
  try {
    const u = new URL(url);
    if (u.username === '' && u.password === '') return url;
    u.username = '';
    u.password = '';
    return u.toString();
  } catch {
    return '(unparsable broker URL)';
  }
}

/** The shop's outbox + uplink for `config.uplink` (null when no broker is configured). */
export function shopUplinkFor(config: CaitConfig, identity: ShopIdentity, outboxPath: string, log: LogFn, clientId?: string): ShopUplink | null {
  const u = config.uplink;
  if (u === null) return null;
  return new ShopUplink(identity, {
    outboxPath, brokerUrl: u.brokerUrl, protocolVersion: u.protocolVersion, log,
    ...(clientId !== undefined ? { clientId } : {}),
    ...(u.tls ? { tls: { ca: readFileSync(u.tls.ca), cert: readFileSync(u.tls.cert), key: readFileSync(u.tls.key) } } : {}),
  });
}

/** `carchain shop maintenance add`: sync, match the plate, seal, commit to the outbox, deliver. */
export async function addMaintenanceJob(config: CaitConfig, job: MaintenanceJob, log: LogFn = () => undefined): Promise<MaintenanceResult> {
  if (config.uplink === null) throw new ConfigError('CONFIG_INVALID', 'uplink: maintenance records are sent through uplink.brokerUrl; the config has none');
  const t = openShopTerminal(config);
  try {
    const now = Date.now();
    await syncTerminal(t, now, log);
    const prepared = prepareMaintenanceRecord(t.store, t.identity, job, now);
    const uplink = shopUplinkFor(config, t.identity, join(config.terminal.dataDir, 'maintenance-outbox.db'), log)!;
    try {
      uplink.enqueue([prepared.record]);
      const { delivered, waiting } = await uplink.deliver(config.uplink.deliverTimeoutMs);
      return { recordId: prepared.recordId, address: prepared.record.address, writeGrantId: prepared.grant.id, jobId: prepared.jobId, delivered, waiting };
    } finally {
      uplink.close();
    }
  } finally {
    t.close();
  }
}

export interface CaitRunStats {
  reads: number;
  dropped: number;
  matched: number;
  sightings: number;
  frames: number;
  /** What happened to the kept sightings: queued as records, or kept locally by reason. */
  records: SightingRecordStats;
}

export interface CaitRunHandle {
  shopAddress: string;
  stats(): CaitRunStats;
  /** Resolves when the frame source ends (or after stop()). */
  done: Promise<void>;
  stop(): Promise<void>;
}

function frameSourceFor(config: CaitConfig, log: LogFn): FrameSource {
  const c = config.camera;
  if (c.directory !== null) {
    return new DirectorySource(c.directory, { includeExisting: c.includeExisting, onError: (err, path) => log('warn', 'frame unreadable', { path, code: err.code }) });
  }
  if (c.ffmpeg !== null) {
    const f = c.ffmpeg;
    return new FfmpegSource({ input: f.input, fps: f.fps, ...(f.width !== null ? { width: f.width } : {}), ...(f.height !== null ? { height: f.height } : {}) });
  }
  throw new ConfigError('CONFIG_INVALID', 'camera: set camera.directory or camera.ffmpeg');
}

/**
 * `carchain cait run`: frames → plate reader → privacy filter → kept sightings → `plate-sighting`
 * records (when the grant allows and a broker is configured); grants re-synced every
 * chain.syncIntervalMs. The reader is created by the caller (it takes seconds and is reused).
 */
export async function startCaitRun(config: CaitConfig, reader: PlateReader, log: LogFn): Promise<CaitRunHandle> {
  const t = openShopTerminal(config);
  let source: FrameSource;
  let first: SyncResult;
  let uplink: ShopUplink | null = null;
  try {
    first = await syncTerminal(t, Date.now(), log);
    // Its own MQTT client id: a `shop maintenance add` run beside it would otherwise take the session over.
    uplink = shopUplinkFor(config, t.identity, config.sightings.outbox, log, `carchain-${t.identity.address}-cait`);
    source = frameSourceFor(config, log);
  } catch (err) {
    uplink?.close();
    t.close();
    throw err;
  }
  const recorder = new SightingRecorder(t.store, t.identity, uplink, log);
  await recorder.start();
  log('info', 'terminal started', {
    shop: t.identity.address, grants: first.grants, usable: first.usable, chainFresh: first.fresh, tickets: first.tickets.imported,
    records: config.uplink === null ? 'local only' : withoutCredentials(config.uplink.brokerUrl), waiting: recorder.stats().waiting,
  });
  const filter = new PrivacyFilter(t.store, config.tracking, log);
  let frames = 0;
  let syncing: Promise<unknown> = Promise.resolve();
  const timer = setInterval(() => {
    syncing = syncTerminal(t, Date.now(), log).catch((err: unknown) => log('error', 'grant sync failed', { error: String(err) }));
  }, config.chain.syncIntervalMs);
  timer.unref();
  const done = (async () => {
    for await (const frame of source.frames()) {
      frames++;
      const reading = await reader.readFrame(frame);
      for (const plate of reading.plates) {
        const kept = filter.observe({ plate: plate.text, confidence: plate.confidence, source: frame.source }, frame.timestamp);
        if (kept === null) continue;
        try {
          recorder.submit(kept.grant, kept);
        } catch (err) {
          // OUTBOX_FULL or a disk error: the sighting is still in grants.db; reading goes on.
          log('error', 'sighting record not queued', { grantId: kept.grantId, code: err instanceof CarchainError ? err.code : 'UNKNOWN', error: (err as Error).message });
        }
      }
      log('debug', 'frame', { source: frame.source, plates: reading.plates.length, ms: Math.round(reading.timings.detectMs + reading.timings.recognizeMs) });
    }
  })();
  let stopping: Promise<void> | null = null;
  return {
    shopAddress: t.identity.address,
    stats: () => ({ ...filter.stats(), frames, records: recorder.stats() }),
    done,
    stop: () => {
      stopping ??= (async () => {
        clearInterval(timer);
        await source.close();
        await done.catch((err: unknown) => log('error', 'frame loop failed', { error: String(err) }));
        await syncing;
        const records = recorder.stats();
        // Queued records are already durable; this only gives the broker a chance to acknowledge them.
        const { waiting } = await recorder.stop(config.sightings.stopDrainMs).catch((err: unknown) => {
          log('error', 'uplink stop failed', { error: String(err) });
          return { waiting: -1 };
        });
        t.close();
        log('info', 'terminal stopped', { ...filter.stats(), frames, records: { ...records, waiting } });
      })();
      return stopping;
    },
  };
}
