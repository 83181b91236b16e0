// The dongle's MQTT uplink: drains the outbox as signed uplink messages (QoS 1), removing records only after PUBACK.
//
// Connection: MQTT.js to any broker URL (mqtt://, mqtts:// with mutual TLS), a fixed clientId with
// clean=false (and, on MQTT 5, a session expiry) so QoS 1 state survives reconnects, a retained will
// `offline` on …/state and a retained `online` published on every connect, a retained JSON report on
// …/health every healthIntervalMs (options and the MQTT 5 rationale: device-connection.ts).
// Reconnects are ours (reconnectPeriod 0): capped exponential backoff with jitter, and the same
// outgoing store handed back to MQTT.js so unacknowledged publishes are re-sent on the new connection.
//
// Send loop: take the oldest batch of one address (≤ maxRecordsPerMessage, ≤ maxBytesPerMessage)
// not already in flight, sign it with the key provider's keys, publish, and `outbox.remove()` those
// ids in the publish callback (PUBACK) — never earlier. Up to maxInFlight messages at once. When the
// broker is away nothing is published and the outbox simply grows under its own full policy.
//
// Cancellation rules: `start()` once; it resolves as soon as the loop is armed and never waits for the
// network. `stop()` is idempotent: it stops taking batches, waits up to `timeoutMs` for in-flight
// PUBACKs (removing those records), publishes a retained `offline`, and closes the client. Once it has
// resolved the uplink makes no further outbox calls, so the caller may close the outbox. Records whose
// PUBACK did not arrive stay in the outbox and are sent again after the next start (at-least-once).
import { connect, type MqttClient } from 'mqtt';
import { deviceTopics, type DeviceTopics } from '../mqtt-topics.js';
import type { LogFn, Outbox } from '../outbox/outbox.js';
import { Backoff, type BackoffOptions } from './backoff.js';
import { deviceClientOptions, type DeviceConnectionOptions } from './device-connection.js';
import { buildUplinkBatch, type KeyProvider } from './uplink-batch.js';
import { healthReport, type BlockedAddress, type UplinkState, type UplinkStats } from './uplink-health.js';

export type { DeviceConnectionOptions, UplinkTlsOptions } from './device-connection.js';
export type { KeyProvider, UplinkKeys } from './uplink-batch.js';
export type { BlockedAddress, UplinkStats } from './uplink-health.js';

export const DEFAULT_MAX_RECORDS_PER_MESSAGE = 64;
export const DEFAULT_MAX_BYTES_PER_MESSAGE = 512 * 1024;
const MAX_IN_FLIGHT_LIMIT = 16;

export interface MqttUplinkOptions extends DeviceConnectionOptions {
  outbox: Outbox;
  keys: KeyProvider;
  /** Reconnect delays (default 1 s doubling to 60 s, 50 % jitter). */
  reconnect?: Omit<BackoffOptions, 'random'>;
  maxRecordsPerMessage?: number;
  maxBytesPerMessage?: number;
  /** Messages awaiting PUBACK at once (default 4, at most 16). */
  maxInFlight?: number;
  /** Health report period (default 30 s). */
  healthIntervalMs?: number;
  /** How long an address without usable keys is skipped before asking the key provider again (default 60 s). */
  blockedRetryMs?: number;
  /** Backstop poll of the outbox; enqueues wake the loop at once anyway (default 5 s). */
  pollIntervalMs?: number;
  now?: () => number;
  random?: () => number;
  log?: LogFn;
}

export type UplinkEvent =
  | { type: 'connected'; sessionPresent: boolean }
  | { type: 'disconnected' }
  | { type: 'reconnect-scheduled'; delayMs: number; failures: number }
  | { type: 'published'; address: string; ids: string[]; bytes: number }
  | { type: 'publish-failed'; address: string; records: number; error: string }
  | { type: 'blocked'; address: string; records: number; reason: string }
  | { type: 'corrupt-records'; address: string; ids: string[]; reason: string };

interface Flight {
  address: string;
  ids: string[];
  bytes: number;
}

