// Ingest end to end on a private Mosquitto: devices publish, the gateway stores, de-duplicates, logs leaves and counts rejections.
import t from 'tap';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectAsync } from 'mqtt';
import { MqttIngest } from '../../../gateway/ingest/mqtt-ingest.js';
import { UplinkVerifier } from '../../../gateway/ingest/uplink-verifier.js';
import { LeafLog } from '../../../gateway/batches/leaf-log.js';
import { SqliteKvStore } from '../../../gateway/kv/sqlite-kv-store.js';
import { builtinFormatDictionary } from '../../../protocol/builtin-formats.js';
import { devicePoolKey, deviceRoot } from '../../../protocol/device-keys.js';
import { masterKeyFromSeed } from '../../../protocol/hd-keys.js';
import { poolKeyPair, poolMaterialFor } from '../../../protocol/owner-keys.js';
import { authorisePoolKey } from '../../../protocol/pool-authorisation.js';
import { derivePoolAddresses } from '../../../protocol/pools.js';
import { decodeRecord, recordId, sealRecord } from '../../../protocol/record.js';
import { createUplinkMessage, encodeUplinkMessage } from '../../../protocol/uplink.js';
import { startMosquitto } from '../../firmware/uplink/fixtures/mosquitto.js';

const formats = builtinFormatDictionary();
const rsa = generateKeyPairSync('rsa', { modulusLength: 2048, publicExponent: 65537 });
const owner = masterKeyFromSeed(new Uint8Array(64).fill(6));
const addresses = derivePoolAddresses(poolMaterialFor(owner, 0, 4));
const device = deviceRoot(new Uint8Array(32).fill(7));
const now = Date.now();
const auth = authorisePoolKey(poolKeyPair(owner, 0, 0).privateKey, { devicePublicKey: devicePoolKey(device, 0).publicKey, notBefore: now - 86_400_000, notAfter: now + 86_400_000 });
const records = (from: number, n: number) => Array.from({ length: n }, (_, k) => sealRecord(formats.get('dtc'), addresses[0]!, { TIME: 20261121000000 + from + k, SESSION_ID: 1 }, { VID: 'V', stored: [] }, rsa.publicKey));
const message = (from: number, n: number) => encodeUplinkMessage(createUplinkMessage(records(from, n), auth, devicePoolKey(device, 0).privateKey));

t.test('store, de-duplicate, log leaves, count rejections; good traffic keeps flowing', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'carchain-ingest-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const broker = await startMosquitto({ dir });
  t.teardown(() => broker.stop());
  const kv = SqliteKvStore.open({ path: join(dir, 'kv.db') });
  const leafLog = new LeafLog(join(dir, 'leaves.db'));
  const ingest = new MqttIngest({ brokerUrl: broker.url, clientId: 'gw-test', kv, leafLog, verifier: new UplinkVerifier({ formats: () => formats }) });
  await ingest.start();
  t.teardown(async () => {
    await ingest.stop();
    await kv.close();
    leafLog.close();
  });

  const dev = await connectAsync(broker.url, { protocolVersion: 5, clientId: 'device-1' });
  const topic = 'carchain/v1/devices/1Device/uplink';
  const sent: Uint8Array[] = [];
  for (let m = 0; m < 20; m++) {
    const bytes = message(m * 10, 10);
    sent.push(bytes);
    await dev.publishAsync(topic, Buffer.from(bytes), { qos: 1 });
  }
  await dev.publishAsync(topic, Buffer.from(sent[3]!), { qos: 1 }); // a replay
  await dev.publishAsync(topic, Buffer.from('garbage'), { qos: 1 });
  const tampered = Uint8Array.from(sent[4]!);
  tampered[tampered.length - 1] = tampered[tampered.length - 1]! ^ 1;
  await dev.publishAsync(topic, Buffer.from(tampered), { qos: 1 });
  await dev.publishAsync(topic, Buffer.from(message(500, 5)), { qos: 1 }); // good traffic after the bad
  await dev.endAsync();
  // The broker acknowledged the device; the gateway works through its own queue.
  for (let i = 0; i < 100 && ingest.stats().messages < 24; i++) await new Promise((r) => setTimeout(r, 100));

  const stats = ingest.stats();
  t.equal(stats.messages, 24);
  t.equal(stats.accepted, 205, 'every record stored once');
  t.equal(stats.duplicates, 10, 'the replayed message is all duplicates');
  t.equal(stats.rejectedMessages, 2);
  t.equal(stats.rejectedByReason['unsupported-version'] + stats.rejectedByReason.malformed, 1);
  t.equal(stats.rejectedByReason['bad-signature'], 1);
  t.equal(leafLog.pendingLeaves(), 205, 'one leaf per stored record');
  const key = records(0, 1)[0]!.encodedKey;
  const stored = decodeRecord((await kv.get(addresses[0]!, key))!.record);
  t.same(recordId(stored.address, stored.encodedKey), recordId(addresses[0]!, key), 'the stored record is the one sent');
});
