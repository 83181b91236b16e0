// Where a gateway's uplinks come from: its embedded broker (stored before the device's PUBACK) or a subscription to an external broker.
import { readFileSync } from 'node:fs';
import { type DeviceActivity, RecentDevices } from '../api/device-activity.js';
import { IngestPipeline, MqttIngest, type IngestPipelineOptions, type IngestStats } from '../ingest/mqtt-ingest.js';
import { GatewayConfigError, type GatewayConfig } from '../node/gateway-config.js';
import { startEmbeddedBroker } from './embedded-broker.js';

export interface UplinkIntake {
  /** The broker devices publish to: the embedded broker's listening address, or broker.url. */
  brokerUrl: string;
  embedded: boolean;
  stats(): IngestStats;
  /** For the dashboard: the embedded broker's clients and the device ids of recent uplink topics; unknown with an external broker. */
  devices(): DeviceActivity;
  stop(): Promise<void>;
}

/** Read once at start: a renewed certificate takes a gateway restart. */
function readTlsFiles(tls: NonNullable<GatewayConfig['broker']['tls']>): { ca: Buffer; cert: Buffer; key: Buffer } {
  const read = (what: 'ca' | 'cert' | 'key') => {
    try {
      return readFileSync(tls[what]);
    } catch (cause) {
      throw new GatewayConfigError('CONFIG_UNREADABLE', `broker.tls.${what}: cannot read ${tls[what]}: ${(cause as Error).message}`, { cause });
    }
  };
  return { ca: read('ca'), cert: read('cert'), key: read('key') };
}

/** `clientId` is the fixed MQTT client id of the subscription (external broker), so its session survives restarts. */
export async function startUplinkIntake(broker: GatewayConfig['broker'], clientId: string, parts: IngestPipelineOptions): Promise<UplinkIntake> {
  if (broker.url !== null) {
    const ingest = new MqttIngest({
      ...parts, brokerUrl: broker.url, clientId, shareGroup: broker.shareGroup, receiveMaximum: broker.receiveMaximum, connections: broker.connections,
      ...(broker.tls ? { tls: readTlsFiles(broker.tls) } : {}),
    });
    await ingest.start();
    return {
      brokerUrl: broker.url, embedded: false, stats: () => ingest.stats(), stop: () => ingest.stop(),
      devices: () => ({ brokerClients: null, recentDevices: null, windowSeconds: 0 }),
    };
  }
  const pipeline = new IngestPipeline(parts);
  const listen = broker.embedded ?? { host: '127.0.0.1', port: 1883 };
  const recent = new RecentDevices();
  const embedded = await startEmbeddedBroker({
    ...listen, ...(parts.log ? { log: parts.log } : {}),
    uplinkSink: (topic, payload) => {
      recent.sawTopic(topic);
      return pipeline.submit(payload);
    },
  });
  let listening = true;
  return {
    brokerUrl: embedded.url,
    embedded: true,
    // "connected" for the embedded broker: it is listening.
    stats: () => ({ ...pipeline.stats(), connected: listening }),
    devices: () => ({ brokerClients: embedded.connectedClients(), recentDevices: recent.count(), windowSeconds: recent.windowMs / 1000 }),
    stop: async () => {
      listening = false;
      await embedded.close();
    },
  };
}
