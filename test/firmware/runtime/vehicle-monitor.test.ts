// The main loop end to end in-process: ELM327 simulator → real driver → monitor → sealed records, on a scaled clock.
import t from 'tap';
import { generateKeyPairSync } from 'node:crypto';
import { createLinkPair } from '../../../hardware/serial/memory-link.js';
import { startElm327Simulator } from '../../../hardware/sim/elm327-simulator.js';
import { scaledClock, systemClock } from '../../../hardware/sim/sim-clock.js';
import { Elm327Adapter } from '../../../hardware/obd/elm327/elm327-adapter.js';
import { VehicleMonitor } from '../../../firmware/runtime/vehicle-monitor.js';
import { RecordFactory } from '../../../firmware/records/record-factory.js';
import { builtinFormatDictionary } from '../../../protocol/builtin-formats.js';
import { masterKeyFromSeed } from '../../../protocol/hd-keys.js';
import { poolMaterialFor } from '../../../protocol/owner-keys.js';
import { derivePoolAddresses } from '../../../protocol/pools.js';
import { openRecord, type SealedRecord } from '../../../protocol/record.js';

const rsa = generateKeyPairSync('rsa', { modulusLength: 2048, publicExponent: 65537 });
const material = poolMaterialFor(masterKeyFromSeed(new Uint8Array(64).fill(8)), 0, 8);
const factory = new RecordFactory({ vid: 'WVWZZZ1JZXW000001', ownerRsaPublicKey: rsa.publicKey, poolAddresses: derivePoolAddresses(material), userSeed: material.userSeed });
const formats = builtinFormatDictionary();

async function drive(scenario: string, simSeconds: number, scale: number) {
  const clock = scaledClock(systemClock, scale);
  const [deviceEnd, hostEnd] = createLinkPair();
  const sim = startElm327Simulator({ link: deviceEnd, scenario, baudRate: 0, clock });
  const adapter = new Elm327Adapter(hostEnd);
  const records: SealedRecord[] = [];
  let session = 1;
  const monitor = new VehicleMonitor({
    adapter, clock, factory: () => factory, emit: (r) => records.push(...r), nextSessionId: () => session++,
    pidIntervalsMs: { 0x0c: 1000, 0x0d: 1000, 0x05: 10_000 }, snapshotIntervalMs: 60_000,
  });
  const abort = new AbortController();
  const running = monitor.run(abort.signal);
  await new Promise((resolve) => setTimeout(resolve, (simSeconds * 1000) / scale));
  abort.abort();
  await running;
  await adapter.close();
  await sim.stop();
  return { records: records.map((r) => openRecord(r, formats, rsa.privateKey)), stats: monitor.stats() };
}

t.test('ignition-cycle: two trips, each with its track stats, the VIN once', async (t) => {
  const { records, stats } = await drive('ignition-cycle', 640, 40);
  const trips = records.filter((r) => r.format === 'trip-gps');
  t.equal(trips.length, 2, `two trips (${JSON.stringify(stats)})`);
  t.same(trips.map((r) => r.key.SESSION_ID), [1, 2]);
  for (const trip of trips) {
    const v = trip.value;
    t.ok((v.DURATION_S as number) > 120 && (v.DURATION_S as number) < 330, `duration ${String(v.DURATION_S)} s`);
    t.ok((v.MAX_SPEED as number) >= 40 && (v.MAX_SPEED as number) <= 55, `max speed ${String(v.MAX_SPEED)}`);
    t.ok((v.DISTANCE_M as number) > 300, `distance ${String(v.DISTANCE_M)} m from integrated speed (no GPS)`);
  }
  t.equal(records.filter((r) => r.format === 'VIN_CODE').length, 1);
  t.equal(String(records.find((r) => r.format === 'VIN_CODE')!.value.VIN).length, 17);
  t.ok(records.some((r) => r.format === 'obd-snapshot'), 'periodic snapshots');
  t.equal(stats.decodeErrors, 0);
});

t.test('dtcs-present: the trouble codes become a dtc record', async (t) => {
  const { records } = await drive('dtcs-present', 20, 10);
  const dtc = records.find((r) => r.format === 'dtc');
  t.ok(dtc, 'a dtc record');
  t.same(dtc!.value.stored, ['P0301', 'P0420']);
  t.same(dtc!.value.pending, ['P0171']);
  t.same(dtc!.value.permanent, ['P0420']);
  t.ok(records.some((r) => r.format === 'trip-gps'), 'the open trip is cut and emitted at shutdown');
});

t.test('engine-off: no trip, no crash, the adapter keeps being asked', async (t) => {
  const { records, stats } = await drive('engine-off', 30, 10);
  t.same(records, []);
  t.equal(stats.ignition, 'off');
});

t.test('noisy-line: garbage and truncated answers never stop the loop', async (t) => {
  const { records, stats } = await drive('noisy-line', 120, 20);
  t.ok(stats.readings > 20, `${stats.readings} readings decoded through the noise`);
  t.ok(records.some((r) => r.format === 'trip-gps'), 'the trip is still recorded');
});
