// MQTT topic names of a device: uplink data, retained state and health, downlink requests. Version 1 namespace.
//
// Rules: every topic starts with `carchain/v1/` (never `$`, which brokers reserve for $SYS and
// shared subscriptions), and a device id is one plain topic level, so no id can smuggle in a `/`,
// a wildcard or a NUL and land a device's data in another device's topic.
export const TOPIC_ROOT = 'carchain/v1';

/** 1..64 of letters, digits, `_`, `-`, `.`, `:`; not starting with `$`, and a single topic level. */
const DEVICE_ID = /^[A-Za-z0-9_.:-]{1,64}$/;

export interface DeviceTopics {
  /** Uplink messages (protocol/uplink.ts), QoS 1, not retained. */
  uplink: string;
  /** `online` / `offline`, retained; `offline` is also the connection's will. */
  state: string;
  /** JSON health report, retained, refreshed periodically. */
  health: string;
  /** Prefix of requests to the device: `…/downlink/<request>`. */
  downlink: string;
  /** Subscription filter for every downlink topic of this device. */
  downlinkFilter: string;
}

export function assertDeviceId(deviceId: string): string {
  if (typeof deviceId !== 'string' || !DEVICE_ID.test(deviceId)) {
    throw new RangeError(`device id must match ${DEVICE_ID.source}, got ${JSON.stringify(deviceId)}`);
  }
  return deviceId;
}

export function deviceTopics(deviceId: string): DeviceTopics {
  const base = `${TOPIC_ROOT}/devices/${assertDeviceId(deviceId)}`;
  return {
    uplink: `${base}/uplink`,
    state: `${base}/state`,
    health: `${base}/health`,
    downlink: `${base}/downlink`,
    downlinkFilter: `${base}/downlink/#`,
  };
}

/** What a gateway subscribes to for every device's uplink data. */
export const ALL_UPLINKS_FILTER = `${TOPIC_ROOT}/devices/+/uplink`;
/** Every device's retained state (online/offline). */
export const ALL_STATES_FILTER = `${TOPIC_ROOT}/devices/+/state`;
/** Every device's retained health report. */
export const ALL_HEALTH_FILTER = `${TOPIC_ROOT}/devices/+/health`;

export type DeviceTopicKind = 'uplink' | 'state' | 'health' | 'downlink';

/** Splits a concrete device topic; null for anything that is not one (wrong root, bad id, unknown kind). */
export function parseDeviceTopic(topic: string): { deviceId: string; kind: DeviceTopicKind; rest: string[] } | null {
  const parts = topic.split('/');
  if (parts.length < 5 || `${parts[0]}/${parts[1]}` !== TOPIC_ROOT || parts[2] !== 'devices') return null;
  const deviceId = parts[3]!;
  const kind = parts[4]!;
  if (!DEVICE_ID.test(deviceId)) return null;
  if (kind === 'downlink') return { deviceId, kind, rest: parts.slice(5) };
  if ((kind === 'uplink' || kind === 'state' || kind === 'health') && parts.length === 5) return { deviceId, kind, rest: [] };
  return null;
}

/** A car-lock relay session id: 16..64 of letters, digits, `_`, `-` (one plain topic level, chosen per connection by the phone). */
const LOCK_SESSION_ID = /^[A-Za-z0-9_-]{16,64}$/;

export function assertLockSessionId(sessionId: string): string {
  if (typeof sessionId !== 'string' || !LOCK_SESSION_ID.test(sessionId)) {
    throw new RangeError(`lock relay session id must match ${LOCK_SESSION_ID.source}, got ${JSON.stringify(sessionId)}`);
  }
  return sessionId;
}

export interface LockRelayTopics {
  /** Phone → lock frames of one session: `…/downlink/lock/<session>` (under the device's downlink prefix). */
  downlink(sessionId: string): string;
  /** What the lock subscribes to: every session's downlink. */
  downlinkFilter: string;
  /** Lock → phone frames of one session: `…/lock-reply/<session>` (beside uplink; no gateway filter matches it). */
  reply(sessionId: string): string;
}

/** The car-lock relay topics of a device (docs/car-lock.md, MQTT relay): only handshake and AES-GCM frames travel here. */
export function lockRelayTopics(deviceId: string): LockRelayTopics {
  const topics = deviceTopics(deviceId);
  const base = `${TOPIC_ROOT}/devices/${deviceId}`;
  return {
    downlink: (sessionId) => `${topics.downlink}/lock/${assertLockSessionId(sessionId)}`,
    downlinkFilter: `${topics.downlink}/lock/+`,
    reply: (sessionId) => `${base}/lock-reply/${assertLockSessionId(sessionId)}`,
  };
}

/** The session id of a concrete lock downlink topic of `deviceId`, or null. */
export function parseLockDownlinkTopic(deviceId: string, topic: string): string | null {
  const prefix = `${deviceTopics(deviceId).downlink}/lock/`;
  if (!topic.startsWith(prefix)) return null;
  const sessionId = topic.slice(prefix.length);
  return LOCK_SESSION_ID.test(sessionId) ? sessionId : null;
}
