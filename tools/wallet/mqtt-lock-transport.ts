// The wallet's end of the MQTT lock relay: a LockTransport that publishes frames to the lock's downlink topic and reads its reply topic.
//
// One MQTT connection and one fresh random session id per LockTransport, so several phones (or
// several sessions of one phone) never read each other's replies. The reply topic is subscribed
// (SUBACK awaited) before the first frame goes out, so the CHALLENGE cannot be missed.
import { connectAsync, type MqttClient } from 'mqtt';
import { randomBytes } from 'node:crypto';
import { Socket } from 'node:net';
import { CarchainError } from '../../protocol/errors.js';
import { LockError } from '../../protocol/lock/errors.js';
import { MAX_FRAME_BYTES } from '../../protocol/lock/messages.js';
import type { LockTransport } from '../../protocol/lock/transport.js';
import { lockRelayTopics } from '../../firmware/mqtt-topics.js';

export interface MqttLockTransportOptions {
  /** mqtt://host:port */
  brokerUrl: string;
  /** The lock's device id (its relay topics). */
  deviceId: string;
  /** Default: 16 random bytes, base64url. Tests set it to act as a relay in the middle. */
  sessionId?: string;
  username?: string;
  password?: string;
  connectTimeoutMs?: number;
}

export function newLockSessionId(): string {
  return randomBytes(16).toString('base64url');
}

/** Splits `mqtt://host:port/DEVICE_ID` into the broker URL and the device id. */
export function parseMqttLockUrl(url: string): { brokerUrl: string; deviceId: string } {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch (cause) {
    throw new CarchainError('USAGE', `not a URL: ${url}`, { cause });
  }
  const deviceId = decodeURIComponent(parsed.pathname.replace(/^\//, ''));
  if (!/^mqtts?:$/.test(parsed.protocol) || deviceId === '') {
    throw new CarchainError('USAGE', `expected mqtt://HOST:PORT/DEVICE_ID, got ${url}`);
  }
  return { brokerUrl: `${parsed.protocol}//${parsed.host}`, deviceId };
}

export async function connectMqttLockTransport(options: MqttLockTransportOptions): Promise<LockTransport & { sessionId: string }> {
  const topics = lockRelayTopics(options.deviceId);
  const sessionId = options.sessionId ?? newLockSessionId();
  const downlink = topics.downlink(sessionId);
  const reply = topics.reply(sessionId);
  let client: MqttClient;
  try {
    client = await connectAsync(options.brokerUrl, {
      clientId: `carchain-wallet-${randomBytes(6).toString('hex')}`,
      clean: true,
      protocolVersion: 5,
      reconnectPeriod: 0,
      connectTimeout: options.connectTimeoutMs ?? 10_000,
      ...(options.username === undefined ? {} : { username: options.username }),
      ...(options.password === undefined ? {} : { password: options.password }),
    });
  } catch (cause) {
    throw new LockError('TRANSPORT_CLOSED', `cannot reach the MQTT broker ${options.brokerUrl}: ${(cause as Error).message}`, { cause });
  }
  noDelay(client);
  const frames: Uint8Array[] = [];
  const waiters: { resolve: (f: Uint8Array) => void; reject: (e: Error) => void }[] = [];
  let closed: LockError | null = null;
  let ended = false;
  const shut = (why: string) => {
    if (closed !== null) return;
    closed = new LockError('TRANSPORT_CLOSED', why);
    for (const w of waiters.splice(0)) w.reject(closed);
  };
  client.on('message', (topic, payload) => {
    if (topic !== reply || payload.length === 0 || payload.length > MAX_FRAME_BYTES) return;
    const frame = new Uint8Array(payload);
    const w = waiters.shift();
    if (w) w.resolve(frame);
    else frames.push(frame);
  });
  client.on('close', () => shut('broker connection closed'));
  client.on('error', (err) => shut(`broker error: ${err.message}`));
  try {
    await client.subscribeAsync(reply, { qos: 1 });
  } catch (cause) {
    await client.endAsync(true);
    throw new LockError('TRANSPORT_CLOSED', `cannot subscribe to ${reply}: ${(cause as Error).message}`, { cause });
  }

  return {
    sessionId,
    send: async (frame) => {
      if (closed !== null) throw closed;
      try {
        await client.publishAsync(downlink, Buffer.from(frame), { qos: 1 });
      } catch (cause) {
        throw new LockError('TRANSPORT_CLOSED', `publish to ${downlink} failed: ${(cause as Error).message}`, { cause });
      }
    },
    receive: (timeoutMs = 10_000) => {
      const ready = frames.shift();
      if (ready !== undefined) return Promise.resolve(ready);
      if (closed !== null) return Promise.reject(closed);
      return new Promise<Uint8Array>((resolve, reject) => {
        const waiter = {
          resolve: (f: Uint8Array) => {
            clearTimeout(timer);
            resolve(f);
          },
          reject: (e: Error) => {
            clearTimeout(timer);
            reject(e);
          },
        };
        const timer = setTimeout(() => {
          waiters.splice(waiters.indexOf(waiter), 1);
          reject(new LockError('TRANSPORT_CLOSED', `no frame from the lock within ${timeoutMs} ms (relay ${options.deviceId})`));
        }, timeoutMs);
        waiters.push(waiter);
      });
    },
    close: async () => {
      if (ended) return;
      ended = true;
      if (closed === null && client.connected) {
        // An empty message tells the lock to drop the session now rather than at its idle timeout.
        await client.publishAsync(downlink, Buffer.alloc(0), { qos: 1 }).catch(() => undefined);
      }
      shut('closed');
      await client.endAsync();
    },
  };
}

/** Frames are small and answered at once: Nagle's algorithm against delayed ACKs would add ~40 ms per hop. */
function noDelay(client: MqttClient): void {
  const stream: unknown = client.stream;
  if (stream instanceof Socket) stream.setNoDelay(true);
}
