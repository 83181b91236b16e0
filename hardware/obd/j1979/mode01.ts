// Decoding of mode 01 (current data) and mode 02 (freeze frame) responses, including multi-PID responses.
import { ObdDecodeError, hexOf } from './errors.js';
import { mode01Pid, type Mode01PidDefinition, type PidValue } from './mode01-pids.js';
import { pidsFromBitmap } from './pid-scaling.js';

export interface PidReading {
  pid: number;
  name: string;
  value: PidValue;
  unit: string;
  /** The PID's data bytes (a copy, so the reading outlives the receive buffer). */
  raw: Uint8Array;
}

export interface FreezeFrameReading extends PidReading {
  /** The freeze frame the value belongs to (0 = the frame stored with the first DTC). */
  frame: number;
}

/**
 * Decodes the payload of a mode 01 response: everything after the 0x41 service byte, from one
 * ECU. A multi-PID response is `pid data pid data …`; each data length comes from the table, so an
 * unknown PID stops the walk with OBD_UNKNOWN_PID (its length, and so everything after it, is
 * unknowable) and a truncated item is OBD_SHORT_DATA. Nothing is ever silently skipped.
 */
export function decodeMode01(payload: Uint8Array): PidReading[] {
  if (payload.length === 0) throw new ObdDecodeError('OBD_EMPTY_PAYLOAD', 'mode 01 response has no PID');
  const readings: PidReading[] = [];
  let at = 0;
  while (at < payload.length) {
    const pid = payload[at] ?? 0;
    const entry = lookup(pid, payload);
    const length = dataLength(entry, payload.length - (at + 1), payload);
    readings.push(read(entry, payload.subarray(at + 1, at + 1 + length)));
    at += 1 + length;
  }
  return readings;
}

/**
 * Decodes the payload of a mode 02 response (after the 0x42 service byte): items of
 * `pid frame data`, several per response on CAN. Every reading carries its frame number.
 * PID 0x02 is the DTC that caused the freeze frame to be stored (`{ dtc: null }` = no freeze frame).
 */
export function decodeMode02(payload: Uint8Array): FreezeFrameReading[] {
  if (payload.length === 0) throw new ObdDecodeError('OBD_EMPTY_PAYLOAD', 'mode 02 response has no PID');
  const readings: FreezeFrameReading[] = [];
  let at = 0;
  while (at < payload.length) {
    const pid = payload[at] ?? 0;
    const entry = lookup(pid, payload);
    if (at + 1 >= payload.length) {
      throw new ObdDecodeError('OBD_SHORT_DATA', `mode 02 PID 0x${hex2(pid)} has no frame number: ${hexOf(payload)}`);
    }
    const frame = payload[at + 1] ?? 0;
    const length = dataLength(entry, payload.length - (at + 2), payload);
    readings.push({ ...read(entry, payload.subarray(at + 2, at + 2 + length)), frame });
    at += 2 + length;
  }
  return readings;
}

/** Decodes one PID's data bytes (exactly the table length, or an accepted alternative). */
export function decodePid(pid: number, data: Uint8Array): PidReading {
  const entry = lookup(pid, data);
  if (data.length !== entry.bytes && !(entry.altBytes ?? []).includes(data.length)) {
    throw new ObdDecodeError('OBD_SHORT_DATA', `PID 0x${hex2(pid)} (${entry.name}) needs ${entry.bytes} data bytes, got ${data.length}`);
  }
  return read(entry, data);
}

/** A 4-byte supported-PID bitmap at `base` (0x00, 0x20, …) → the PIDs it marks as supported. */
export function decodeSupportedBitmap(base: number, bitmap: Uint8Array): number[] {
  if (base < 0 || base > 0xe0 || base % 0x20 !== 0) throw new ObdDecodeError('OBD_BAD_BITMAP', `0x${base.toString(16)} is not a bitmap PID`);
  if (bitmap.length !== 4) throw new ObdDecodeError('OBD_BAD_BITMAP', `bitmap 0x${hex2(base)} is ${bitmap.length} bytes, not 4: ${hexOf(bitmap)}`);
  return pidsFromBitmap(base, bitmap);
}

/**
 * The 0x00 / 0x20 / … responses (as [base, 4 data bytes] pairs, e.g. a Map, or the bitmap
 * readings from decodeMode01) → the sorted list of supported PIDs. The bitmap PIDs themselves
 * appear in the list when the previous bitmap marks them, which is how a caller knows to ask for
 * the next one. Several ECUs' bitmaps may be passed: the result is their union.
 */
export function supportedPidsFromBitmaps(bitmaps: Iterable<readonly [number, Uint8Array] | PidReading>): number[] {
  const pids = new Set<number>();
  for (const item of bitmaps) {
    const [base, data] = 'pid' in item ? [item.pid, item.raw] : item;
    for (const pid of decodeSupportedBitmap(base, data)) pids.add(pid);
  }
  return [...pids].sort((a, b) => a - b);
}

function lookup(pid: number, context: Uint8Array): Mode01PidDefinition {
  const entry = mode01Pid(pid);
  if (entry === undefined) {
    throw new ObdDecodeError('OBD_UNKNOWN_PID', `PID 0x${hex2(pid)} is not a standard mode 01 PID, so its length is unknown: ${hexOf(context)}`);
  }
  return entry;
}

/** The data length to take for `entry` when `remaining` bytes are left in the payload. */
function dataLength(entry: Mode01PidDefinition, remaining: number, payload: Uint8Array): number {
  if (remaining >= entry.bytes) return entry.bytes;
  // A disputed-length PID at the end of the response: the response length decides.
  if ((entry.altBytes ?? []).includes(remaining)) return remaining;
  throw new ObdDecodeError('OBD_SHORT_DATA', `PID 0x${hex2(entry.pid)} (${entry.name}) needs ${entry.bytes} data bytes, ${remaining} left: ${hexOf(payload)}`);
}

function read(entry: Mode01PidDefinition, data: Uint8Array): PidReading {
  const raw = data.slice();
  return { pid: entry.pid, name: entry.name, value: entry.decode(raw), unit: entry.unit, raw };
}

const hex2 = (n: number): string => n.toString(16).toUpperCase().padStart(2, '0');
