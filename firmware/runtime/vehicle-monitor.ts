// The dongle's main loop: polls PIDs on the sampling plan, tracks ignition, cuts trips, and emits DTC, VIN and snapshot records.
//
// Everything it produces leaves through `emit` as sealed records; the runtime puts them in the outbox.
// Adapter trouble (ignition off, NO DATA, an unplugged adapter) is a state, never a crash: the loop
// backs off and carries on. Cancellation: `run(signal)` resolves after the signal aborts, at the
// next await; an open trip is then cut at that moment and emitted, so a shutdown loses no trip.
import type { SealedRecord } from '../../protocol/record.js';
import { decodeDtcs } from '../../hardware/obd/j1979/dtc.js';
import { decodePid, type PidReading } from '../../hardware/obd/j1979/mode01.js';
import type { GpsFix, GpsSource } from '../../hardware/gps/gps-source.js';
import type { DtcKind, ObdAdapter } from '../../hardware/obd/obd-adapter.js';
import type { SimClock } from '../../hardware/sim/sim-clock.js';
import type { LogFn } from '../outbox/outbox.js';
import type { RecordFactory } from '../records/record-factory.js';
import { SamplingPlan } from '../sampling/sampling-plan.js';
import { IgnitionDetector, type IgnitionThresholds, DEFAULT_IGNITION_THRESHOLDS } from '../trips/ignition-detector.js';
import { TripRecorder, DEFAULT_TRIP_RECORDER_OPTIONS } from '../trips/trip-recorder.js';
import { DEFAULT_EVENT_THRESHOLDS, type DrivingEventThresholds } from '../trips/driving-events.js';

const PID_RPM = 0x0c;
const PID_SPEED = 0x0d;
const VOLTAGE_INTERVAL_MS = 10_000;
const IDLE_POLL_MS = 2_000;

export interface VehicleMonitorOptions {
  adapter: ObdAdapter;
  gps?: GpsSource | null;
  clock: SimClock;
  /** The current owner's record factory, or null while the dongle is not paired. */
  factory: () => RecordFactory | null;
  emit: (records: SealedRecord[]) => void;
  nextSessionId: () => number;
  pidIntervalsMs?: Readonly<Record<number, number>>;
  snapshotIntervalMs?: number;
  ignition?: IgnitionThresholds;
  events?: DrivingEventThresholds;
  log?: LogFn;
}

export interface VehicleMonitorStats {
  polls: number;
  readings: number;
  decodeErrors: number;
  adapterErrors: number;
  tripsCompleted: number;
  recordsEmitted: number;
  recordsDroppedUnpaired: number;
  ignition: 'on' | 'off';
  currentSessionId: number | null;
  lastReadings: Record<string, unknown>;
}

export class VehicleMonitor {
  private readonly ignition: IgnitionDetector;
  private trip: TripRecorder | null = null;
  private plan: SamplingPlan | null = null;
  private lastVoltageAt = Number.NEGATIVE_INFINITY;
  private lastVoltage: number | null = null;
  private lastSnapshotAt = Number.NEGATIVE_INFINITY;
  private snapshotSeq = 0;
  private vinSent = false;
  private lastFix: GpsFix | null = null;
  private readonly latest = new Map<number, PidReading>();
  private readonly log: LogFn;
  private readonly counters = { polls: 0, readings: 0, decodeErrors: 0, adapterErrors: 0, tripsCompleted: 0, recordsEmitted: 0, recordsDroppedUnpaired: 0 };

  constructor(private readonly options: VehicleMonitorOptions) {
    this.ignition = new IgnitionDetector(options.ignition ?? DEFAULT_IGNITION_THRESHOLDS);
    this.log = options.log ?? (() => undefined);
  }

  stats(): VehicleMonitorStats {
    return {
      ...this.counters,
      ignition: this.ignition.isOn ? 'on' : 'off',
      currentSessionId: this.trip?.sessionId ?? null,
      lastReadings: Object.fromEntries([...this.latest.values()].map((r) => [r.name, r.value])),
    };
  }

