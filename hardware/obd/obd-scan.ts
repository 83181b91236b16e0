// One-shot vehicle scan and a PID watch loop over any ObdAdapter: what `carchain obd scan|watch` print.
import { decodeDtcs } from './j1979/dtc.js';
import { decodePid, type PidReading } from './j1979/mode01.js';
import type { ObdAdapter } from './obd-adapter.js';

export interface ScanSample {
  pid: string;
  name: string;
  value: unknown;
  unit: string;
  ecu: string;
}

export interface ScanReport {
  adapter: string;
  protocol: string;
  protocolNumber: string;
  voltage: number | null;
  vin: string | null;
  calibrationIds: string[];
  supportedPids: string[];
  samples: ScanSample[];
  dtcs: { stored: string[]; pending: string[]; permanent: string[] };
  /** PIDs that answered with bytes the decoder refused, with why. */
  undecodable: { pid: string; error: string }[];
}

const hex2 = (n: number) => n.toString(16).toUpperCase().padStart(2, '0');

/** Connects, discovers, reads every supported mode-01 PID once, the VIN, calibration ids and DTCs. */
export async function scanVehicle(adapter: ObdAdapter): Promise<ScanReport> {
  const info = await adapter.connect();
  const supported = await adapter.supportedPids().catch(() => [] as number[]);
  const samples: ScanSample[] = [];
  const undecodable: { pid: string; error: string }[] = [];
  const raw = supported.length ? await adapter.readPids(supported) : [];
  for (const r of raw) {
    try {
      const reading = decodePid(r.pid, r.data);
      samples.push({ pid: hex2(r.pid), name: reading.name, value: reading.value, unit: reading.unit, ecu: r.ecu });
    } catch (err) {
      undecodable.push({ pid: hex2(r.pid), error: (err as Error).message });
    }
  }
  const dtcs = { stored: [] as string[], pending: [] as string[], permanent: [] as string[] };
  for (const kind of ['stored', 'pending', 'permanent'] as const) {
    for (const answer of await adapter.readDtcs(kind).catch(() => [])) {
      try {
        dtcs[kind].push(...decodeDtcs(answer.data, { can: answer.can }));
      } catch (err) {
        undecodable.push({ pid: `DTC-${kind}`, error: (err as Error).message });
      }
    }
    dtcs[kind] = [...new Set(dtcs[kind])];
  }
  return {
    adapter: info.adapter,
    protocol: info.protocol,
    protocolNumber: info.protocolNumber,
    voltage: await adapter.batteryVoltage().catch(() => info.voltage),
    vin: await adapter.readVin().catch(() => null),
    calibrationIds: await adapter.readCalibrationIds().catch(() => []),
    supportedPids: supported.map(hex2),
    samples,
    dtcs,
    undecodable,
  };
}

/**
 * Reads `pids` at `rateHz` until the signal aborts, calling `onReading` per decoded value.
 * Adapter errors are reported through `onError` and the loop carries on (ignition off, unplugged).
 */
export async function watchPids(
  adapter: ObdAdapter,
  pids: readonly number[],
  rateHz: number,
  onReading: (reading: PidReading & { t: number; ecu: string }) => void,
  signal: AbortSignal,
  onError: (error: unknown) => void = () => undefined,
): Promise<void> {
  if (!(rateHz > 0)) throw new RangeError('rate must be > 0');
  await adapter.connect();
  const periodMs = 1000 / rateHz;
  while (!signal.aborted) {
    const started = Date.now();
    try {
      for (const r of await adapter.readPids(pids)) {
        try {
          onReading({ ...decodePid(r.pid, r.data), t: Date.now(), ecu: r.ecu });
        } catch (err) {
          onError(err);
        }
      }
    } catch (err) {
      onError(err);
    }
    const wait = periodMs - (Date.now() - started);
    if (wait > 0) {
      // One abort listener per sleep, removed when the sleep ends, so a long watch does not pile them up.
      await new Promise<void>((resolve) => {
        const onAbort = () => {
          clearTimeout(timer);
          resolve();
        };
        const timer = setTimeout(() => {
          signal.removeEventListener('abort', onAbort);
          resolve();
        }, wait);
        signal.addEventListener('abort', onAbort, { once: true });
      });
    }
  }
}
