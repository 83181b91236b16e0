// Diagnostic trouble codes: the 2-byte DTC encoding and the mode 03 / 07 / 0A response layouts.
import { ObdDecodeError, hexOf } from './errors.js';

const SYSTEM_LETTERS = ['P', 'C', 'B', 'U'] as const;

/**
 * Two DTC bytes → "P0301". The top two bits of the first byte pick P/C/B/U, the next two the
 * first digit (0–3), the rest are hex digits. `00 00` is "no code" and decodes to null.
 */
export function decodeDtc(hi: number, lo: number): string | null {
  if (hi === 0 && lo === 0) return null;
  const letter = SYSTEM_LETTERS[(hi >> 6) & 3] ?? 'P';
  const digits = ((hi & 0x3f) * 256 + lo).toString(16).toUpperCase().padStart(4, '0');
  return `${letter}${digits}`;
}

/** "P0301" → [0x03, 0x01]: the inverse, for simulators and tests. */
export function encodeDtc(code: string): Uint8Array {
  const m = /^([PCBU])([0-3][0-9A-F]{3})$/.exec(code.toUpperCase());
  if (!m) throw new RangeError(`not a DTC: ${code}`);
  const value = SYSTEM_LETTERS.indexOf(m[1] as (typeof SYSTEM_LETTERS)[number]) * 0x4000 + Number.parseInt(m[2] ?? '0', 16);
  return Uint8Array.of(value >> 8, value & 0xff);
}

export interface DecodeDtcsOptions {
  /**
   * ISO 15765-4 (CAN): the first byte is the number of DTCs. Legacy protocols (J1850, ISO 9141,
   * KWP2000) have no count byte and pad each 3-code message with `00 00`.
   */
  can: boolean;
}

/**
 * Decodes the payload of a mode 03 / 07 / 0A response (everything after the 0x43 / 0x47 / 0x4A
 * service byte, from one ECU). For legacy protocols pass the data of all the ECU's response
 * messages concatenated, each without its service byte.
 *
 * On CAN the count byte must match the codes that follow; trailing `00 00` pairs beyond the count
 * are tolerated as padding, anything else is OBD_DTC_COUNT_MISMATCH.
 */
export function decodeDtcs(payload: Uint8Array, options: DecodeDtcsOptions): string[] {
  let body = payload;
  let expected: number | null = null;
  if (options.can) {
    if (payload.length === 0) throw new ObdDecodeError('OBD_EMPTY_PAYLOAD', 'DTC response has no count byte');
    expected = payload[0] ?? 0;
    body = payload.subarray(1);
  }
  if (body.length % 2 !== 0) {
    throw new ObdDecodeError('OBD_BAD_DTC_LENGTH', `DTC data is ${body.length} bytes, not a whole number of 2-byte codes: ${hexOf(payload)}`);
  }
  const codes: string[] = [];
  for (let i = 0; i < body.length; i += 2) {
    const hi = body[i] ?? 0;
    const lo = body[i + 1] ?? 0;
    if (expected !== null && codes.length === expected) {
      if (hi !== 0 || lo !== 0) break; // more codes than announced: reported below
      continue; // padding after the announced codes
    }
    const code = decodeDtc(hi, lo);
    if (code === null) {
      if (expected !== null) {
        throw new ObdDecodeError('OBD_DTC_COUNT_MISMATCH', `count byte says ${expected} DTCs but code ${codes.length + 1} is 0000: ${hexOf(payload)}`);
      }
      continue; // legacy padding
    }
    codes.push(code);
  }
  if (expected !== null) {
    const extra = countNonZeroPairs(body, expected * 2);
    if (codes.length !== expected || extra > 0) {
      throw new ObdDecodeError('OBD_DTC_COUNT_MISMATCH', `count byte says ${expected} DTCs but the data holds ${codes.length + extra}: ${hexOf(payload)}`);
    }
  }
  return codes;
}

function countNonZeroPairs(body: Uint8Array, from: number): number {
  let n = 0;
  for (let i = from; i + 1 < body.length; i += 2) if ((body[i] ?? 0) !== 0 || (body[i + 1] ?? 0) !== 0) n++;
  return n;
}