export class MqttUplink {
  private readonly options: MqttUplinkOptions;
  private readonly topics: DeviceTopics;
  private readonly outbox: Outbox;
  private readonly now: () => number;
  private readonly log: LogFn;
  private readonly maxInFlight: number;
  private readonly reconnectBackoff: Backoff;
  private readonly publishBackoff: Backoff;
  private client: MqttClient | undefined;
  private state: UplinkState = 'idle';
  private readonly inFlight = new Map<number, Flight>();
  private readonly inFlightIds = new Set<string>();
  private readonly blocked = new Map<string, BlockedAddress>();
  private readonly listeners = new Set<(event: UplinkEvent) => void>();
  private readonly drainWaiters = new Set<() => void>();
  private readonly counters = { connects: 0, disconnects: 0, reconnectAttempts: 0, publishedMessages: 0, publishedRecords: 0, publishedBytes: 0, publishFailures: 0, corruptRecordsDropped: 0 };
  private startedAt: number | null = null;
  private lastConnectAt: number | null = null;
  private lastPublishAt: number | null = null;
  private lastError: string | null = null;
  private nextFlight = 0;
  private pausedUntil = 0;
  private pumpQueued = false;
  private timers: { reconnect?: NodeJS.Timeout; pause?: NodeJS.Timeout; health?: NodeJS.Timeout; poll?: NodeJS.Timeout } = {};
  private unsubscribeOutbox: (() => void) | undefined;
  private stopping: Promise<{ drained: boolean; abandonedMessages: number }> | undefined;
  private up = false;

  constructor(options: MqttUplinkOptions) {
    this.options = options;
    this.topics = deviceTopics(options.deviceId);
    this.outbox = options.outbox;
    this.now = options.now ?? Date.now;
    this.log = options.log ?? (() => undefined);
    this.maxInFlight = options.maxInFlight ?? 4;
    if (!Number.isInteger(this.maxInFlight) || this.maxInFlight < 1 || this.maxInFlight > MAX_IN_FLIGHT_LIMIT) {
      throw new RangeError(`maxInFlight must be 1..${MAX_IN_FLIGHT_LIMIT}`);
    }
    this.reconnectBackoff = new Backoff({ ...options.reconnect, random: options.random });
    this.publishBackoff = new Backoff({ initialMs: 500, maxMs: 30_000, random: options.random });
  }

  /** Arms the loop and starts connecting; resolves at once (see the cancellation rules above). */
  start(): Promise<void> {
    if (this.state !== 'idle') return Promise.reject(new Error(`uplink already ${this.state}`));
    this.state = 'running';
    this.startedAt = this.now();
    const o = this.options;
    const client = connect(o.url, deviceClientOptions(o, this.topics.state));
    this.client = client;
    client.on('connect', (connack) => this.onConnect(connack.sessionPresent));
    client.on('close', () => this.onClose());
    client.on('error', (err) => {
      this.lastError = err.message;
      this.log('warn', 'mqtt connection error', { error: err.message });
    });
    this.unsubscribeOutbox = this.outbox.onEnqueue(() => this.schedulePump());
    this.timers.health = setInterval(() => this.publishHealth(), o.healthIntervalMs ?? 30_000);
    this.timers.poll = setInterval(() => this.schedulePump(), o.pollIntervalMs ?? 5000);
    return Promise.resolve();
  }

  /** Graceful stop; resolves with whether every in-flight message was acknowledged. Idempotent. */
  stop(options: { timeoutMs?: number } = {}): Promise<{ drained: boolean; abandonedMessages: number }> {
    if (this.stopping === undefined) {
      if (this.state === 'idle') this.state = 'stopped';
      this.stopping = this.state === 'stopped' ? Promise.resolve({ drained: true, abandonedMessages: 0 }) : this.shutDown(options.timeoutMs ?? 5000);
    }
    return this.stopping;
  }

  private async shutDown(timeoutMs: number): Promise<{ drained: boolean; abandonedMessages: number }> {
    this.state = 'stopping';
    const deadline = this.now() + timeoutMs;
    for (const timer of Object.values(this.timers)) clearTimeout(timer);
    this.timers = {};
    this.unsubscribeOutbox?.();
    const client = this.client!;
    if (client.connected && this.inFlight.size > 0) await this.waitForDrain(deadline - this.now());
    const abandonedMessages = this.inFlight.size;
    if (client.connected) {
      await withTimeout(client.publishAsync(this.topics.state, 'offline', { qos: 1, retain: true }), Math.max(0, deadline - this.now())).catch((err: unknown) => {
        this.log('warn', 'could not publish offline state', { error: String(err) });
      });
    }
    // From here on no callback touches the outbox: the caller may close it once this resolves.
    this.state = 'stopped';
    const force = !client.connected || this.inFlight.size > 0;
    await withTimeout(client.endAsync(force), 2000).catch(() => client.endAsync(true));
    this.inFlight.clear();
    this.inFlightIds.clear();
    this.resolveDrainWaiters();
    return { drained: abandonedMessages === 0, abandonedMessages };
  }

