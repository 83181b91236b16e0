// MQTT ingest: a shared subscription to every device's uplink; PUBACK only after the records are in the KV store and the leaf log.
//
// MQTT.js's `customHandleAcks` (MQTT 5) lets us hold the PUBACK until the message is durable: a crash
// before that makes the broker redeliver, and the store's (address, key) rule turns the replay into
// duplicates. Backpressure is the broker's: unacknowledged messages count against the session's
// receive maximum, so a slow store slows delivery instead of growing a queue here.
import { connectAsync, type MqttClient } from 'mqtt';
import type { LogFn } from '../log.js';
import type { LeafLog } from '../batches/leaf-log.js';
import type { KvStore } from '../kv/kv-store.js';
import { REJECTION_REASONS, type RejectionReason, type UplinkVerifier } from './uplink-verifier.js';

/** Every device's uplink topic; the gateway never imports firmware/, so the filter is spelled here. */
export const UPLINK_FILTER = 'carchain/v1/devices/+/uplink';
export const DEFAULT_SHARE_GROUP = 'carchain-gateways';

/** MQTT 5 PUBACK reason codes we use. */
const PUBACK_SUCCESS = 0;
const PUBACK_PAYLOAD_FORMAT_INVALID = 0x99;
const PUBACK_NOT_AUTHORIZED = 0x87;
const PUBACK_UNSPECIFIED_ERROR = 0x80;

export interface IngestStats {
  messages: number;
  accepted: number;
  duplicates: number;
  conflicts: number;
  rejectedMessages: number;
  rejectedByReason: Record<RejectionReason, number>;
  storeFailures: number;
  connected: boolean;
}

export interface MqttIngestOptions {
  brokerUrl: string;
  /** Fixed per gateway instance: the broker keeps its session (and unacknowledged messages) across restarts. */
  clientId: string;
  shareGroup?: string;
  kv: KvStore;
  leafLog: LeafLog;
  verifier: UplinkVerifier;
  now?: () => number;
  log?: LogFn;
  /** MQTT 5 receive maximum: how many unacknowledged messages the broker may push at once. */
  receiveMaximum?: number;
}

export class MqttIngest {
  private client: MqttClient | null = null;
  private readonly now: () => number;
  private readonly log: LogFn;
  private readonly counters: Omit<IngestStats, 'rejectedByReason' | 'connected'> = { messages: 0, accepted: 0, duplicates: 0, conflicts: 0, rejectedMessages: 0, storeFailures: 0 };
  private readonly rejected = Object.fromEntries(REJECTION_REASONS.map((r) => [r, 0])) as Record<RejectionReason, number>;

  constructor(private readonly options: MqttIngestOptions) {
    this.now = options.now ?? Date.now;
    this.log = options.log ?? (() => undefined);
  }

  async start(): Promise<void> {
    const client = await connectAsync(this.options.brokerUrl, {
      clientId: this.options.clientId,
      clean: false,
      protocolVersion: 5,
      properties: { sessionExpiryInterval: 7 * 24 * 3600, receiveMaximum: this.options.receiveMaximum ?? 64 },
      reconnectPeriod: 1000,
      customHandleAcks: (_topic, payload, _packet, done) => {
        this.handle(payload).then(
          (code) => done(code),
          (err: unknown) => {
            // The store failed: no PUBACK, so the broker redelivers. Drop the connection to get it sooner.
            this.counters.storeFailures++;
            this.log('error', 'store failed; message left unacknowledged', { error: String(err) });
            done(new Error(String(err)));
          },
        );
      },
    });
    client.on('error', (err) => this.log('warn', 'mqtt error', { error: err.message }));
    client.on('connect', () => this.log('info', 'mqtt connected', { broker: this.options.brokerUrl }));
    this.client = client;
    await client.subscribeAsync(`$share/${this.options.shareGroup ?? DEFAULT_SHARE_GROUP}/${UPLINK_FILTER}`, { qos: 1 });
    this.log('info', 'ingest subscribed', { filter: UPLINK_FILTER, group: this.options.shareGroup ?? DEFAULT_SHARE_GROUP });
  }

  /** Verify, store, log leaves; resolves with the PUBACK reason code once durable (or rejected). */
  private async handle(payload: Uint8Array): Promise<number> {
    this.counters.messages++;
    const result = this.options.verifier.verify(payload, this.now());
    if (!result.ok) {
      this.counters.rejectedMessages++;
      this.rejected[result.reason]++;
      this.log('debug', 'message rejected', { reason: result.reason, detail: result.detail });
      // Acknowledge with a failure code: redelivering a bad message would never make it good.
      return result.reason === 'not-authorised' || result.reason === 'authorisation-expired' ? PUBACK_NOT_AUTHORIZED : PUBACK_PAYLOAD_FORMAT_INVALID;
    }
    const receivedAt = this.now();
    const outcomes = await this.options.kv.putIfAbsent(result.records.map((r) => ({ address: r.address, encodedKey: r.encodedKey, record: r.record, originProof: r.originProof, receivedAt })));
    // Leaves of inserted *and* duplicate records: a duplicate may be the redelivery of a message whose
    // KV write landed before a crash but whose leaves did not. The leaf log ignores ones it has.
    const leaves = result.records.filter((_, i) => outcomes[i] !== 'conflict').map((r) => ({ recordId: r.id, leafHash: r.leafHash }));
    this.options.leafLog.append(leaves);
    for (const outcome of outcomes) {
      if (outcome === 'inserted') this.counters.accepted++;
      else if (outcome === 'duplicate') this.counters.duplicates++;
      else this.counters.conflicts++;
    }
    return outcomes.includes('conflict') && !outcomes.includes('inserted') ? PUBACK_UNSPECIFIED_ERROR : PUBACK_SUCCESS;
  }

  stats(): IngestStats {
    return { ...this.counters, rejectedByReason: { ...this.rejected }, connected: this.client?.connected ?? false };
  }

  async stop(): Promise<void> {
    const client = this.client;
    this.client = null;
    if (client) await client.endAsync();
  }
}
