// The sighting → plate-sighting record decision on real SQLite files: consent checks in order, unique key seconds, the sealed value, local-only without a broker, config defaults.
import t from 'tap';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseCaitConfig } from '../../../firmware/cait/cait-config.js';
import { ShopUplink } from '../../../firmware/cait/maintenance-jobs.js';
import { loadShopIdentity } from '../../../firmware/cait/shop-identity.js';
import { addMaintenanceJob } from '../../../firmware/cait/shop-terminal.js';
import { sealSightingRecord, SightingRecorder, sightingRefusal } from '../../../firmware/cait/sighting-records.js';
import type { Sighting } from '../../../firmware/cait/sighting-tracker.js';
import { WriteGrantStore, type CachedGrant } from '../../../firmware/cait/write-grant-store.js';
import { SqliteOutbox } from '../../../firmware/outbox/sqlite-outbox.js';
import { builtinFormatDictionary, timeKey } from '../../../protocol/builtin-formats.js';
import { openRecord } from '../../../protocol/record.js';
import { freePort } from '../uplink/fixtures/mosquitto.js';

const dir = mkdtempSync(join(tmpdir(), 'carchain-sighting-recorder-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const shop = loadShopIdentity(join(dir, 'keystore.json'));
const owner = generateKeyPairSync('rsa', { modulusLength: 3072 });

const grant = (o: Partial<CachedGrant> = {}): CachedGrant => ({
  id: 'a'.repeat(64), grantorPublicKey: new Uint8Array(33), vidHash: new Uint8Array(32), plateKey: new Uint8Array(32), formats: ['maintenance', 'plate-sighting'],
  expiresAt: 0, revokedAt: 0, ownerCurrent: true, ticket: { vid: 'LSGHT000000000001', ownerRsaPublicKey: owner.publicKey }, ...o,
});
const sighting = (plate: string, firstSeen: number): Sighting => ({ plate, firstSeen, lastSeen: firstSeen, reads: 1, bestConfidence: 0.93, source: 'cam0' });

t.test('consent is checked in order: the format first, then the ticket', (t) => {
  t.equal(sightingRefusal(grant()), null);
  t.equal(sightingRefusal(grant({ formats: ['maintenance'] })), 'FORMAT_NOT_GRANTED');
  t.equal(sightingRefusal(grant({ formats: ['maintenance'], ticket: undefined })), 'FORMAT_NOT_GRANTED', 'no sightings granted: the ticket does not matter');
  t.equal(sightingRefusal(grant({ ticket: undefined })), 'NO_TICKET');
  t.end();
});

t.test('the record: key {TIME, TERMINAL = shop address}, value sealed to the ticket\'s RSA key', (t) => {
  const at = Date.UTC(2026, 10, 3, 8, 15, 42);
  const record = sealSightingRecord(grant(), shop, sighting('浙D137ET', at + 300), at);
  t.equal(record.address, shop.address, 'filed under the shop address');
  const opened = openRecord(record, builtinFormatDictionary(), owner.privateKey);
  t.equal(opened.format, 'plate-sighting');
  t.same(opened.key, { TIME: timeKey(at), TERMINAL: shop.address });
  t.same(opened.value, { VID: 'LSGHT000000000001', plate: '浙D137ET', confidence: 0.93, shop: shop.address });
  t.throws(() => openRecord(record, builtinFormatDictionary(), generateKeyPairSync('rsa', { modulusLength: 3072 }).privateKey), 'another key cannot open it');
  t.end();
});

t.test('key seconds are unique per terminal, also across a restart and a clock that went back', (t) => {
  const path = join(dir, 'grants-seconds.db');
  let store = WriteGrantStore.open(path, shop);
  t.equal(store.claimSightingSecond(1_000_500), 1_000_000, 'the sighting\'s own second');
  t.equal(store.claimSightingSecond(1_000_900), 1_001_000, 'same second: the next one');
  t.equal(store.claimSightingSecond(5_000_000), 5_000_000);
  t.equal(store.claimSightingSecond(4_000_000), 5_001_000, 'an earlier time never reuses a second');
  store.close();
  store = WriteGrantStore.open(path, shop);
  t.equal(store.claimSightingSecond(5_001_200), 5_002_000, 'remembered across a reopen');
  store.close();
  t.end();
});

t.test('recorder with an outbox: only consented sightings are queued, each under its own key; nothing else touches the outbox', async (t) => {
  const store = WriteGrantStore.open(join(dir, 'grants-recorder.db'), shop);
  // A broker that is not there: records wait in the outbox (the uplink is never started here).
  const uplink = new ShopUplink(shop, { outboxPath: join(dir, 'outbox.db'), brokerUrl: `mqtt://127.0.0.1:${await freePort()}` });
  const lines: string[] = [];
  const recorder = new SightingRecorder(store, shop, uplink, (level, message, fields) => lines.push(JSON.stringify({ message, ...fields })));
  const now = Date.UTC(2026, 10, 3, 9, 0, 0);
  const a = recorder.submit(grant(), sighting('浙D137ET', now));
  const b = recorder.submit(grant({ id: 'b'.repeat(64) }), sighting('沪C55555', now + 10));
  t.match(a, { sent: true, address: shop.address, time: now });
  t.match(b, { sent: true, time: now + 1000 }, 'two cars in one second: consecutive seconds');
  t.not(a.sent && a.recordId, b.sent && b.recordId);
  t.same(recorder.submit(grant({ formats: ['maintenance'] }), sighting('皖A12345', now)), { sent: false, reason: 'FORMAT_NOT_GRANTED' });
  t.same(recorder.submit(grant({ ticket: undefined }), sighting('京N8P3Q7', now)), { sent: false, reason: 'NO_TICKET' });
  t.same(recorder.stats(), { queued: 2, local: { FORMAT_NOT_GRANTED: 1, NO_TICKET: 1, NO_UPLINK: 0 }, waiting: 2 });
  t.notOk(lines.some((l) => l.includes('皖A12345') || l.includes('京N8P3Q7') || l.includes('浙D137ET')), 'the recorder logs grant ids and reasons, not plates');
  t.same(await recorder.stop(0), { waiting: 2 }, 'stopping keeps what was not acknowledged');
  store.close();
  const outbox = SqliteOutbox.open({ path: join(dir, 'outbox.db') });
  t.same(outbox.peekBatch({ maxRecords: 10, maxBytes: 1 << 20 }).map((e) => [e.id, e.format]), [[a.sent && a.recordId, 'plate-sighting'], [b.sent && b.recordId, 'plate-sighting']]);
  outbox.close();
});

t.test('no broker configured: every kept sighting stays local (NO_UPLINK), as before records existed', async (t) => {
  const store = WriteGrantStore.open(join(dir, 'grants-local.db'), shop);
  const recorder = new SightingRecorder(store, shop, null);
  await recorder.start();
  t.same(recorder.submit(grant(), sighting('浙D137ET', Date.now())), { sent: false, reason: 'NO_UPLINK' });
  t.same(recorder.stats(), { queued: 0, local: { FORMAT_NOT_GRANTED: 0, NO_TICKET: 0, NO_UPLINK: 1 }, waiting: 0 });
  t.same(await recorder.stop(10_000), { waiting: 0 });
  store.close();
});

t.test('config: uplink is optional, sightings block defaults', async (t) => {
  const base = { terminal: { dataDir: 'data' }, chain: { rpc: ['http://127.0.0.1:26657'] } };
  const local = parseCaitConfig(base, 'test', '/etc/carchain');
  t.equal(local.uplink, null, 'no broker: local only');
  t.same(local.sightings, { outbox: '/etc/carchain/data/sighting-outbox.db', stopDrainMs: 10_000 });
  const sent = parseCaitConfig({ ...base, uplink: { brokerUrl: 'mqtt://127.0.0.1:1883' }, sightings: { outbox: 'q/out.db', stopDrainMs: 0 } }, 'test', '/etc/carchain');
  t.same(sent.sightings, { outbox: '/etc/carchain/q/out.db', stopDrainMs: 0 });
  t.equal(sent.uplink?.protocolVersion, 5, 'uplink defaults still filled in');
  t.throws(() => parseCaitConfig({ ...base, sightings: { send: true } }), { code: 'CONFIG_INVALID', message: /send/ });
  await t.rejects(addMaintenanceJob(parseCaitConfig({ ...base, terminal: { dataDir: join(dir, 'no-uplink') } }), { plate: '浙D137ET', mileageKm: 1, work: 'x' }),
    { code: 'CONFIG_INVALID', message: /uplink/ }, 'maintenance jobs need a broker');
});