  async run(signal: AbortSignal): Promise<void> {
    const unsubscribeGps = this.options.gps?.onFix((fix) => this.onFix(fix));
    const unsubscribeState = this.options.adapter.onStateChange((state) => this.log('info', 'adapter state', { state }));
    try {
      while (!signal.aborted) {
        if (!this.plan) {
          await this.prepare(signal);
          continue;
        }
        const now = this.options.clock.now();
        const due = this.plan.due(now);
        if (due.length === 0) {
          await this.sleep(Math.min(1_000, this.plan.nextDueAt(now) - now), signal);
          continue;
        }
        await this.poll(due, signal);
      }
    } finally {
      unsubscribeGps?.();
      unsubscribeState();
      if (this.trip) this.endTrip(this.options.clock.now());
    }
  }

  /** Connect and discover supported PIDs; while the ECU is silent, keep watching ignition. */
  private async prepare(signal: AbortSignal): Promise<void> {
    try {
      const info = await this.options.adapter.connect();
      this.log('info', 'adapter ready', { adapter: info.adapter, protocol: info.protocol, voltage: info.voltage });
      const supported = await this.options.adapter.supportedPids();
      this.plan = new SamplingPlan(supported, this.options.pidIntervalsMs ? { intervalsMs: this.options.pidIntervalsMs } : {});
      this.log('info', 'sampling plan', { supported: supported.length, sampled: this.plan.pids.map((p) => p.toString(16).padStart(2, '0')) });
    } catch (err) {
      this.counters.adapterErrors++;
      this.observeIgnition({ ecuSilent: true });
      this.log('debug', 'adapter not ready', { error: describe(err) });
      await this.sleep(IDLE_POLL_MS, signal);
    }
  }

  private async poll(due: number[], signal: AbortSignal): Promise<void> {
    const { adapter, clock } = this.options;
    this.counters.polls++;
    let readings: PidReading[] = [];
    let silent: boolean;
    try {
      const raw = await adapter.readPids(due);
      for (const r of raw) {
        try {
          readings.push(decodePid(r.pid, r.data));
        } catch {
          this.counters.decodeErrors++;
        }
      }
      silent = raw.length === 0;
    } catch (err) {
      this.counters.adapterErrors++;
      silent = true;
      readings = [];
      this.log('debug', 'poll failed', { error: describe(err) });
      if (isDisconnected(err)) await this.sleep(IDLE_POLL_MS, signal);
    }
    const t = clock.now();
    this.plan?.markSampled(due, t);
    this.counters.readings += readings.length;
    for (const r of readings) this.latest.set(r.pid, r);
    if (t - this.lastVoltageAt >= VOLTAGE_INTERVAL_MS) {
      this.lastVoltageAt = t;
      this.lastVoltage = await adapter.batteryVoltage().catch(() => null);
    }
    const rpm = numeric(readings.find((r) => r.pid === PID_RPM));
    await this.observeIgnitionAsync({ rpm, ecuSilent: silent && rpm === null });
    const speed = numeric(readings.find((r) => r.pid === PID_SPEED));
    if (this.trip && speed !== null) this.trip.addSpeed(t, speed);
    if (this.trip) this.maybeSnapshot(t);
  }

  private observeIgnition(o: { rpm?: number | null; ecuSilent?: boolean }): 'on' | 'off' | null {
    const change = this.ignition.observe({ t: this.options.clock.now(), voltage: this.lastVoltage, ...o });
    if (!change) return null;
    if (change.state === 'on') {
      this.trip = new TripRecorder(this.options.nextSessionId(), change.t, { ...DEFAULT_TRIP_RECORDER_OPTIONS, events: this.options.events ?? DEFAULT_EVENT_THRESHOLDS });
      this.log('info', 'trip started', { sessionId: this.trip.sessionId, at: new Date(change.t).toISOString() });
    } else if (this.trip) {
      this.endTrip(change.t);
    }
    return change.state;
  }

  private async observeIgnitionAsync(o: { rpm?: number | null; ecuSilent?: boolean }): Promise<void> {
    if (this.observeIgnition(o) === 'on') await this.onIgnitionOn();
  }

