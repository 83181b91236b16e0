// The dashboard's live feed: one snapshot a second (gateway stats, ingest rate window, chain and validator liveness, devices) pushed to Server-Sent-Events subscribers.
//
// Snapshots are built only while someone listens, once for all listeners, and never two at a time:
// a slow KV health check or chain RPC delays the next snapshot instead of piling requests up.
import type { ServerResponse } from 'node:http';
import { CarchainError } from '../../protocol/errors.js';
import type { IngestStats } from '../ingest/mqtt-ingest.js';
import type { KvHealth } from '../kv/kv-store.js';
import type { LogFn } from '../log.js';
import { type DeviceActivity, UNKNOWN_DEVICE_ACTIVITY } from './device-activity.js';
import type { GatewayStats } from './gateway-status.js';
import { type ChainReader, type ChainView, ValidatorLiveness } from './validator-liveness.js';

export interface RateSample {
  /** Milliseconds since the epoch. */
  at: number;
  recordsPerSecond: number;
}

export interface DashboardSnapshot {
  /** Sequence number of this snapshot (also the SSE event id). */
  seq: number;
  at: number;
  gatewayId: string;
  ingest: IngestStats & { recordsPerSecond: number };
  /** Records/s between consecutive snapshots, oldest first, at most `rateWindow` samples. */
  rate: RateSample[];
  batches: GatewayStats['batches'];
  kv: KvHealth;
  /** null: this gateway has no chain link. `view` is the last one read, kept while the chain is unreachable. */
  chain: { ok: boolean; error: string | null; view: ChainView | null } | null;
  devices: DeviceActivity;
}

export interface DashboardFeedOptions {
  stats: () => Promise<GatewayStats>;
  chain?: ChainReader;
  devices?: () => DeviceActivity;
  now?: () => number;
  log?: LogFn;
  intervalMs?: number;
  /** Rate samples kept for the sparkline (default 60: a minute at one a second). */
  rateWindow?: number;
  /** Most simultaneous subscribers (default 64); more are refused with 503. */
  maxSubscribers?: number;
}

export class DashboardFeedError extends CarchainError<'TOO_MANY_SUBSCRIBERS' | 'FEED_CLOSED'> {}

/** Records that reached a verdict: each one is stored, a duplicate or a conflict. */
const recordsSeen = (s: IngestStats): number => s.accepted + s.duplicates + s.conflicts;

/** One SSE message; JSON never contains a raw newline, so the data fits on one `data:` line. */
export function sseMessage(event: string, id: number, data: unknown): string {
  return `event: ${event}\nid: ${id}\ndata: ${JSON.stringify(data)}\n\n`;
}

export class DashboardFeed {
  private readonly subscribers = new Set<ServerResponse>();
  private readonly rate: RateSample[] = [];
  private readonly liveness: ValidatorLiveness | null;
  private readonly now: () => number;
  private readonly log: LogFn;
  private readonly intervalMs: number;
  private previous: { at: number; records: number } | null = null;
  private lastChain: ChainView | null = null;
  private latest: DashboardSnapshot | null = null;
  private seq = 0;
  private timer: NodeJS.Timeout | undefined;
  private building = false;
  private closed = false;

  constructor(private readonly o: DashboardFeedOptions) {
    this.liveness = o.chain === undefined ? null : new ValidatorLiveness(o.chain);
    this.now = o.now ?? Date.now;
    this.log = o.log ?? (() => undefined);
    this.intervalMs = o.intervalMs ?? 1000;
  }

  get subscriberCount(): number {
    return this.subscribers.size;
  }

  /** Why a new subscriber would be refused right now, or null. */
  refusal(): DashboardFeedError | null {
    if (this.closed) return new DashboardFeedError('FEED_CLOSED', 'the gateway is stopping', { temporary: true });
    if (this.subscribers.size >= (this.o.maxSubscribers ?? 64)) return new DashboardFeedError('TOO_MANY_SUBSCRIBERS', 'too many dashboard connections', { temporary: true });
    return null;
  }

  /** Streams snapshots to `res` (headers already sent by the caller) until it closes or the feed does. */
  subscribe(res: ServerResponse): void {
    const refusal = this.refusal();
    if (refusal !== null) throw refusal;
    this.subscribers.add(res);
    res.once('close', () => {
      this.subscribers.delete(res);
      if (this.subscribers.size === 0) this.pause();
    });
    // A reconnecting browser waits this long; shorter than a page reload, longer than a restart's gap.
    res.write('retry: 2000\n\n');
    if (this.latest !== null && this.now() - this.latest.at < this.intervalMs) res.write(sseMessage('snapshot', this.latest.seq, this.latest));
    if (this.timer === undefined) {
      this.timer = setInterval(() => void this.tick(), this.intervalMs);
      void this.tick();
    }
  }

  /** Builds one snapshot (also what each tick sends). */
  async snapshot(): Promise<DashboardSnapshot> {
    const at = this.now();
    const [stats, chain] = await Promise.all([this.o.stats(), this.readChain()]);
    const records = recordsSeen(stats.ingest);
    let recordsPerSecond = 0;
    if (this.previous !== null && at > this.previous.at) {
      recordsPerSecond = Math.max(0, ((records - this.previous.records) * 1000) / (at - this.previous.at));
      this.rate.push({ at, recordsPerSecond: Math.round(recordsPerSecond * 10) / 10 });
      while (this.rate.length > (this.o.rateWindow ?? 60)) this.rate.shift();
    }
    this.previous = { at, records };
    return {
      seq: ++this.seq, at, gatewayId: stats.gatewayId,
      ingest: { ...stats.ingest, recordsPerSecond: Math.round(recordsPerSecond * 10) / 10 },
      rate: [...this.rate], batches: stats.batches, kv: stats.kv, chain,
      devices: this.o.devices?.() ?? UNKNOWN_DEVICE_ACTIVITY,
    };
  }

  /** Ends every stream (so an HTTP server close does not wait on them) and stops ticking. */
  close(): void {
    this.closed = true;
    this.pause();
    for (const res of this.subscribers) res.end();
    this.subscribers.clear();
  }

  private pause(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    // The next subscriber starts a fresh rate measurement instead of averaging over the idle gap.
    this.previous = null;
  }

  private async readChain(): Promise<DashboardSnapshot['chain']> {
    if (this.liveness === null) return null;
    try {
      this.lastChain = await this.liveness.refresh();
      return { ok: true, error: null, view: this.lastChain };
    } catch (err) {
      return { ok: false, error: err instanceof Error ? err.message : String(err), view: this.lastChain };
    }
  }

  private async tick(): Promise<void> {
    if (this.building || this.closed) return;
    this.building = true;
    try {
      const snap = await this.snapshot();
      this.latest = snap;
      const message = sseMessage('snapshot', snap.seq, snap);
      for (const res of this.subscribers) res.write(message);
    } catch (err) {
      // stats() failing means the KV store is down: the dashboard keeps its last figures and says so.
      const message = err instanceof Error ? err.message : String(err);
      this.log('warn', 'dashboard snapshot failed', { error: message });
      const text = sseMessage('feed-error', this.seq, { at: this.now(), error: message });
      for (const res of this.subscribers) res.write(text);
    } finally {
      this.building = false;
    }
  }
}
