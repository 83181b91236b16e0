// Composition root of the dongle: picks the real adapter or the simulator, wires pairing, monitor, outbox and uplink.
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { NmeaGpsSource, type GpsSource } from '../../hardware/gps/gps-source.js';
import { Elm327Adapter } from '../../hardware/obd/elm327/elm327-adapter.js';
import { ReconnectingElm327Adapter } from '../../hardware/obd/elm327/reconnecting-elm327-adapter.js';
import type { ObdAdapter } from '../../hardware/obd/obd-adapter.js';
import type { ByteLink } from '../../hardware/serial/byte-link.js';
import { createLinkPair } from '../../hardware/serial/memory-link.js';
import { SerialPortLink, serialPortOpener } from '../../hardware/serial/serial-port-link.js';
import { startElm327Simulator } from '../../hardware/sim/elm327-simulator.js';
import { startNmeaRoutePlayer } from '../../hardware/sim/nmea-route-player.js';
import { CITY_LOOP_ROUTE } from '../../hardware/sim/routes.js';
import { scenarioByName } from '../../hardware/sim/scenarios.js';
import { scaledClock, systemClock, type SimClock } from '../../hardware/sim/sim-clock.js';
import { VehicleState } from '../../hardware/sim/vehicle-state.js';
import type { SealedRecord } from '../../protocol/record.js';
import type { DongleConfig } from '../config/dongle-config.js';
import { FileKeystore } from '../keystore/device-keystore.js';
import { OutboxError, type LogFn } from '../outbox/outbox.js';
import { SqliteOutbox } from '../outbox/sqlite-outbox.js';
import { startPairingServer, type PairingServerHandle } from '../pairing/pairing-server.js';
import { PairingService } from '../pairing/pairing-service.js';
import { FilePairingStateStore } from '../pairing/pairing-state.js';
import { RecordFactory } from '../records/record-factory.js';
import { DEFAULT_IGNITION_THRESHOLDS } from '../trips/ignition-detector.js';
import { DEFAULT_EVENT_THRESHOLDS } from '../trips/driving-events.js';
import { MqttUplink } from '../uplink/mqtt-uplink.js';
import { childLogger, jsonLogger } from './json-log.js';
import { systemdNotifier } from './systemd-notify.js';
import { VehicleMonitor } from './vehicle-monitor.js';

/** Records the outbox refused as full wait here (bounded) and are retried; beyond this they are logged and dropped. */
const MAX_PENDING_RECORDS = 1_000;
const PENDING_RETRY_MS = 5_000;

export interface DongleRuntimeHandle {
  deviceId: string;
  pairingUrl: string;
  /** The code an owner pairs with (`carchain-pair:v1:…`, printed on the dongle's label); null once paired. */
  pairingCode(): string | null;
  stats(): Record<string, unknown>;
  stop(): Promise<void>;
}

interface Parts {
  adapter: ObdAdapter;
  gps: GpsSource | null;
  clock: SimClock;
  close: () => Promise<void>;
}

/** The in-process simulator for `sim:<scenario>` ports (GPS follows the same simulated car). */
async function simulatedParts(scenarioName: string, timeScale: number, withGps: boolean, loop: boolean): Promise<Parts> {
  const clock = scaledClock(systemClock, timeScale);
  const scenario = scenarioByName(scenarioName, { loop });
  const state = new VehicleState({ ...scenario.vehicle, profile: scenario.profile, startMs: clock.now() });
  const [device, host] = createLinkPair();
  const simulator = startElm327Simulator({ link: device, scenario, state, clock, baudRate: 0 });
  let gps: NmeaGpsSource | null = null;
  let stopPlayer: () => Promise<void> = () => Promise.resolve();
  if (withGps) {
    const [gpsDevice, gpsHost] = createLinkPair();
    // City blocks, looped: trips turn corners (a drawn track shows them) and never run off the route's end.
    const player = startNmeaRoutePlayer({ link: gpsDevice, route: CITY_LOOP_ROUTE, loop: true, speed: { kind: 'vehicle', state }, clock });
    gps = new NmeaGpsSource(gpsHost);
    await gps.start();
    stopPlayer = () => player.stop();
  }
  const adapter = new Elm327Adapter(host);
  return {
    adapter,
    gps,
    clock,
    close: async () => {
      await adapter.close();
      await gps?.stop();
      await stopPlayer();
      await simulator.stop();
    },
  };
}

async function realParts(config: DongleConfig): Promise<Parts> {
  const adapter = new ReconnectingElm327Adapter(serialPortOpener({ path: config.obd.port, baudRate: config.obd.baudRate }), { protocol: config.obd.protocol });
  let gpsLink: ByteLink | null = null;
  let gps: NmeaGpsSource | null = null;
  if (config.gps.port) {
    gpsLink = await SerialPortLink.open({ path: config.gps.port, baudRate: config.gps.baudRate });
    gps = new NmeaGpsSource(gpsLink);
    await gps.start();
  }
  return {
    adapter,
    gps,
    clock: systemClock,
    close: async () => {
      await adapter.close();
      await gps?.stop();
      await gpsLink?.close();
    },
  };
}

