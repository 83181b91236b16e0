// bench:ingest baselines: the same message bytes through the same broker to subscribers that only write them to Redis (or only acknowledge).
//
// The subscribers are set up like MqttIngest's: the same number of connections in a private MQTT 5
// $share group, QoS 1, receive maximum 64, and manual acknowledgement — MQTT.js customHandleAcks,
// the PUBACK sent only once the handler resolved (on the embedded Aedes broker, MQTT 3.1.1, one
// plain subscriber acknowledging through handleMessage). A message is counted when its handler
// resolved, i.e. when its PUBACK goes out. Handlers:
//   redis  one SET of the raw payload under <prefix>:{<topic>}:m:<n> (hash-tagged by the device's
//          topic: no decoding), through one ioredis Cluster client with auto-pipelining, so the
//          SETs of concurrent messages travel to each master as one pipeline.
//   ack    nothing: the broker's delivery rate alone (the baseline this bench used before).
import { connectAsync, type IClientOptions, type MqttClient } from 'mqtt';
import type { Cluster } from 'ioredis';
import { UPLINK_FILTER } from '../../gateway/ingest/mqtt-ingest.js';

export type BareHandler = { kind: 'redis'; cluster: Cluster; prefix: string } | { kind: 'ack' };

export interface BareSubscribers {
  handled(): number;
  end(): Promise<void>;
}

function handlerFor(h: BareHandler): (topic: string, payload: Buffer) => Promise<unknown> {
  if (h.kind === 'ack') return () => Promise.resolve();
  let n = 0;
  return (topic, payload) => h.cluster.set(`${h.prefix}:{${topic}}:m:${n++}`, payload);
}

export async function startBareSubscribers(o: { url: string; protocolVersion: 4 | 5; connections: number; run: string; round: string; handler: BareHandler }): Promise<BareSubscribers> {
  const handle = handlerFor(o.handler);
  let handled = 0;
  const clients: MqttClient[] = [];
  if (o.protocolVersion === 5) {
    for (let i = 0; i < o.connections; i++) {
      const options: IClientOptions = {
        protocolVersion: 5, clientId: `carchain-bench-bare-${o.run}-${o.round}-${i}`, clean: true, properties: { receiveMaximum: 64 },
        customHandleAcks: (topic, payload, _packet, done) => {
          handle(topic, payload).then(
            () => {
              handled++;
              done(0);
            },
            (err: unknown) => done(err instanceof Error ? err : new Error(String(err))),
          );
        },
      };
      const client = await connectAsync(o.url, options);
      clients.push(client);
      await client.subscribeAsync(`$share/bench-bare-${o.run}-${o.round}/${UPLINK_FILTER}`, { qos: 1 });
    }
  } else {
    // Aedes has no $share: one plain subscriber, the PUBACK held in handleMessage as MqttIngest does on 3.1.1.
    const client = await connectAsync(o.url, { protocolVersion: 4, clientId: `carchain-bench-bare-${o.run}-${o.round}`, clean: true });
    client.handleMessage = (packet, callback) => {
      if (packet.qos === 0) return callback();
      const payload = typeof packet.payload === 'string' ? Buffer.from(packet.payload) : packet.payload;
      handle(packet.topic, payload).then(
        () => {
          handled++;
          callback();
        },
        (err: unknown) => callback(err instanceof Error ? err : new Error(String(err))),
      );
    };
    clients.push(client);
    await client.subscribeAsync(UPLINK_FILTER, { qos: 1 });
  }
  return {
    handled: () => handled,
    end: async () => void (await Promise.all(clients.map((c) => c.endAsync()))),
  };
}
