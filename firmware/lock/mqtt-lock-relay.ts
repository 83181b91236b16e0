// The lock's end of the MQTT relay: phone frames arrive on the device's lock downlink topics, one LockConnection per relay session.
//
// The broker (and a gateway behind it) only ever carries what the TCP link carries: the HELLO and
// CHALLENGE (ephemeral points, nonces, epoch, lock time, the lock's signature), AUTH / CMD / RSP as
// AES-256-GCM ciphertext, bare ERROR codes, and — when a wallet pushes one — a key set with its
// proof, which is public on the chain anyway. Each MQTT message is exactly one frame (MQTT preserves
// message boundaries, so no length prefix); an empty payload is the phone saying goodbye.
//
// Session ids are chosen by the phone and only keep phones apart; they are not a security boundary:
// whoever can publish to the topic can inject frames, and the handshake refuses them like any other
// injected bytes. Per-source rate limiting sees one source per session id, so a relay attacker who
// rotates ids evades only the per-source back-off, never the per-key back-off or the global block.
import { connectAsync, type IClientOptions, type MqttClient } from 'mqtt';
import { randomBytes } from 'node:crypto';
import { Socket } from 'node:net';
import { isLockError, LockError } from '../../protocol/lock/errors.js';
import { encodeError, MAX_FRAME_BYTES } from '../../protocol/lock/messages.js';
import { lockRelayTopics, parseLockDownlinkTopic, type LockRelayTopics } from '../mqtt-topics.js';
import type { CarLock, LockConnection } from './car-lock.js';

export interface MqttLockRelayOptions {
  /** mqtt://host:port (anything MQTT.js connects to). */
  brokerUrl: string;
  /** The device id whose topics the lock listens on (firmware/mqtt-topics.ts rules). */
  deviceId: string;
  clientId?: string;
  username?: string;
  password?: string;
  /** A session silent this long is dropped (default 30 s, as the TCP idle timeout). */
  idleMs?: number;
  /** At most this many live relay sessions; the least recently used one is dropped beyond it (default 64). */
  maxSessions?: number;
  /** Called for every frame handled (for logs and tests). */
  onFrame?: (event: { sessionId: string; bytesIn: number; replies: number }) => void;
}

export interface MqttLockRelay {
  readonly topics: LockRelayTopics;
  /** Live relay sessions. */
  readonly sessions: number;
  close(): Promise<void>;
}

interface RelaySession {
  connection: LockConnection;
  timer: NodeJS.Timeout;
}

export async function startMqttLockRelay(lock: CarLock, options: MqttLockRelayOptions): Promise<MqttLockRelay> {
  const topics = lockRelayTopics(options.deviceId);
  const idleMs = options.idleMs ?? 30_000;
  const maxSessions = options.maxSessions ?? 64;
  const clientOptions: IClientOptions = {
    clientId: options.clientId ?? `carchain-lock-${options.deviceId}-${randomBytes(4).toString('hex')}`,
    clean: true,
    protocolVersion: 5,
    reconnectPeriod: 1000,
    resubscribe: true,
    connectTimeout: 10_000,
    ...(options.username === undefined ? {} : { username: options.username }),
    ...(options.password === undefined ? {} : { password: options.password }),
  };
  // The broker must be there at start (a clear error beats a lock that silently never hears the
  // relay); after that MQTT.js reconnects and re-subscribes on its own.
  let client: MqttClient;
  try {
    client = await connectAsync(options.brokerUrl, clientOptions, false);
  } catch (cause) {
    throw new LockError('TRANSPORT_CLOSED', `cannot reach the MQTT broker ${options.brokerUrl}: ${(cause as Error).message}`, { cause });
  }
  noDelay(client);
  client.on('connect', () => noDelay(client));
  // Insertion order of a Map = least recently used first (touch() re-inserts).
  const sessions = new Map<string, RelaySession>();

  const drop = (sessionId: string) => {
    const s = sessions.get(sessionId);
    if (s === undefined) return;
    clearTimeout(s.timer);
    s.connection.close();
    sessions.delete(sessionId);
  };
  const touch = (sessionId: string): RelaySession => {
    const existing = sessions.get(sessionId);
    if (existing !== undefined) {
      clearTimeout(existing.timer);
      sessions.delete(sessionId);
    } else if (sessions.size >= maxSessions) {
      drop(sessions.keys().next().value!);
    }
    const timer = setTimeout(() => drop(sessionId), idleMs);
    timer.unref();
    const s: RelaySession = { connection: existing?.connection ?? lock.connect(`mqtt:${sessionId}`), timer };
    sessions.set(sessionId, s);
    return s;
  };
  const publish = (sessionId: string, frame: Uint8Array) => {
    client.publish(topics.reply(sessionId), Buffer.from(frame), { qos: 1 }, () => undefined);
  };

  client.on('message', (topic, payload) => {
    const sessionId = parseLockDownlinkTopic(options.deviceId, topic);
    if (sessionId === null) return;
    if (payload.length === 0) return drop(sessionId);
    if (payload.length > MAX_FRAME_BYTES) {
      publish(sessionId, encodeError('BAD_FRAME'));
      return drop(sessionId);
    }
    const session = touch(sessionId);
    session.connection.handle(new Uint8Array(payload)).then(
      (replies) => {
        for (const r of replies) publish(sessionId, r);
        options.onFrame?.({ sessionId, bytesIn: payload.length, replies: replies.length });
      },
      (err: unknown) => {
        publish(sessionId, encodeError(isLockError(err) ? err.code : 'BAD_FRAME'));
        drop(sessionId);
      },
    );
  });
  await client.subscribeAsync(topics.downlinkFilter, { qos: 1 });

  return {
    topics,
    get sessions() {
      return sessions.size;
    },
    close: async () => {
      for (const id of [...sessions.keys()]) drop(id);
      await client.endAsync();
    },
  };
}

/** Frames are small and answered at once: Nagle's algorithm against delayed ACKs would add ~40 ms per hop. */
function noDelay(client: MqttClient): void {
  const stream: unknown = client.stream;
  if (stream instanceof Socket) stream.setNoDelay(true);
}
