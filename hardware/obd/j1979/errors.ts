// Typed errors for SAE J1979 response decoding: a response that cannot be decoded is a value, never a crash.
import { CarchainError, type CarchainErrorOptions } from '../../../protocol/errors.js';

export const OBD_DECODE_ERROR_CODES = [
  'OBD_EMPTY_PAYLOAD', // nothing after the service byte
  'OBD_UNKNOWN_PID', // a PID the standard table does not define, so its length is unknown
  'OBD_SHORT_DATA', // fewer data bytes than the PID / item needs
  'OBD_BAD_BITMAP', // a supported-PID bitmap at a base that is not 0x00, 0x20, … or not 4 bytes
  'OBD_BAD_DTC_LENGTH', // DTC data that is not a whole number of 2-byte codes
  'OBD_DTC_COUNT_MISMATCH', // the CAN count byte disagrees with the codes that follow
  'OBD_BAD_INFOTYPE', // a mode 09 response for another infotype, or broken message sequence numbers
  'OBD_BAD_VIN', // the VIN is not 17 printable characters after removing padding
  'OBD_BAD_CALIBRATION_ID', // calibration id data that is not a whole number of 16-byte ids
] as const;

export type ObdDecodeErrorCode = (typeof OBD_DECODE_ERROR_CODES)[number];

/**
 * A J1979 response was rejected. Never temporary: the same bytes fail the same way (asking the ECU
 * again may of course give different bytes — that is the caller's decision, not a retry hint).
 */
export class ObdDecodeError extends CarchainError<ObdDecodeErrorCode> {
  constructor(code: ObdDecodeErrorCode, message: string, options: Omit<CarchainErrorOptions, 'temporary'> = {}) {
    super(code, message, { ...options, temporary: false });
  }
}

export function hexOf(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}
