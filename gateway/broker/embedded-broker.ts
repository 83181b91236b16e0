// The gateway's embedded MQTT broker (Aedes 1.2 over node:net): the default when the config names no external broker.
//
// Aedes 1.x speaks MQTT 3.1.1 only (no MQTT 5, so no shared subscriptions, reason codes or receive
// maximum), and it writes a QoS 1 PUBACK to the publisher *before* it stores or forwards the message;
// with its default in-memory persistence a broker crash loses what it had acknowledged. So the gateway
// does not subscribe to its own embedded broker: uplink publishes go straight to a durable sink from
// Aedes' authorizePublish hook, which runs before the PUBACK is written. The publisher's PUBACK then
// means "in the KV store and the leaf log", whatever happens to the process afterwards; a sink failure
// refuses the publish, Aedes drops the connection unacknowledged and the device sends it again.
// Aedes dispatches all packets of one socket read concurrently, so a busy device's messages reach the
// sink together and are written as one group.
import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { Aedes, type AedesOptions, type PublishPacket } from 'aedes';
import { CarchainError } from '../../protocol/errors.js';
import type { LogFn } from '../log.js';
import { UPLINK_TOPIC_PATTERN } from '../ingest/mqtt-ingest.js';

export class EmbeddedBrokerError extends CarchainError<'BROKER_LISTEN_FAILED' | 'BROKER_SINK_FAILED'> {}

/** Takes one uplink message; resolves once it is durable (or deliberately dropped), rejects if it could not be stored. */
export type UplinkSink = (topic: string, payload: Uint8Array) => Promise<unknown>;

export interface EmbeddedBrokerOptions {
  host: string;
  /** 0 picks a free port. */
  port: number;
  /** An aedes-persistence instance (default: Aedes' in-memory persistence). */
  persistence?: AedesOptions['persistence'];
  /** Where uplink publishes (QoS ≥ 1) go before their PUBACK; without it they are only forwarded to subscribers. */
  uplinkSink?: UplinkSink;
  log?: LogFn;
}

export interface EmbeddedBroker {
  /** mqtt://host:port of the listening socket. */
  url: string;
  port: number;
  /** MQTT clients connected right now (every client, not only devices). */
  connectedClients(): number;
  /** Stops accepting, closes every client connection and the broker. */
  close(): Promise<void>;
}

export async function startEmbeddedBroker(options: EmbeddedBrokerOptions): Promise<EmbeddedBroker> {
  const log = options.log ?? (() => undefined);
  const sink = options.uplinkSink;
  const aedes = await Aedes.createBroker({
    ...(options.persistence === undefined ? {} : { persistence: options.persistence as unknown }),
    authorizePublish: (client, packet: PublishPacket, callback) => {
      if (packet.topic.startsWith('$SYS')) return callback(new Error('$SYS topics are reserved'));
      if (sink === undefined || client === null || packet.qos === 0 || !UPLINK_TOPIC_PATTERN.test(packet.topic)) return callback(null);
      const payload = typeof packet.payload === 'string' ? new Uint8Array(Buffer.from(packet.payload)) : new Uint8Array(packet.payload.buffer, packet.payload.byteOffset, packet.payload.byteLength);
      sink(packet.topic, payload).then(
        () => callback(null),
        (err: unknown) => {
          log('warn', 'uplink not stored; publish refused without PUBACK', { clientId: client.id, error: String(err) });
          callback(new EmbeddedBrokerError('BROKER_SINK_FAILED', `uplink not stored: ${String(err)}`, { cause: err, temporary: true }));
        },
      );
    },
  });
  aedes.on('clientError', (client, err) => log('debug', 'mqtt client error', { clientId: client.id, error: err.message }));

  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    aedes.handle(socket);
  });
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port, options.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (cause) {
    await new Promise<void>((resolve) => aedes.close(() => resolve()));
    throw new EmbeddedBrokerError('BROKER_LISTEN_FAILED', `cannot listen on ${options.host}:${options.port}: ${(cause as Error).message}`, { cause, temporary: true });
  }
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  log('info', 'embedded broker listening', { url: `mqtt://${host}:${address.port}`, protocol: 'MQTT 3.1.1 (Aedes)' });

  let closing: Promise<void> | null = null;
  return {
    url: `mqtt://${host}:${address.port}`,
    port: address.port,
    connectedClients: () => aedes.connectedClients,
    close: () => {
      closing ??= (async () => {
        const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
        await new Promise<void>((resolve) => aedes.close(() => resolve()));
        for (const socket of sockets) socket.destroy();
        await stopped;
      })();
      return closing;
    },
  };
}
