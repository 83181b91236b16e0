// Simulated OBD-II ECUs: answer J1979 service requests (modes 01/02/03/04/07/09/0A) with payload bytes.
//
// An ECU sees a request the way it arrives on CAN (service byte + parameters, no ISO-TP framing) and
// returns the complete response payload, or null when it stays silent — on CAN an ECU does not answer a
// functional request for a PID it does not support, so "nobody answered" becomes NO DATA in the ELM327.
import { ENGINE_FREEZE_FRAME_PIDS, ENGINE_MODE01, TRANSMISSION_MODE01, encodeDtc, supportedPidBitmap, type PidEncoder } from './obd-encoders.js';
import type { VehicleSnapshot, VehicleState } from './vehicle-state.js';

export interface EcuDefinition {
  readonly name: string;
  /** 11-bit physical request id (7E0…7E7); the response id is this + 8. */
  readonly requestId11: number;
  /** 29-bit ECU address: requests go to 18DA<addr>F1, answers come from 18DAF1<addr>. */
  readonly address29: number;
  readonly mode01: ReadonlyMap<number, PidEncoder>;
  /** Mode 02 PIDs kept in the freeze frame (empty: this ECU keeps none). */
  readonly freezeFramePids: readonly number[];
  /** True for the ECU that owns the vehicle's DTC memory; others report zero codes. */
  readonly ownsDtcs: boolean;
  /** Mode 09 data items after the PID byte, by PID. */
  readonly vehicleInfo: ReadonlyMap<number, (state: VehicleState) => number[]>;
}

const ascii = (text: string, length = text.length): number[] => {
  const bytes = [...Buffer.from(text, 'latin1')].slice(0, length);
  while (bytes.length < length) bytes.push(0x00);
  return bytes;
};

/** Mode 09 PID 04: a count byte, then 16-byte calibration ids padded with 0x00. */
const calibrationIds = (ids: readonly string[]) => (): number[] => [ids.length, ...ids.flatMap((id) => ascii(id, 16))];
const calibrationVerificationNumbers = (cvns: readonly number[]) => (): number[] => [cvns.length, ...cvns.flatMap((cvn) => [cvn >>> 24, (cvn >>> 16) & 0xff, (cvn >>> 8) & 0xff, cvn & 0xff])];
/** Mode 09 PID 0A: 4-character acronym, NUL, '-', 15-character name (20 bytes). */
const ecuName = (acronym: string, name: string) => (): number[] => [0x01, ...ascii(acronym, 4), ...ascii('-'), ...ascii(name, 15)];

export const ENGINE_ECU: EcuDefinition = {
  name: 'engine',
  requestId11: 0x7e0,
  address29: 0x10,
  mode01: ENGINE_MODE01,
  freezeFramePids: ENGINE_FREEZE_FRAME_PIDS,
  ownsDtcs: true,
  vehicleInfo: new Map([
    [0x02, (state: VehicleState) => [0x01, ...ascii(state.vin, 17)]],
    [0x04, calibrationIds(['JMB*36761500', 'JMB*47872611'])],
    [0x06, calibrationVerificationNumbers([0x17e1a6c3, 0x8b02f4d0])],
    [0x0a, ecuName('ECM', 'EngineControl')],
  ]),
};

export const TRANSMISSION_ECU: EcuDefinition = {
  name: 'transmission',
  requestId11: 0x7e1,
  address29: 0x18,
  mode01: TRANSMISSION_MODE01,
  freezeFramePids: [],
  ownsDtcs: false,
  vehicleInfo: new Map([
    [0x04, calibrationIds(['TCM-6AT-0417B'])],
    [0x06, calibrationVerificationNumbers([0x5a1c09e2])],
    [0x0a, ecuName('TCM', 'TransmissionCtl')],
  ]),
};

