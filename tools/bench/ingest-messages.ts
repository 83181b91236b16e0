// bench:ingest fixtures: simulated devices (own owner, pool addresses and uplink topic each) and their pre-signed ~1 KiB-record uplink messages.
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { builtinFormatDictionary } from '../../protocol/builtin-formats.js';
import { devicePoolKey, deviceRoot } from '../../protocol/device-keys.js';
import { masterKeyFromSeed } from '../../protocol/hd-keys.js';
import { poolKeyPair, poolMaterialFor } from '../../protocol/owner-keys.js';
import { authorisePoolKey } from '../../protocol/pool-authorisation.js';
import { derivePoolAddresses } from '../../protocol/pools.js';
import { encodeRecord, recordId, sealRecord, type SealedRecord } from '../../protocol/record.js';
import { createUplinkMessage, encodeUplinkMessage } from '../../protocol/uplink.js';

export interface BenchMessage {
  /** Index in the run's message list. */
  index: number;
  /** Which simulated device (and publisher connection) sends it. */
  device: number;
  topic: string;
  /** The pool address its records are filed under (the KV hash tag on the gateway side). */
  address: string;
  bytes: Buffer;
  /** Hex id of its first record: the leaf log sees it when the message's group is durable. */
  firstRecordId: string;
}

export interface BenchFixture {
  messages: BenchMessage[];
  /** Mean encoded size of one sealed record (the "1 KiB records"). */
  recordBytes: number;
  messageBytes: number;
  /** Device id → uplink topic; the bare pipe tags its Redis keys by topic. */
  topics: string[];
}

export const POOLS_PER_DEVICE = 4;

/**
 * A trip-gps record sized to ~1 KiB sealed under an RSA-3072 owner key (the production key size):
 * 384 bytes of wrapped key, GCM overhead, the key and a CBOR value of `points` GPS fixes and speeds.
 */
function tripValue(points: number): Record<string, unknown> {
  return {
    VID: 'LBVNU79049SB81546', len: points,
    GPS: Array.from({ length: points }, (_, i) => ({ lat: 31.2 + i / 1000, lng: 121.4 + i / 1000 })),
    SPEED: Array.from({ length: points }, (_, i) => i * 3),
  };
}

export function makeFixture(o: { run: string; devices: number; messages: number; recordsPerMessage: number; gpsPoints: number }): BenchFixture {
  const formats = builtinFormatDictionary();
  const tripGps = formats.get('trip-gps');
  // One RSA key for every owner: its identity is invisible to the gateway, and 3072-bit keygen is slow.
  const { publicKey } = generateKeyPairSync('rsa', { modulusLength: 3072, publicExponent: 65537 });
  const now = Date.now();
  const value = tripValue(o.gpsPoints);
  const devices = Array.from({ length: o.devices }, (_, d) => {
    const owner = masterKeyFromSeed(randomBytes(64));
    const root = deviceRoot(randomBytes(32));
    const addresses = derivePoolAddresses(poolMaterialFor(owner, 0, POOLS_PER_DEVICE));
    const pools = addresses.map((address, i) => ({
      address,
      authorisation: authorisePoolKey(poolKeyPair(owner, 0, i).privateKey, { devicePublicKey: devicePoolKey(root, i).publicKey, notBefore: now - 86_400_000, notAfter: now + 86_400_000 }),
      privateKey: devicePoolKey(root, i).privateKey,
    }));
    return { topic: `carchain/v1/devices/bench-${o.run}-${d}/uplink`, pools };
  });
  let recordBytesTotal = 0;
  let recordCount = 0;
  const messages = Array.from({ length: o.messages }, (_, m): BenchMessage => {
    const device = m % o.devices;
    const pool = devices[device]!.pools[Math.floor(m / o.devices) % POOLS_PER_DEVICE]!;
    const records: SealedRecord[] = Array.from({ length: o.recordsPerMessage }, (_, k) =>
      sealRecord(tripGps, pool.address, { SESSION_ID: m * o.recordsPerMessage + k, START_TIME: 20261121070000, END_TIME: 20261121080000 }, value, publicKey));
    for (const r of records.slice(0, 4)) {
      recordBytesTotal += encodeRecord(r).length;
      recordCount++;
    }
    const bytes = Buffer.from(encodeUplinkMessage(createUplinkMessage(records, pool.authorisation, pool.privateKey)));
    const first = records[0]!;
    return { index: m, device, topic: devices[device]!.topic, address: pool.address, bytes, firstRecordId: Buffer.from(recordId(first.address, first.encodedKey)).toString('hex') };
  });
  return {
    messages,
    recordBytes: Math.round(recordBytesTotal / recordCount),
    messageBytes: Math.round(messages.reduce((s, m) => s + m.bytes.length, 0) / messages.length),
    topics: devices.map((d) => d.topic),
  };
}
