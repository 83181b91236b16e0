// MQTT ingest: uplink messages verified, stored in groups (one KV write + one leaf-log transaction), acknowledged only once durable.
//
// IngestPipeline is the durable sink: submit(payload) resolves with the PUBACK reason code once the
// message's records are in the KV store and their leaves in the log (or once it is rejected), and
// rejects when the store failed — then no PUBACK may be sent, so the sender redelivers and the store's
// (address, key) rule turns the replay into duplicates. Messages that arrive while a group is being
// written wait and form the next group: under load each KV batch and fsync serves many messages, idle
// a lone message is written at once. Memory stays bounded because nothing is acknowledged before its
// group is durable: unacknowledged messages count against the sender's window (MQTT 5 receive maximum,
// one message per connection for MQTT.js subscribers, the publisher's inflight window for the embedded
// broker), so a slow store slows delivery instead of growing a queue here.
//
// MqttIngest feeds the pipeline from a broker: one or more connections in a shared subscription.
// MQTT.js hands a connection's messages to the ack handler one at a time (the next is parsed only after
// the previous PUBACK), so concurrency, and with it the group size, comes from `connections`.
// Protocol: MQTT 5 where the broker speaks it; MQTT 3.1.1 otherwise (Aedes 1.x): the PUBACK is still held
// until durable, but through handleMessage (MQTT.js calls customHandleAcks on version 5 only), and 3.1.1
// has no reason codes (a rejected message gets a plain PUBACK), no receive maximum and no session expiry
// (the session lives as long as the broker keeps it).
import { connect, type MqttClient } from 'mqtt';
import type { LogFn } from '../log.js';
import type { LeafLog } from '../batches/leaf-log.js';
import type { KvStore, PutOutcome } from '../kv/kv-store.js';
import { REJECTION_REASONS, type RejectionReason, type UplinkVerifier, type VerifiedRecord } from './uplink-verifier.js';

