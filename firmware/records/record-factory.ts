// Turns what the dongle observed (trips, DTCs, PID snapshots, the VIN) into sealed records for its owner.
//
// Each record goes under the pool address of the day it *started* (a trip across midnight belongs to
// its start date) and is sealed to the owner's RSA key; signing happens later, per uplink message.
import type { KeyObject } from 'node:crypto';
import { builtinFormatDictionary, timeKey } from '../../protocol/builtin-formats.js';
import type { FormatDictionary } from '../../protocol/formats.js';
import { randomFrom } from '../../protocol/pools.js';
import { sealRecord, type SealedRecord } from '../../protocol/record.js';
import type { TripSummary } from '../trips/trip-recorder.js';

/** What pairing gave the dongle: whose car this is and where its records go. */
export interface OwnerBinding {
  vid: string;
  ownerRsaPublicKey: KeyObject;
  poolAddresses: readonly string[];
  userSeed: Uint8Array;
}

export interface DtcObservation {
  t: number;
  sessionId: number;
  stored: string[];
  pending?: string[];
  permanent?: string[];
  mil?: boolean;
  loc?: { lat: number; lng: number };
}

export interface PidSnapshot {
  t: number;
  seq: number;
  pids: Record<string, number | Record<string, unknown>>;
  loc?: { lat: number; lng: number };
}

export class RecordFactory {
  constructor(
    private readonly binding: OwnerBinding,
    private readonly formats: FormatDictionary = builtinFormatDictionary(),
    private readonly randomBytes?: (n: number) => Uint8Array,
  ) {}

  /** The pool address for records that start at `t`. */
  addressFor(t: number): string {
    return randomFrom(this.binding.poolAddresses, t, this.binding.userSeed);
  }

  trip(summary: TripSummary): SealedRecord {
    const value: Record<string, unknown> = {
      VID: this.binding.vid,
      VEHICLE_DATA: 1,
      len: summary.gps.length,
      GPS: summary.gps.map((p) => ({ lat: p.lat, lng: p.lng, t: p.t })),
      SPEED: summary.speed,
      DISTANCE_M: summary.distanceM,
      DURATION_S: summary.durationS,
      MAX_SPEED: summary.maxSpeedKmh,
      AVG_SPEED: summary.avgSpeedKmh,
      EVENTS: summary.events.map((e) => ({ ...e })),
    };
    const key = { SESSION_ID: summary.sessionId, START_TIME: timeKey(summary.start), END_TIME: timeKey(summary.end) };
    return this.seal('trip-gps', summary.start, key, value);
  }

  dtc(o: DtcObservation): SealedRecord {
    const value: Record<string, unknown> = { VID: this.binding.vid, stored: o.stored };
    if (o.pending) value.pending = o.pending;
    if (o.permanent) value.permanent = o.permanent;
    if (o.mil !== undefined) value.mil = o.mil;
    if (o.loc) value.loc = o.loc;
    return this.seal('dtc', o.t, { TIME: timeKey(o.t), SESSION_ID: o.sessionId }, value);
  }

  snapshot(s: PidSnapshot): SealedRecord {
    const value: Record<string, unknown> = { VID: this.binding.vid, pids: s.pids };
    if (s.loc) value.loc = s.loc;
    return this.seal('obd-snapshot', s.t, { TIME: timeKey(s.t), SEQ: s.seq }, value);
  }

  vin(t: number, vin: string): SealedRecord {
    return this.seal('VIN_CODE', t, { VEHICLE_DATA: 1 }, { VIN: vin, VID: this.binding.vid, source: 'obd-mode-09' });
  }

  private seal(format: string, t: number, key: Record<string, number>, value: Record<string, unknown>): SealedRecord {
    return sealRecord(this.formats.get(format), this.addressFor(t), key, value, this.binding.ownerRsaPublicKey, this.randomBytes);
  }
}
