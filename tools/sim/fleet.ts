// A fleet of simulated dongles: each paired to its own generated owner wallet, publishing records through the real outbox and uplink.
import { mkdirSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { FileKeystore } from '../../firmware/keystore/device-keystore.js';
import { SqliteOutbox } from '../../firmware/outbox/sqlite-outbox.js';
import { startPairingServer } from '../../firmware/pairing/pairing-server.js';
import { PairingService } from '../../firmware/pairing/pairing-service.js';
import { MemoryPairingStateStore } from '../../firmware/pairing/pairing-state.js';
import { RecordFactory } from '../../firmware/records/record-factory.js';
import { MqttUplink } from '../../firmware/uplink/mqtt-uplink.js';
import { masterKeyFromSeed } from '../../protocol/hd-keys.js';
import { pairDongle } from '../wallet/pairing-client.js';

export interface FleetOptions {
  devices: number;
  recordsPerDevice: number;
  brokerUrl: string;
  /** Working directory: one keystore and outbox per device. */
  dir: string;
  /** Records per outbox transaction (default 16). */
  recordsPerCommit?: number;
  /** MQTT version of the uplinks (default 5; 4 for a gateway's embedded Aedes broker, which speaks 3.1.1 only). */
  protocolVersion?: 4 | 5;
  onProgress?: (done: number, total: number) => void;
}

export interface FleetResult {
  devices: string[];
  /** Hex record ids of every record the fleet committed (all delivered once this resolves). */
  recordIds: string[];
  /** Where each of them is filed (same order): what getKV needs to read it back. */
  slots: { address: string; encodedKey: Uint8Array }[];
  ms: number;
}

/** Pairs every device over its real local pairing endpoint, then publishes; resolves when every outbox is empty. */
export async function runFleet(options: FleetOptions): Promise<FleetResult> {
  const started = performance.now();
  const perCommit = options.recordsPerCommit ?? 16;
  const total = options.devices * options.recordsPerDevice;
  let done = 0;
  const run = async (index: number) => {
    const dir = join(options.dir, `device-${index}`);
    mkdirSync(dir, { recursive: true });
    const keystore = FileKeystore.loadOrCreate(join(dir, 'keystore.json'));
    const pairing = new PairingService(keystore, new MemoryPairingStateStore());
    const server = await startPairingServer(pairing);
    const owner = masterKeyFromSeed(Uint8Array.from(randomBytes(64)));
    const vid = `LFLEET${String(index).padStart(11, '0')}`; // 17 characters, no I/O/Q: a well-formed VIN
    await pairDongle({ url: server.url, pairingCode: pairing.info().pairingCode!, root: owner, vid, vehicleIndex: 0, poolSize: 8, agent: 'fleet' });
    await server.close();
    const outbox = SqliteOutbox.open({ path: join(dir, 'outbox.db') });
    const uplink = new MqttUplink({ url: options.brokerUrl, deviceId: keystore.deviceAddress, outbox, keys: (address) => pairing.signingKeyFor(address), ...(options.protocolVersion !== undefined ? { protocolVersion: options.protocolVersion } : {}) });
    const ids: string[] = [];
    const slots: { address: string; encodedKey: Uint8Array }[] = [];
    try {
      await uplink.start();
      const factory = new RecordFactory(pairing.binding()!);
      const t0 = Date.now();
      for (let seq = 0; seq < options.recordsPerDevice; ) {
        const batch = [];
        for (let k = 0; k < perCommit && seq < options.recordsPerDevice; k++, seq++) {
          batch.push(factory.snapshot({ t: t0, seq, pids: { RPM: 800 + (seq % 3000), SPEED: seq % 130, COOLANT_TEMP: 88 } }));
        }
        ids.push(...outbox.enqueue(batch).ids);
        slots.push(...batch.map((r) => ({ address: r.address, encodedKey: r.encodedKey })));
        done += batch.length;
        options.onProgress?.(done, total);
      }
      while (outbox.stats().records > 0) await new Promise((r) => setTimeout(r, 50));
    } finally {
      await uplink.stop({ timeoutMs: 5_000 });
      outbox.close();
    }
    return { device: keystore.deviceAddress, ids, slots };
  };
  const results = await Promise.all(Array.from({ length: options.devices }, (_, i) => run(i)));
  return { devices: results.map((r) => r.device), recordIds: results.flatMap((r) => r.ids), slots: results.flatMap((r) => r.slots), ms: Math.round(performance.now() - started) };
}