  /** Resolves on the next CONNACK (at once if connected); rejects after timeoutMs. */
  whenConnected(timeoutMs = 30_000): Promise<void> {
    if (this.client?.connected) return Promise.resolve();
    let off = (): void => undefined;
    const connected = new Promise<void>((resolve) => {
      off = this.onEvent((event) => {
        if (event.type === 'connected') resolve();
      });
    });
    return withTimeout(connected, timeoutMs).finally(off);
  }

  /** Call after the key provider learnt new authorisations: blocked addresses are retried at once. */
  keysChanged(): void {
    this.blocked.clear();
    this.schedulePump();
  }

  onEvent(listener: (event: UplinkEvent) => void): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  stats(): UplinkStats {
    let inFlightRecords = 0;
    for (const flight of this.inFlight.values()) inFlightRecords += flight.ids.length;
    return {
      state: this.state,
      connected: this.client?.connected ?? false,
      startedAt: this.startedAt,
      ...this.counters,
      lastConnectAt: this.lastConnectAt,
      inFlightMessages: this.inFlight.size,
      inFlightRecords,
      lastPublishAt: this.lastPublishAt,
      lastError: this.lastError,
      blockedAddresses: [...this.blocked.values()],
    };
  }

  private onConnect(sessionPresent: boolean): void {
    this.up = true;
    this.counters.connects++;
    this.lastConnectAt = this.now();
    this.reconnectBackoff.reset();
    this.log('info', 'mqtt connected', { url: this.options.url, sessionPresent });
    this.emit({ type: 'connected', sessionPresent });
    this.client!.publish(this.topics.state, 'online', { qos: 1, retain: true }, (err) => {
      if (err) this.log('warn', 'could not publish online state', { error: err.message });
    });
    this.publishHealth();
    this.schedulePump();
  }

  private onClose(): void {
    if (this.up) {
      this.up = false;
      this.counters.disconnects++;
      this.emit({ type: 'disconnected' });
    }
    if (this.state !== 'running' || this.timers.reconnect !== undefined) return;
    const delayMs = this.reconnectBackoff.next();
    this.emit({ type: 'reconnect-scheduled', delayMs, failures: this.reconnectBackoff.failures });
    this.timers.reconnect = setTimeout(() => {
      this.timers.reconnect = undefined;
      if (this.state !== 'running') return;
      this.counters.reconnectAttempts++;
      const client = this.client!;
      // Handing back the same stores keeps the unacknowledged QoS 1 publishes: MQTT.js re-sends them after CONNACK.
      client.reconnect({ incomingStore: client.incomingStore, outgoingStore: client.outgoingStore });
    }, delayMs);
  }

  private schedulePump(): void {
    if (this.pumpQueued || this.state !== 'running') return;
    this.pumpQueued = true;
    setImmediate(() => {
      this.pumpQueued = false;
      this.pump();
    });
  }

  private pump(): void {
    const client = this.client;
    if (this.state !== 'running' || !client?.connected) return;
    const now = this.now();
    if (now < this.pausedUntil) return this.wakeAt(this.pausedUntil);
    for (const [address, block] of this.blocked) if (block.retryAt <= now) this.blocked.delete(address);
    while (this.inFlight.size < this.maxInFlight) {
      let entries;
      try {
        entries = this.outbox.peekBatch({
          maxRecords: this.options.maxRecordsPerMessage ?? DEFAULT_MAX_RECORDS_PER_MESSAGE,
          maxBytes: this.options.maxBytesPerMessage ?? DEFAULT_MAX_BYTES_PER_MESSAGE,
          excludeAddresses: new Set(this.blocked.keys()),
          excludeIds: this.inFlightIds,
        });
      } catch (err) {
        this.fail('outbox read failed', String(err));
        return;
      }
      if (entries.length === 0) break;
      const batch = buildUplinkBatch(entries, this.options.keys, now);
      if (batch.kind === 'blocked') {
        const since = this.blocked.get(batch.address)?.since ?? now;
        this.blocked.set(batch.address, { address: batch.address, reason: batch.reason, records: batch.records, since, retryAt: now + (this.options.blockedRetryMs ?? 60_000) });
        this.log('warn', 'records held back: no usable authorisation for their address', { records: batch.records, reason: batch.reason });
        this.emit({ type: 'blocked', address: batch.address, records: batch.records, reason: batch.reason });
        continue;
      }
      if (batch.kind === 'corrupt') {
        this.outbox.remove(batch.ids);
        this.counters.corruptRecordsDropped += batch.ids.length;
        this.log('error', 'dropped outbox rows that no longer decode', { records: batch.ids.length, reason: batch.reason });
        this.emit({ type: 'corrupt-records', address: batch.address, ids: batch.ids, reason: batch.reason });
        continue;
      }
      const token = this.nextFlight++;
      this.inFlight.set(token, { address: batch.address, ids: batch.ids, bytes: batch.payload.length });
      for (const id of batch.ids) this.inFlightIds.add(id);
      const payload = Buffer.from(batch.payload.buffer, batch.payload.byteOffset, batch.payload.byteLength);
      client.publish(this.topics.uplink, payload, { qos: 1 }, (err) => this.onPublished(token, err));
    }
    const nextRetry = Math.min(...[...this.blocked.values()].map((b) => b.retryAt));
    if (Number.isFinite(nextRetry)) this.wakeAt(nextRetry);
  }

