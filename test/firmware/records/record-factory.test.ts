// Tests for turning observations into sealed records: the day's address, the start-date rule, openable by the owner.
import t from 'tap';
import { generateKeyPairSync } from 'node:crypto';
import { RecordFactory } from '../../../firmware/records/record-factory.js';
import { TripRecorder } from '../../../firmware/trips/trip-recorder.js';
import { builtinFormatDictionary } from '../../../protocol/builtin-formats.js';
import { masterKeyFromSeed } from '../../../protocol/hd-keys.js';
import { poolMaterialFor } from '../../../protocol/owner-keys.js';
import { deductFrom, derivePoolAddresses } from '../../../protocol/pools.js';
import { openRecord } from '../../../protocol/record.js';

const rsa = generateKeyPairSync('rsa', { modulusLength: 3072, publicExponent: 65537 });
const material = poolMaterialFor(masterKeyFromSeed(new Uint8Array(64).fill(5)), 0, 16);
const poolAddresses = derivePoolAddresses(material);
const factory = new RecordFactory({ vid: 'LBVNU79049SB81546', ownerRsaPublicKey: rsa.publicKey, poolAddresses, userSeed: material.userSeed });
const formats = builtinFormatDictionary();

t.test('a trip across midnight is filed under its start date and opens for the owner', (t) => {
  const start = Date.UTC(2026, 10, 21, 23, 50);
  const rec = new TripRecorder(3, start);
  for (let i = 0; i < 20 * 60; i += 10) {
    rec.addSpeed(start + i * 1000, 50);
    rec.addFix(start + i * 1000, 31.25 + i / 10_000, 121.44);
  }
  const record = factory.trip(rec.finish(start + 20 * 60_000));
  t.equal(record.address, deductFrom(poolAddresses, '20261121', material.userSeed), "the owner finds it under the start day's address");
  const opened = openRecord(record, formats, rsa.privateKey);
  t.equal(opened.format, 'trip-gps');
  t.same(opened.key, { SESSION_ID: 3, START_TIME: 20261121235000, END_TIME: 20261122001000 });
  t.equal(opened.value.VID, 'LBVNU79049SB81546');
  t.equal((opened.value.GPS as unknown[]).length, opened.value.len);
  t.equal(opened.value.DURATION_S, 1200);
  t.end();
});

t.test('DTC, snapshot and VIN records', (t) => {
  const at = Date.UTC(2026, 10, 22, 8);
  const dtc = openRecord(factory.dtc({ t: at, sessionId: 4, stored: ['P0301', 'P0420'], pending: ['P0171'], mil: true }), formats, rsa.privateKey);
  t.same(dtc.value, { VID: 'LBVNU79049SB81546', stored: ['P0301', 'P0420'], pending: ['P0171'], mil: true });
  const snap = openRecord(factory.snapshot({ t: at, seq: 9, pids: { RPM: 812, SPEED: 0 } }), formats, rsa.privateKey);
  t.same(snap.key, { TIME: 20261122080000, SEQ: 9 });
  const vin = openRecord(factory.vin(at, 'LBVNU79049SB81546'), formats, rsa.privateKey);
  t.equal(vin.value.VIN, 'LBVNU79049SB81546');
  t.end();
});
