// The OBD-II adapter seam: what the dongle firmware asks of an ELM327 (real or simulated), in raw J1979 bytes.
//
// Decoding is deliberately not part of this interface (the hardware layer moves bytes; the pure J1979
// decoder in hardware/obd/j1979/ gives them meaning, and firmware composes the two): every response carries
// the ECU's `payload` from the service byte onward (`41 0C 1A F8`, `42 0C 00 1A F8`, `43 …`) and `data`, the
// part the decoder takes: `decodePid(r.pid, r.data)`, `decodeDtcs(r.data, { can: r.can })`. Only the two
// mode-09 text answers (VIN, calibration ids) are returned as strings, because every caller wants text.
//
// Cancellation rules (every implementation): a call rejects with a typed CarchainError (for the ELM327:
// `Elm327Error`) and never hangs — each command has a timeout; calls made while the adapter is
// disconnected reject at once with a temporary `…_DISCONNECTED` error; calls in flight or queued when the
// link closes reject the same way; after `close()` every call rejects with a permanent `…_CLOSED` error.

export type AdapterState = 'connecting' | 'ready' | 'ignition-off' | 'disconnected' | 'closed';

export interface AdapterInfo {
  /** The adapter's banner, e.g. `ELM327 v1.5` (clones lie about the version; it is informational). */
  adapter: string;
  /** Human-readable protocol, e.g. `ISO 15765-4 (CAN 11/500)`; `unknown` while the ignition is off. */
  protocol: string;
  /** ELM protocol number `1`…`C` as reported by `ATDPN` (without the `A` auto prefix); `0` if unknown. */
  protocolNumber: string;
  /** Battery voltage from `ATRV`, or null when the adapter cannot measure it. */
  voltage: number | null;
  /** True on ISO 15765-4 (CAN): multi-PID requests and ISO-TP framing apply, DTC payloads carry a count byte. */
  can: boolean;
}

/** One ECU's answer for one mode-01 PID. */
export interface RawPidResponse {
  pid: number;
  /** The answering ECU's header as the adapter printed it: `7E8`, `18DAF110`, legacy `486B10`; `#0` when headers are off. */
  ecu: string;
  /** Service byte onward for this PID alone: `41 <pid> <data…>` (a multi-PID answer is split per PID). */
  payload: Uint8Array;
  /** The data bytes after the PID. */
  data: Uint8Array;
}

/** One ECU's answer for one mode-02 (freeze frame) PID. */
export interface RawFreezeFrameResponse {
  pid: number;
  frame: number;
  ecu: string;
  /** `42 <pid> <frame> <data…>` */
  payload: Uint8Array;
  data: Uint8Array;
}

/** One ECU's answer to mode 03 / 07 / 0A. */
export interface RawDtcResponse {
  ecu: string;
  /** `43|47|4A …`; a legacy ECU's several messages are joined behind one service byte. */
  payload: Uint8Array;
  /** After the service byte: on CAN a count byte then 2-byte codes; legacy: 2-byte codes (with `00 00` padding). */
  data: Uint8Array;
  /** Pass on to `decodeDtcs(data, { can })`. */
  can: boolean;
}

export type DtcKind = 'stored' | 'pending' | 'permanent';

export interface ObdAdapter {
  /** Runs the init sequence; resolves with the adapter info (state `ready`, or `ignition-off` when no ECU answers). */
  connect(): Promise<AdapterInfo>;
  /** Mode-01 PIDs the ECUs report as supported (union over ECUs), following the 0100/0120/0140… bitmaps; the bitmap PIDs themselves are left out. */
  supportedPids(): Promise<number[]>;
  /** Mode-01 readings; PIDs that no ECU answered are absent from the result (not an error). */
  readPids(pids: readonly number[]): Promise<RawPidResponse[]>;
  /** Mode-02 readings of freeze frame `frame`; absent PIDs as for readPids. */
  readFreezeFrame(pids: readonly number[], frame: number): Promise<RawFreezeFrameResponse[]>;
  /** One entry per answering ECU (an ECU without codes still answers, with an empty list). */
  readDtcs(kind: DtcKind): Promise<RawDtcResponse[]>;
  /** Mode 09 PID 02, or null when no ECU reports a VIN. */
  readVin(): Promise<string | null>;
  /** Mode 09 PID 04, every calibration id of every answering ECU. */
  readCalibrationIds(): Promise<string[]>;
  /** `ATRV`; null when the adapter cannot measure it. */
  batteryVoltage(): Promise<number | null>;
  /** Idempotent; pending and later calls reject with a permanent `…_CLOSED` error. */
  close(): Promise<void>;
  /** Returns the unsubscribe function. */
  onStateChange(listener: (state: AdapterState) => void): () => void;
}