/** Every device's uplink topic; the gateway never imports firmware/, so the filter is spelled here. */
export const UPLINK_FILTER = 'carchain/v1/devices/+/uplink';
export const UPLINK_TOPIC_PATTERN = /^carchain\/v1\/devices\/[^/#+]+\/uplink$/;
export const DEFAULT_SHARE_GROUP = 'carchain-gateways';

/** MQTT 5 PUBACK reason codes we use. */
export const PUBACK_SUCCESS = 0;
const PUBACK_PAYLOAD_FORMAT_INVALID = 0x99;
const PUBACK_NOT_AUTHORIZED = 0x87;
const PUBACK_UNSPECIFIED_ERROR = 0x80;

export interface IngestStats {
  /** Messages handled to the end: stored, rejected or failed (counted when done, so counters agree). */
  messages: number;
  accepted: number;
  duplicates: number;
  conflicts: number;
  rejectedMessages: number;
  rejectedByReason: Record<RejectionReason, number>;
  storeFailures: number;
  /** Group commits (one KV batch + one leaf-log transaction each); messages / groups is the mean group size. */
  groups: number;
  connected: boolean;
}

export interface IngestPipelineOptions {
  kv: KvStore;
  leafLog: LeafLog;
  verifier: UplinkVerifier;
  now?: () => number;
  log?: LogFn;
  /** Most messages written in one group (default 512). */
  maxGroupMessages?: number;
}

interface Waiting {
  records: VerifiedRecord[];
  resolve: (code: number) => void;
  reject: (err: unknown) => void;
}

export class IngestPipeline {
  private readonly now: () => number;
  private readonly log: LogFn;
  private readonly maxGroup: number;
  private readonly counters = { messages: 0, accepted: 0, duplicates: 0, conflicts: 0, rejectedMessages: 0, storeFailures: 0, groups: 0 };
  private readonly rejected = Object.fromEntries(REJECTION_REASONS.map((r) => [r, 0])) as Record<RejectionReason, number>;
  private waiting: Waiting[] = [];
  private writing = false;
  private scheduled = false;

  constructor(private readonly options: IngestPipelineOptions) {
    this.now = options.now ?? Date.now;
    this.log = options.log ?? (() => undefined);
    this.maxGroup = options.maxGroupMessages ?? 512;
  }

  /** Verify, then store with the current group; resolves with the PUBACK reason code once durable (or rejected). */
  submit(payload: Uint8Array): Promise<number> {
    const result = this.options.verifier.verify(payload, this.now());
    if (!result.ok) {
      this.counters.messages++;
      this.counters.rejectedMessages++;
      this.rejected[result.reason]++;
      this.log('debug', 'message rejected', { reason: result.reason, detail: result.detail });
      // Acknowledge with a failure code: redelivering a bad message would never make it good.
      return Promise.resolve(result.reason === 'not-authorised' || result.reason === 'authorisation-expired' ? PUBACK_NOT_AUTHORIZED : PUBACK_PAYLOAD_FORMAT_INVALID);
    }
    return new Promise<number>((resolve, reject) => {
      this.waiting.push({ records: result.records, resolve, reject });
      if (!this.writing && !this.scheduled) {
        // Let every message that arrived in this I/O turn join the group before writing it.
        this.scheduled = true;
        setImmediate(() => {
          this.scheduled = false;
          void this.writeGroups();
        });
      }
    });
  }

  stats(): Omit<IngestStats, 'connected'> {
    return { ...this.counters, rejectedByReason: { ...this.rejected } };
  }

  private async writeGroups(): Promise<void> {
    if (this.writing) return;
    this.writing = true;
    try {
      while (this.waiting.length > 0) {
        const group = this.waiting.splice(0, this.maxGroup);
        try {
          const codes = await this.write(group.map((w) => w.records));
          this.counters.messages += group.length;
          group.forEach((w, i) => w.resolve(codes[i]!));
        } catch (err) {
          this.counters.messages += group.length;
          this.counters.storeFailures += group.length;
          this.log('error', 'store failed; messages left unacknowledged', { messages: group.length, error: String(err) });
          for (const w of group) w.reject(err);
        }
      }
    } finally {
      this.writing = false;
    }
  }

  /** One KV batch and one leaf-log transaction for the whole group; a PUBACK code per message. */
  private async write(messages: VerifiedRecord[][]): Promise<number[]> {
    const receivedAt = this.now();
    const all = messages.flat();
    const outcomes = await this.options.kv.putIfAbsent(all.map((r) => ({ address: r.address, encodedKey: r.encodedKey, record: r.record, originProof: r.originProof, receivedAt })));
    // Leaves of inserted *and* duplicate records: a duplicate may be the redelivery of a message whose
    // KV write landed before a crash but whose leaves did not. The leaf log ignores ones it has.
    this.options.leafLog.append(all.filter((_, i) => outcomes[i] !== 'conflict').map((r) => ({ recordId: r.id, leafHash: r.leafHash })));
    this.counters.groups++;
    let offset = 0;
    return messages.map((records) => {
      const mine: PutOutcome[] = outcomes.slice(offset, offset + records.length);
      offset += records.length;
      for (const outcome of mine) {
        if (outcome === 'inserted') this.counters.accepted++;
        else if (outcome === 'duplicate') this.counters.duplicates++;
        else this.counters.conflicts++;
      }
      return mine.includes('conflict') && !mine.includes('inserted') ? PUBACK_UNSPECIFIED_ERROR : PUBACK_SUCCESS;
    });
  }
}

export interface MqttIngestOptions extends IngestPipelineOptions {
  brokerUrl: string;
  /** Fixed per gateway instance: the broker keeps its session (and unacknowledged messages) across restarts. */
  clientId: string;
  /** Shared-subscription group; null subscribes to the plain filter (a broker without $share, one gateway). */
  shareGroup?: string | null;
  /** MQTT 5 receive maximum per connection: how many unacknowledged messages the broker may push at once. */
  receiveMaximum?: number;
  /** Connections in the share group (default 1); each holds one unacknowledged message at a time. */
  connections?: number;
  /** MQTT 5 session expiry after a disconnect (default 7 days); 0 ends the session with the connection (benchmarks). */
  sessionExpirySeconds?: number;
  /** 'auto' (default): MQTT 5, falling back to 3.1.1 when the broker refuses 5. */
  protocolVersion?: 4 | 5 | 'auto';
  /** PEM contents for mutual TLS (mqtts:// / wss://): the broker's CA, this gateway's client certificate and key. */
  tls?: { ca: string | Buffer; cert: string | Buffer; key: string | Buffer };
}

export class MqttIngest {
  private clients: MqttClient[] = [];
  readonly pipeline: IngestPipeline;
  private readonly log: LogFn;
  private version: 4 | 5 | null = null;

  constructor(private readonly options: MqttIngestOptions) {
    this.pipeline = new IngestPipeline(options);
    this.log = options.log ?? (() => undefined);
  }

  /** The protocol the broker accepted (null before start). */
  get protocolVersion(): 4 | 5 | null {
    return this.version;
  }

  /** The subscription filter, set by start(); re-subscribed on every reconnect. */
  private filter: string | null = null;

  async start(): Promise<void> {
    const count = this.options.connections ?? 1;
    const wanted = this.options.protocolVersion ?? 'auto';
    const group = this.options.shareGroup === undefined ? DEFAULT_SHARE_GROUP : this.options.shareGroup;
    const filter = group === null ? UPLINK_FILTER : `$share/${group}/${UPLINK_FILTER}`;
    this.filter = filter;
    for (let i = 0; i < count; i++) {
      // The first connection keeps the historical client id, so an upgraded gateway resumes its session.
      const clientId = i === 0 ? this.options.clientId : `${this.options.clientId}-${i}`;
      const client = await this.connect(clientId, this.version ?? (wanted === 'auto' ? 5 : wanted), wanted === 'auto');
      this.clients.push(client);
      try {
        await client.subscribeAsync(filter, { qos: 1 });
      } catch (err) {
        // The broker went away between CONNACK and SUBACK: the reconnect handler subscribes again.
        this.log('warn', 'subscribe failed; subscribing again on reconnect', { clientId, error: (err as Error).message });
      }
    }
    this.log('info', 'ingest subscribed', { filter, connections: count, protocolVersion: this.version });
  }

  private async connect(clientId: string, version: 4 | 5, mayFallBack: boolean): Promise<MqttClient> {
    const client = connect(this.options.brokerUrl, {
      clientId,
      clean: false,
      protocolVersion: version,
      ...(this.options.tls ? { ca: this.options.tls.ca, cert: this.options.tls.cert, key: this.options.tls.key } : {}),
      ...(version === 5 ? { properties: { sessionExpiryInterval: this.options.sessionExpirySeconds ?? 7 * 24 * 3600, receiveMaximum: this.options.receiveMaximum ?? 64 } } : {}),
      reconnectPeriod: 1000,
      // MQTT 5: the reason code decides the PUBACK; MQTT.js only calls this on version 5.
      customHandleAcks: (_topic, payload, _packet, done) => {
        this.pipeline.submit(payload).then(
          (code) => done(code),
          (err: unknown) => this.storeFailed(client, err, done),
        );
      },
    });
    if (version === 4) {
      // MQTT 3.1.1: the PUBACK is sent when handleMessage calls back; set before CONNACK, because a
      // resumed session delivers its queue right after it.
      client.handleMessage = (packet, callback) => {
        if (packet.qos === 0) return callback();
        this.pipeline.submit(typeof packet.payload === 'string' ? new Uint8Array(Buffer.from(packet.payload)) : packet.payload).then(
          () => callback(),
          (err: unknown) => this.storeFailed(client, err, callback),
        );
      };
    }
    const refused = await new Promise<boolean>((resolve) => {
      const onError = (err: Error) => {
        // A broker that speaks only 3.1.1 answers an MQTT 5 CONNECT with "unacceptable protocol version".
        if (mayFallBack && version === 5 && /protocol/i.test(err.message)) {
          client.off('connect', onConnect);
          client.off('error', onError);
          resolve(true);
        } else {
          // Anything else (broker not up yet): MQTT.js keeps retrying, as a gateway started before its broker should.
          this.log('warn', 'mqtt connect failed; retrying', { error: err.message });
        }
      };
      const onConnect = () => {
        client.off('error', onError);
        resolve(false);
      };
      client.once('connect', onConnect);
      client.on('error', onError);
    });
    if (refused) {
      await client.endAsync(true);
      this.log('info', 'broker refused MQTT 5; using MQTT 3.1.1', { broker: this.options.brokerUrl });
      return this.connect(clientId, 4, false);
    }
    this.version = version;
    client.on('error', (err) => this.log('warn', 'mqtt error', { error: err.message }));
    client.on('connect', () => {
      this.log('info', 'mqtt connected', { broker: this.options.brokerUrl, clientId });
      // Subscribe again on every reconnect even when the session was resumed: Mosquitto 2.0 restores
      // plain subscriptions from its persistence file after a restart but not shared ($share/…)
      // ones, which would leave a resumed session subscribed to nothing. Re-subscribing is idempotent.
      if (this.filter !== null) {
        client.subscribeAsync(this.filter, { qos: 1 }).catch((err: unknown) => this.log('warn', 'resubscribe failed', { error: (err as Error).message }));
      }
    });
    return client;
  }

  /** The store failed: no PUBACK. A broker redelivers only when the session resumes, so drop the connection (MQTT.js reconnects). */
  private storeFailed(client: MqttClient, err: unknown, done: (err: Error) => void): void {
    done(err instanceof Error ? err : new Error(String(err)));
    client.stream?.destroy();
  }

  stats(): IngestStats {
    return { ...this.pipeline.stats(), connected: this.clients.length > 0 && this.clients.every((c) => c.connected) };
  }

  async stop(): Promise<void> {
    const clients = this.clients;
    this.clients = [];
    await Promise.all(clients.map((c) => c.endAsync()));
  }
}
