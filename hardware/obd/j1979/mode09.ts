// Mode 09 (vehicle information): supported infotypes, VIN, calibration ids and CVNs, in CAN and legacy layouts.
import { ObdDecodeError, hexOf } from './errors.js';
import { pidsFromBitmap } from './pid-scaling.js';

export const INFOTYPE_VIN = 0x02;
export const INFOTYPE_CALIBRATION_ID = 0x04;
export const INFOTYPE_CVN = 0x06;

/**
 * A mode 09 response from one ECU, each message without its 0x49 service byte:
 * - CAN (ISO 15765-4): one reassembled message `infotype count data…`;
 * - legacy (J1850, ISO 9141, KWP2000): several messages `infotype seq d d d d` (seq = 1, 2, …),
 *   passed as an array or concatenated into one buffer.
 */
export type Mode09Response = Uint8Array | readonly Uint8Array[];

/**
 * The 17-character VIN. Legacy responses pad the first message with three 0x00 bytes (5 messages
 * × 4 bytes = 20); NUL padding at either end is removed and what remains must be exactly 17
 * printable characters — never truncated to fit (OBD_BAD_VIN instead).
 */
export function decodeVin(response: Mode09Response): string {
  const data = infotypeData(INFOTYPE_VIN, response, 17);
  let start = 0;
  let end = data.length;
  while (start < end && data[start] === 0) start++;
  while (end > start && data[end - 1] === 0) end--;
  const body = data.subarray(start, end);
  if (body.length !== 17 || !body.every((b) => b > 0x20 && b <= 0x7e)) {
    throw new ObdDecodeError('OBD_BAD_VIN', `VIN must be 17 printable characters, got ${body.length} bytes: ${hexOf(data)}`);
  }
  return ascii(body);
}

/**
 * Calibration ids: 16 bytes each, ASCII, NUL padded at the end; an ECU may report several. An
 * all-NUL slot decodes to ''.
 */
export function decodeCalibrationIds(response: Mode09Response): string[] {
  const data = infotypeData(INFOTYPE_CALIBRATION_ID, response, 16);
  if (data.length === 0 || data.length % 16 !== 0) {
    throw new ObdDecodeError('OBD_BAD_CALIBRATION_ID', `calibration ids are 16 bytes each, got ${data.length} bytes: ${hexOf(data)}`);
  }
  const ids: string[] = [];
  for (let i = 0; i < data.length; i += 16) {
    let end = i + 16;
    while (end > i && data[end - 1] === 0) end--;
    const id = data.subarray(i, end);
    if (!id.every(isPrintable)) {
      throw new ObdDecodeError('OBD_BAD_CALIBRATION_ID', `calibration id ${i / 16 + 1} is not printable ASCII: ${hexOf(data.subarray(i, i + 16))}`);
    }
    ids.push(ascii(id));
  }
  return ids;
}

/** Calibration verification numbers: 4 bytes each, as 8 uppercase hex digits, in calibration id order. */
export function decodeCvns(response: Mode09Response): string[] {
  const data = infotypeData(INFOTYPE_CVN, response, 4);
  if (data.length === 0 || data.length % 4 !== 0) {
    throw new ObdDecodeError('OBD_SHORT_DATA', `CVNs are 4 bytes each, got ${data.length} bytes: ${hexOf(data)}`);
  }
  const cvns: string[] = [];
  for (let i = 0; i < data.length; i += 4) cvns.push(hexOf(data.subarray(i, i + 4)).toUpperCase());
  return cvns;
}

/**
 * Mode 09 supported-infotype bitmap (infotype 0x00, 0x20, …) → supported infotypes. CAN: `base A B C D`;
 * legacy: `base 01 A B C D` (a message count byte).
 */
export function decodeMode09Supported(payload: Uint8Array): number[] {
  const base = payload[0];
  if (base === undefined || base % 0x20 !== 0) {
    throw new ObdDecodeError('OBD_BAD_BITMAP', `not a mode 09 supported-infotype response: ${hexOf(payload)}`);
  }
  if (payload.length === 5) return pidsFromBitmap(base, payload.subarray(1));
  if (payload.length === 6 && payload[1] === 0x01) return pidsFromBitmap(base, payload.subarray(2));
  throw new ObdDecodeError('OBD_BAD_BITMAP', `mode 09 bitmap must be 4 bytes (CAN) or count + 4 bytes (legacy): ${hexOf(payload)}`);
}

/**
 * The data bytes of an infotype response, whatever its layout (see Mode09Response). `itemSize` is
 * the size of one data item (17 for the VIN, 16 per calibration id, 4 per CVN): it tells a CAN
 * message, whose count byte × itemSize matches its length, from concatenated legacy messages.
 */
export function infotypeData(infotype: number, response: Mode09Response, itemSize: number): Uint8Array {
  const messages = response instanceof Uint8Array ? splitConcatenatedLegacy(infotype, response, itemSize) : response;
  if (messages.length === 0) throw new ObdDecodeError('OBD_EMPTY_PAYLOAD', `no mode 09 messages for infotype 0x${infotype.toString(16)}`);
  for (const m of messages) {
    if (m.length < 2) throw new ObdDecodeError('OBD_SHORT_DATA', `mode 09 message too short: ${hexOf(m)}`);
    if (m[0] !== infotype) {
      throw new ObdDecodeError('OBD_BAD_INFOTYPE', `expected infotype 0x${infotype.toString(16)}, got 0x${(m[0] ?? 0).toString(16)}: ${hexOf(m)}`);
    }
  }
  // One message: CAN (count byte then all data) or a single legacy message — the same layout.
  const [first] = messages;
  if (messages.length === 1 && first !== undefined) return first.subarray(2);
  // Legacy: order by sequence number, which must run 1..n without gaps or repeats.
  const ordered = [...messages].sort((a, b) => (a[1] ?? 0) - (b[1] ?? 0));
  ordered.forEach((m, i) => {
    if (m[1] !== i + 1) {
      throw new ObdDecodeError('OBD_BAD_INFOTYPE', `legacy message sequence numbers must run 1..${messages.length}: ${ordered.map((x) => x[1]).join(',')}`);
    }
  });
  const out = new Uint8Array(ordered.reduce((n, m) => n + m.length - 2, 0));
  let at = 0;
  for (const m of ordered) {
    out.set(m.subarray(2), at);
    at += m.length - 2;
  }
  return out;
}

/**
 * A single buffer that is several legacy messages back to back (`inf 01 dddd inf 02 dddd …`) is
 * split into them; a buffer whose count byte matches its length is one CAN message.
 */
function splitConcatenatedLegacy(infotype: number, buffer: Uint8Array, itemSize: number): Uint8Array[] {
  if (buffer.length < 12 || buffer.length % 6 !== 0) return [buffer];
  if ((buffer[1] ?? 0) * itemSize + 2 === buffer.length) return [buffer];
  const frames: Uint8Array[] = [];
  for (let i = 0; i < buffer.length; i += 6) {
    if (buffer[i] !== infotype || buffer[i + 1] !== i / 6 + 1) return [buffer];
    frames.push(buffer.subarray(i, i + 6));
  }
  return frames;
}

const isPrintable = (b: number): boolean => b >= 0x20 && b <= 0x7e;
const ascii = (bytes: Uint8Array): string => String.fromCharCode(...bytes);
