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
import { FrameInbox } from '../../firmware/lock/frame-inbox.js';
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
  const inbox = new FrameInbox(`lock (relay ${options.deviceId})`);
  let ended = false;
  client.on('message', (topic, payload) => {
    if (topic !== reply || payload.length === 0 || payload.length > MAX_FRAME_BYTES) return;
    inbox.push(new Uint8Array(payload));
  });
  client.on('close', () => inbox.close('broker connection closed'));
  client.on('error', (err) => inbox.close(`broker error: ${err.message}`));
  try {
    await client.subscribeAsync(reply, { qos: 1 });
  } catch (cause) {
    await client.endAsync(true);
    throw new LockError('TRANSPORT_CLOSED', `cannot subscribe to ${reply}: ${(cause as Error).message}`, { cause });
  }

  return {
    sessionId,
    send: async (frame) => {
      if (inbox.closed !== null) throw inbox.closed;
      try {
        await client.publishAsync(downlink, Buffer.from(frame), { qos: 1 });
      } catch (cause) {
        throw new LockError('TRANSPORT_CLOSED', `publish to ${downlink} failed: ${(cause as Error).message}`, { cause });
      }
    },
    receive: (timeoutMs) => inbox.receive(timeoutMs),
    close: async () => {
      if (ended) return;
      ended = true;
      if (inbox.closed === null && client.connected) {
        // An empty message tells the lock to drop the session now rather than at its idle timeout.
        await client.publishAsync(downlink, Buffer.alloc(0), { qos: 1 }).catch(() => undefined);
      }
      inbox.close('closed');
      await client.endAsync();
    },
  };
}

/** Frames are small and answered at once: Nagle's algorithm against delayed ACKs would add ~40 ms per hop. */
function noDelay(client: MqttClient): void {
  const stream: unknown = client.stream;
  if (stream instanceof Socket) stream.setNoDelay(true);
}