/** Engine (7E8 / 18DAF110) and automatic transmission (7E9 / 18DAF118). */
export const STANDARD_ECUS: readonly EcuDefinition[] = [ENGINE_ECU, TRANSMISSION_ECU];

/** Upper bound from ISO 15765-4: one mode 01 request carries at most 6 PIDs. */
export const MAX_PIDS_PER_REQUEST = 6;

export class EcuModel {
  constructor(readonly definition: EcuDefinition) {}

  /** The response payload to `request`, or null if this ECU stays silent. May change `state` (mode 04). */
  respond(request: Uint8Array, state: VehicleState, snapshot: VehicleSnapshot): Uint8Array | null {
    const service = request[0];
    const params = [...request.subarray(1)];
    let body: number[] | null;
    switch (service) {
      case 0x01:
        body = this.currentData(params, snapshot);
        break;
      case 0x02:
        body = this.freezeFrameData(params, state);
        break;
      case 0x03:
      case 0x07:
      case 0x0a:
        body = params.length === 0 ? this.troubleCodes(service, state) : null;
        break;
      case 0x04:
        if (params.length !== 0) return null;
        if (this.definition.ownsDtcs) state.clearDtcs();
        body = [];
        break;
      case 0x09:
        body = this.vehicleInformation(params, state);
        break;
      default:
        body = null; // functional requests for unsupported services get no negative response on CAN
    }
    return body === null ? null : Uint8Array.from([service! + 0x40, ...body]);
  }

  private currentData(pids: number[], snapshot: VehicleSnapshot): number[] | null {
    if (pids.length === 0 || pids.length > MAX_PIDS_PER_REQUEST) return null;
    const out: number[] = [];
    for (const pid of pids) {
      const data = pid % 0x20 === 0 ? supportedPidBitmap(this.definition.mode01.keys(), pid) : this.definition.mode01.get(pid)?.(snapshot);
      if (data) out.push(pid, ...data);
    }
    return out.length > 0 ? out : null;
  }

  /** Mode 02: (PID, frame) pairs; only frame 0 exists. PID 02 is the DTC that caused the frame (0000 = none). */
  private freezeFrameData(params: number[], state: VehicleState): number[] | null {
    if (this.definition.freezeFramePids.length === 0) return null;
    if (params.length === 0 || params.length % 2 !== 0 || params.length > 6) return null;
    const frame = state.dtcs.freezeFrame;
    const supported = [0x02, ...this.definition.freezeFramePids];
    const out: number[] = [];
    for (let i = 0; i < params.length; i += 2) {
      const pid = params[i]!;
      const frameNo = params[i + 1]!;
      if (frameNo !== 0) continue;
      let data: number[] | null | undefined;
      if (pid % 0x20 === 0) data = supportedPidBitmap(supported, pid);
      else if (pid === 0x02) data = frame ? encodeDtc(frame.dtc) : [0x00, 0x00];
      else if (frame && supported.includes(pid)) data = this.definition.mode01.get(pid)?.(frame.snapshot);
      if (data) out.push(pid, frameNo, ...data);
    }
    return out.length > 0 ? out : null;
  }

  /** Modes 03/07/0A on CAN: a count byte, then two bytes per code. */
  private troubleCodes(service: number, state: VehicleState): number[] {
    const memory = state.dtcs;
    const codes = !this.definition.ownsDtcs ? [] : service === 0x03 ? memory.stored : service === 0x07 ? memory.pending : memory.permanent;
    return [codes.length, ...codes.flatMap((code) => encodeDtc(code))];
  }

  private vehicleInformation(params: number[], state: VehicleState): number[] | null {
    if (params.length !== 1) return null;
    const pid = params[0]!;
    if (pid === 0x00) {
      const bitmap = supportedPidBitmap(this.definition.vehicleInfo.keys(), 0);
      return bitmap ? [pid, ...bitmap] : null;
    }
    const item = this.definition.vehicleInfo.get(pid);
    return item ? [pid, ...item(state)] : null;
  }
}
