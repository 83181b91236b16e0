// MQTT.js options for a device's connection: fixed clientId and persistent session, the retained will, MQTT 5, TLS.
//
// MQTT 5 is the default because a v5 PUBACK carries a reason code: a broker that refuses a publish
// (ACL, quota) says so, where a v3.1.1 broker PUBACKs it and drops it — and the device would then
// delete records nobody received. Reconnecting is left to the uplink (reconnectPeriod 0), which backs
// off with jitter and hands MQTT.js its own stores back so unacknowledged publishes are re-sent.
import type { IClientOptions } from 'mqtt';

export interface UplinkTlsOptions {
  /** CA certificate(s) that signed the broker's certificate (PEM). */
  ca?: string | Buffer | string[] | Buffer[];
  /** The device's client certificate (PEM), for mutual TLS. */
  cert?: string | Buffer;
  /** The device's private key (PEM). */
  key?: string | Buffer;
  passphrase?: string;
  /** Default true; only a test against a throwaway broker should turn it off. */
  rejectUnauthorized?: boolean;
  /** SNI / certificate name to expect when it differs from the URL's host. */
  servername?: string;
}

export interface DeviceConnectionOptions {
  /** mqtt://host:1883, mqtts://host:8883, ws(s)://… — anything MQTT.js connects to. */
  url: string;
  deviceId: string;
  /** Default `carchain-<deviceId>`: fixed, so the broker resumes this device's session. */
  clientId?: string;
  tls?: UplinkTlsOptions;
  username?: string;
  password?: string;
  /** 5 (default) or 4 (MQTT 3.1.1). */
  protocolVersion?: 4 | 5;
  /** MQTT 5 session expiry after a disconnect (default 7 days). */
  sessionExpirySeconds?: number;
  keepaliveSeconds?: number;
  connectTimeoutMs?: number;
}

/** The MQTT.js options; `stateTopic` gets the retained `offline` will. */
export function deviceClientOptions(o: DeviceConnectionOptions, stateTopic: string): IClientOptions {
  return {
    clientId: o.clientId ?? `carchain-${o.deviceId}`,
    clean: false,
    protocolVersion: o.protocolVersion ?? 5,
    keepalive: o.keepaliveSeconds ?? 30,
    connectTimeout: o.connectTimeoutMs ?? 10_000,
    reconnectPeriod: 0,
    resubscribe: false,
    queueQoSZero: false,
    will: { topic: stateTopic, payload: Buffer.from('offline'), qos: 1, retain: true },
    ...(o.protocolVersion === 4 ? {} : { properties: { sessionExpiryInterval: o.sessionExpirySeconds ?? 7 * 86_400 } }),
    ...(o.username === undefined ? {} : { username: o.username }),
    ...(o.password === undefined ? {} : { password: o.password }),
    ...(o.tls ?? {}),
  };
}