  /** The publish callback: PUBACK (no error) → the records leave the outbox; an error → they stay and we back off. */
  private onPublished(token: number, err: Error | undefined): void {
    const flight = this.inFlight.get(token);
    if (flight === undefined) return;
    this.inFlight.delete(token);
    for (const id of flight.ids) this.inFlightIds.delete(id);
    if (this.state === 'stopped') return;
    if (err) {
      this.counters.publishFailures++;
      this.emit({ type: 'publish-failed', address: flight.address, records: flight.ids.length, error: err.message });
      this.fail('publish refused', err.message);
    } else {
      try {
        this.outbox.remove(flight.ids);
      } catch (removeErr) {
        this.log('error', 'could not remove acknowledged records (they will be sent again)', { error: String(removeErr) });
      }
      this.publishBackoff.reset();
      this.counters.publishedMessages++;
      this.counters.publishedRecords += flight.ids.length;
      this.counters.publishedBytes += flight.bytes;
      this.lastPublishAt = this.now();
      this.emit({ type: 'published', address: flight.address, ids: flight.ids, bytes: flight.bytes });
    }
    if (this.inFlight.size === 0) this.resolveDrainWaiters();
    this.schedulePump();
  }

  private fail(what: string, error: string): void {
    this.lastError = `${what}: ${error}`;
    this.pausedUntil = this.now() + this.publishBackoff.next();
    this.log('warn', what, { error, retryAt: this.pausedUntil });
    this.wakeAt(this.pausedUntil);
  }

  private wakeAt(at: number): void {
    if (this.state !== 'running') return;
    clearTimeout(this.timers.pause);
    this.timers.pause = setTimeout(() => {
      this.timers.pause = undefined;
      this.schedulePump();
    }, Math.max(0, at - this.now()));
  }

  private publishHealth(): void {
    const client = this.client;
    if (!client?.connected) return;
    let payload: string;
    try {
      payload = JSON.stringify(healthReport(this.options.deviceId, this.now(), this.stats(), this.outbox.stats()));
    } catch (err) {
      this.log('warn', 'health report failed', { error: String(err) });
      return;
    }
    client.publish(this.topics.health, payload, { qos: 1, retain: true }, (err) => {
      if (err) this.log('warn', 'could not publish health', { error: err.message });
    });
  }

  private waitForDrain(timeoutMs: number): Promise<void> {
    if (this.inFlight.size === 0) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const timer = setTimeout(done, Math.max(0, timeoutMs));
      const waiters = this.drainWaiters;
      function done() {
        clearTimeout(timer);
        waiters.delete(done);
        resolve();
      }
      waiters.add(done);
    });
  }

  private resolveDrainWaiters(): void {
    for (const waiter of [...this.drainWaiters]) waiter();
  }

  private emit(event: UplinkEvent): void {
    for (const listener of [...this.listeners]) {
      try {
        listener(event);
      } catch (err) {
        this.log('error', 'uplink event listener threw', { error: String(err) });
      }
    }
  }
}

/** Rejects with a timeout error after `ms`, leaving `promise` to settle on its own. */
function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (err: unknown) => {
        clearTimeout(timer);
        reject(err instanceof Error ? err : new Error(String(err)));
      },
    );
  });
}