export async function startDongleRuntime(config: DongleConfig, log: LogFn = jsonLogger(config.log.level, 'dongle')): Promise<DongleRuntimeHandle> {
  mkdirSync(config.device.dataDir, { recursive: true, mode: 0o700 });
  const keystore = FileKeystore.loadOrCreate(join(config.device.dataDir, 'keystore.json'));
  const pairing = new PairingService(keystore, new FilePairingStateStore(join(config.device.dataDir, 'pairing.json')));
  const outbox = SqliteOutbox.open({ path: join(config.device.dataDir, 'outbox.db'), maxRecords: config.outbox.maxRecords, maxBytes: config.outbox.maxBytes, log: childLogger(log, 'outbox') });
  const tls = config.uplink.tls
    ? { ca: readFileSync(config.uplink.tls.ca), cert: readFileSync(config.uplink.tls.cert), key: readFileSync(config.uplink.tls.key) }
    : undefined;
  const uplink = new MqttUplink({
    url: config.uplink.brokerUrl, deviceId: keystore.deviceAddress, outbox, keys: (address) => pairing.signingKeyFor(address),
    ...(tls ? { tls } : {}), healthIntervalMs: config.uplink.healthIntervalMs, protocolVersion: config.uplink.protocolVersion, log: childLogger(log, 'uplink'),
  });
  const unsubscribePairing = pairing.onChange(() => uplink.keysChanged());
  const pairingServer: PairingServerHandle = await startPairingServer(pairing, { host: config.pairing.host, port: config.pairing.port });
  const simulated = /^sim:(.+)$/.exec(config.obd.port);
  const parts = simulated
    ? await simulatedParts(simulated[1]!, config.obd.simTimeScale, config.gps.port?.startsWith('sim:') ?? false, config.obd.simLoop)
    : await realParts(config);

  // Records the outbox refused as full are retried, never silently lost while there is room in memory.
  const pending: SealedRecord[] = [];
  const commit = (records: SealedRecord[]) => {
    pending.push(...records);
    try {
      const result = outbox.enqueue(pending);
      log('info', 'records committed', { ids: result.ids, inserted: result.inserted });
      pending.length = 0;
    } catch (err) {
      if (!(err instanceof OutboxError && err.temporary)) throw err;
      const overflow = pending.splice(0, Math.max(0, pending.length - MAX_PENDING_RECORDS));
      log(overflow.length ? 'error' : 'warn', 'outbox full', { waiting: pending.length, dropped: overflow.length });
    }
  };
  const retryTimer = setInterval(() => {
    if (pending.length) commit([]);
  }, PENDING_RETRY_MS);
  retryTimer.unref();

  let cachedFactory: { version: number; factory: RecordFactory | null } = { version: -1, factory: null };
  const factory = () => {
    if (cachedFactory.version !== pairing.version) {
      const binding = pairing.binding();
      cachedFactory = { version: pairing.version, factory: binding ? new RecordFactory(binding) : null };
    }
    return cachedFactory.factory;
  };
  const pidIntervals = Object.keys(config.obd.pids).length
    ? Object.fromEntries(Object.entries(config.obd.pids).map(([pid, ms]) => [Number.parseInt(pid, 16), ms]))
    : undefined;
  const monitor = new VehicleMonitor({
    adapter: parts.adapter, gps: parts.gps, clock: parts.clock, factory, emit: commit, nextSessionId: () => pairing.nextSessionId(),
    ...(pidIntervals ? { pidIntervalsMs: pidIntervals } : {}), snapshotIntervalMs: config.obd.snapshotIntervalMs,
    ignition: { ...DEFAULT_IGNITION_THRESHOLDS, offDebounceMs: config.trips.ignitionOffDebounceMs },
    events: { ...DEFAULT_EVENT_THRESHOLDS, speedLimitKmh: config.trips.speedLimitKmh },
    log: childLogger(log, 'monitor'),
  });

  await uplink.start();
  const abort = new AbortController();
  let lastLoopAlive = Date.now();
  const running = monitor.run(abort.signal).catch((err: unknown) => log('error', 'monitor stopped', { error: String(err) }));
  const heartbeat = setInterval(() => (lastLoopAlive = Date.now()), 1_000);
  heartbeat.unref();
  const notifier = systemdNotifier();
  const stopWatchdog = notifier.startWatchdog(() => Date.now() - lastLoopAlive < 10_000);
  notifier.ready();
  log('info', 'dongle started', { deviceId: keystore.deviceAddress, pairing: pairingServer.url, obd: config.obd.port, broker: config.uplink.brokerUrl, paired: pairing.info().claimed });

  let stopping: Promise<void> | null = null;
  return {
    deviceId: keystore.deviceAddress,
    pairingUrl: pairingServer.url,
    pairingCode: () => pairing.info().pairingCode,
    stats: () => ({ monitor: monitor.stats(), uplink: uplink.stats(), outbox: outbox.stats(), pendingRecords: pending.length }),
    stop: () => {
      stopping ??= (async () => {
        abort.abort();
        await running; // an open trip is cut and committed here
        clearInterval(retryTimer);
        clearInterval(heartbeat);
        stopWatchdog();
        unsubscribePairing();
        const drained = await uplink.stop({ timeoutMs: 5_000 });
        await parts.close();
        await pairingServer.close();
        outbox.close();
        log('info', 'dongle stopped', { drained: drained.drained, pendingRecords: pending.length });
      })();
      return stopping;
    },
  };
}
