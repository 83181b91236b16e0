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
