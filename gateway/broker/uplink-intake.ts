// Where a gateway's uplinks come from: its embedded broker (stored before the device's PUBACK) or a subscription to an external broker.
import { IngestPipeline, MqttIngest, type IngestPipelineOptions, type IngestStats } from '../ingest/mqtt-ingest.js';
import type { GatewayConfig } from '../node/gateway-config.js';
import { startEmbeddedBroker } from './embedded-broker.js';

export interface UplinkIntake {
  /** The broker devices publish to: the embedded broker's listening address, or broker.url. */
  brokerUrl: string;
  embedded: boolean;
  stats(): IngestStats;
  stop(): Promise<void>;
}

/** `clientId` is the fixed MQTT client id of the subscription (external broker), so its session survives restarts. */
export async function startUplinkIntake(broker: GatewayConfig['broker'], clientId: string, parts: IngestPipelineOptions): Promise<UplinkIntake> {
  if (broker.url !== null) {
    const ingest = new MqttIngest({
      ...parts, brokerUrl: broker.url, clientId, shareGroup: broker.shareGroup, receiveMaximum: broker.receiveMaximum, connections: broker.connections,
    });
    await ingest.start();
    return { brokerUrl: broker.url, embedded: false, stats: () => ingest.stats(), stop: () => ingest.stop() };
  }
  const pipeline = new IngestPipeline(parts);
  const listen = broker.embedded ?? { host: '127.0.0.1', port: 1883 };
  const embedded = await startEmbeddedBroker({ ...listen, ...(parts.log ? { log: parts.log } : {}), uplinkSink: (_topic, payload) => pipeline.submit(payload) });
  let listening = true;
  return {
    brokerUrl: embedded.url,
    embedded: true,
    // "connected" for the embedded broker: it is listening.
    stats: () => ({ ...pipeline.stats(), connected: listening }),
    stop: async () => {
      listening = false;
      await embedded.close();
    },
  };
}
