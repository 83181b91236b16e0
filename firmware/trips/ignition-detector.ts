// Ignition on/off from what the adapter tells us: RPM, alternator voltage, and NO DATA / UNABLE TO CONNECT.
//
// Debounced both ways: a stalled engine at a junction or one lost reply must not end a trip, and a
// voltage blip must not start one.

export interface IgnitionObservation {
  t: number;
  rpm?: number | null;
  /** Battery voltage (ATRV). Above ~13.2 V the alternator is charging: the engine runs. */
  voltage?: number | null;
  /** The ECU did not answer (NO DATA, UNABLE TO CONNECT, adapter in ignition-off state). */
  ecuSilent?: boolean;
}

export interface IgnitionThresholds {
  runningRpm: number;
  chargingVoltage: number;
  /** Engine evidence must persist this long to switch on. */
  onDebounceMs: number;
  /** Absence of engine evidence must persist this long to switch off. */
  offDebounceMs: number;
}

export const DEFAULT_IGNITION_THRESHOLDS: IgnitionThresholds = {
  runningRpm: 300,
  chargingVoltage: 13.2,
  onDebounceMs: 2_000,
  offDebounceMs: 30_000,
};

export type IgnitionChange = { state: 'on' | 'off'; t: number } | null;

export class IgnitionDetector {
  private on = false;
  private candidateSince: number | null = null;

  constructor(private readonly thresholds: IgnitionThresholds = DEFAULT_IGNITION_THRESHOLDS) {}

  get isOn(): boolean {
    return this.on;
  }

  /** Returns the change this observation completes, with the time the change really began. */
  observe(o: IgnitionObservation): IgnitionChange {
    const running = !o.ecuSilent && ((o.rpm ?? 0) >= this.thresholds.runningRpm || (o.voltage ?? 0) >= this.thresholds.chargingVoltage);
    if (running === this.on) {
      this.candidateSince = null;
      return null;
    }
    this.candidateSince ??= o.t;
    const debounce = running ? this.thresholds.onDebounceMs : this.thresholds.offDebounceMs;
    if (o.t - this.candidateSince < debounce) return null;
    this.on = running;
    const t = this.candidateSince;
    this.candidateSince = null;
    return { state: running ? 'on' : 'off', t };
  }
}
