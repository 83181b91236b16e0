// Typed errors of the ELM327 driver, and how each ELM error string maps to a code and a retry hint.
import { CarchainError, type CarchainErrorOptions } from '../../../protocol/errors.js';
import type { ElmErrorKind } from './elm327-response-parser.js';

/**
 * Codes are public API (callers branch on them), so they are only ever added, never renamed.
 * `temporary` is true when the same call may succeed later without anyone changing anything.
 */
export type Elm327ErrorCode =
  | 'ELM_NO_DATA' // no ECU answered within the ELM's own timeout (ATST): engine off, ECU busy, or PID unsupported
  | 'ELM_UNKNOWN_COMMAND' // `?`: the adapter did not understand the command (a clone lacking it, or a typo)
  | 'ELM_UNABLE_TO_CONNECT' // no protocol found: ignition off, or the adapter is not in a car
  | 'ELM_BUS_ERROR' // BUS INIT…ERROR, BUS BUSY, BUS ERROR, CAN ERROR, FB ERROR: the bus or the wiring
  | 'ELM_DATA_ERROR' // DATA ERROR, <DATA ERROR, <RX ERROR: a frame arrived damaged
  | 'ELM_BUFFER_FULL' // the adapter's receive buffer overflowed (serial link too slow for the bus)
  | 'ELM_STOPPED' // the adapter stopped because a byte arrived while it was busy
  | 'ELM_ADAPTER_RESET' // LV RESET: the adapter rebooted on low voltage and lost its settings
  | 'ELM_ADAPTER_ERROR' // ERRxx (e.g. ERR94, fatal CAN error; the adapter reset its CAN settings)
  | 'ELM_ACTIVITY_ALERT' // ACT ALERT: no bus activity; the adapter is about to go to low power
  | 'ELM_TIMEOUT' // no `>` prompt within the command's timeout
  | 'ELM_GARBLED' // the answer was unreadable (noise, wrong baud rate, lines that are not hex)
  | 'ELM_INIT_FAILED' // the init sequence could not be completed
  | 'ELM_DISCONNECTED' // the serial link is gone (unplugged, EIO) or is being reopened
  | 'ELM_CLOSED' // close() was called; nothing will work on this object again
  | 'ELM_CANCELLED' // the caller's AbortSignal fired before the command was sent
  | 'ELM_INVALID_ARGUMENT'; // a caller passed a PID / frame outside 0…255 or an empty command

export class Elm327Error extends CarchainError<Elm327ErrorCode> {
  /** The command that failed, when there was one. */
  readonly command: string | undefined;

  constructor(code: Elm327ErrorCode, message: string, options: CarchainErrorOptions & { command?: string } = {}) {
    super(code, message, options);
    this.command = options.command;
  }
}

export function isElm327Error(err: unknown, code?: Elm327ErrorCode): err is Elm327Error {
  return err instanceof Elm327Error && (code === undefined || err.code === code);
}

interface KindMapping {
  code: Elm327ErrorCode;
  temporary: boolean;
}

/** Why each kind is (not) temporary is written next to it: it is what retry loops rely on. */
const KIND_TO_CODE: Record<ElmErrorKind, KindMapping> = {
  // The ECU may simply have missed the ELM's deadline, or the engine is off: worth asking again.
  NO_DATA: { code: 'ELM_NO_DATA', temporary: true },
  // The same bytes get the same `?` from the same adapter.
  UNKNOWN_COMMAND: { code: 'ELM_UNKNOWN_COMMAND', temporary: false },
  // Ignition off is a state that ends when the driver turns the key.
  UNABLE_TO_CONNECT: { code: 'ELM_UNABLE_TO_CONNECT', temporary: true },
  BUS_INIT_ERROR: { code: 'ELM_BUS_ERROR', temporary: true },
  BUS_BUSY: { code: 'ELM_BUS_ERROR', temporary: true },
  BUS_ERROR: { code: 'ELM_BUS_ERROR', temporary: true },
  CAN_ERROR: { code: 'ELM_BUS_ERROR', temporary: true },
  FB_ERROR: { code: 'ELM_BUS_ERROR', temporary: true },
  DATA_ERROR: { code: 'ELM_DATA_ERROR', temporary: true },
  RX_ERROR: { code: 'ELM_DATA_ERROR', temporary: true },
  BUFFER_FULL: { code: 'ELM_BUFFER_FULL', temporary: true },
  STOPPED: { code: 'ELM_STOPPED', temporary: true },
  // The adapter is back at defaults: retrying works once the init sequence ran again (the adapter does that).
  LV_RESET: { code: 'ELM_ADAPTER_RESET', temporary: true },
  INTERNAL_ERROR: { code: 'ELM_ADAPTER_ERROR', temporary: true },
  ACT_ALERT: { code: 'ELM_ACTIVITY_ALERT', temporary: true },
};

export function errorForKind(kind: ElmErrorKind, text: string, command: string): Elm327Error {
  const { code, temporary } = KIND_TO_CODE[kind];
  return new Elm327Error(code, `${command}: adapter answered "${text}"`, { temporary, command });
}

/** Kinds that invalidate a whole answer even if some data lines came with it. */
export const WHOLE_RESPONSE_KINDS: ReadonlySet<ElmErrorKind> = new Set<ElmErrorKind>([
  'UNKNOWN_COMMAND',
  'UNABLE_TO_CONNECT',
  'BUS_INIT_ERROR',
  'BUS_BUSY',
  'BUS_ERROR',
  'CAN_ERROR',
  'FB_ERROR',
  'BUFFER_FULL',
  'STOPPED',
  'LV_RESET',
  'INTERNAL_ERROR',
]);