  /** Once per trip: the VIN (once per boot) and any trouble codes. */
  private async onIgnitionOn(): Promise<void> {
    const { adapter, clock } = this.options;
    const sessionId = this.trip?.sessionId ?? 0;
    if (!this.vinSent) {
      const vin = await adapter.readVin().catch(() => null);
      if (vin) {
        this.vinSent = this.emitWith((f) => [f.vin(clock.now(), vin)]);
        this.log('info', 'vin read', { vin });
      }
    }
    const codes: Partial<Record<DtcKind, string[]>> = {};
    for (const kind of ['stored', 'pending', 'permanent'] as const) {
      const answers = await adapter.readDtcs(kind).catch(() => []);
      const found = answers.flatMap((a) => {
        try {
          return decodeDtcs(a.data, { can: a.can });
        } catch {
          this.counters.decodeErrors++;
          return [];
        }
      });
      if (found.length) codes[kind] = [...new Set(found)];
    }
    if (codes.stored || codes.pending || codes.permanent) {
      const loc = this.lastFix ? { lat: this.lastFix.lat, lng: this.lastFix.lng } : undefined;
      this.emitWith((f) => [f.dtc({ t: clock.now(), sessionId, stored: codes.stored ?? [], ...(codes.pending ? { pending: codes.pending } : {}), ...(codes.permanent ? { permanent: codes.permanent } : {}), mil: true, ...(loc ? { loc } : {}) })]);
      this.log('warn', 'trouble codes', codes);
    }
  }

  private onFix(fix: GpsFix): void {
    this.lastFix = fix;
    this.trip?.addFix(fix.time, fix.lat, fix.lng, fix.speedKmh);
  }

  private maybeSnapshot(t: number): void {
    const interval = this.options.snapshotIntervalMs;
    if (!interval || t - this.lastSnapshotAt < interval || this.latest.size === 0) return;
    this.lastSnapshotAt = t;
    const pids = Object.fromEntries([...this.latest.values()].map((r) => [r.name, r.value]));
    const loc = this.lastFix ? { lat: this.lastFix.lat, lng: this.lastFix.lng } : undefined;
    this.emitWith((f) => [f.snapshot({ t, seq: this.snapshotSeq++, pids, ...(loc ? { loc } : {}) })]);
  }

  private endTrip(at: number): void {
    const trip = this.trip!;
    this.trip = null;
    const summary = trip.finish(at);
    this.counters.tripsCompleted++;
    this.log('info', 'trip ended', { sessionId: summary.sessionId, distanceM: summary.distanceM, durationS: summary.durationS, points: summary.gps.length, events: summary.events.length });
    this.emitWith((f) => [f.trip(summary)]);
  }

  private emitWith(make: (factory: RecordFactory) => SealedRecord[]): boolean {
    const factory = this.options.factory();
    if (!factory) {
      // Before pairing there is no owner key to seal to: nothing can be kept. Logged once a minute.
      if (this.counters.recordsDroppedUnpaired++ % 60 === 0) this.log('warn', 'not paired: no owner key to seal to, records dropped', { dropped: this.counters.recordsDroppedUnpaired });
      return false;
    }
    const records = make(factory);
    this.options.emit(records);
    this.counters.recordsEmitted += records.length;
    return true;
  }

  private sleep(ms: number, signal: AbortSignal): Promise<void> {
    if (signal.aborted || ms <= 0) return Promise.resolve();
    return new Promise((resolve) => {
      const cancel = this.options.clock.setTimer(ms, done);
      function done() {
        signal.removeEventListener('abort', onAbort);
        resolve();
      }
      function onAbort() {
        cancel();
        done();
      }
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }
}

function numeric(reading: PidReading | undefined): number | null {
  return reading && typeof reading.value === 'number' ? reading.value : null;
}

function isDisconnected(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' && /DISCONNECTED|CLOSED/.test(code);
}

function describe(err: unknown): string {
  const e = err as { code?: unknown; message?: unknown };
  return `${typeof e.code === 'string' ? `${e.code}: ` : ''}${typeof e.message === 'string' ? e.message : String(err)}`;
}
