// The ELM327 init sequence, written to survive clones and slow adapters: reset, settings, protocol search, voltage.
//
//   ATZ     reset; wait for the banner (long timeout) and let trailing bytes settle
//   ATE0    echo off       (clones may keep echoing: the parser drops echoes anyway, so failure is tolerated)
//   ATL0    linefeeds off  (tolerated: the parser ignores \n)
//   ATS0    spaces off     (tolerated: v1.0–1.2 lack it; the parser reads spaced hex too)
//   ATH1    headers on     (needed to tell ECUs apart; on failure the driver reads header-less answers)
//   ATSPn   protocol (0 = automatic search)
//   0100    the first OBD request, with the long search timeout (`SEARCHING...`); `UNABLE TO CONNECT`,
//           `NO DATA` or a bus error here mean "no ECU talks" → ignition off, not a failure
//   ATDPN   which protocol was found
//   ATRV    battery voltage (null if the adapter cannot)
// Each step is retried a few times; only a lost link ends the sequence early.
import { Elm327Error, isElm327Error } from './elm327-errors.js';
import type { Elm327Link } from './elm327-link.js';
import { parseProtocolNumber, parseVoltage } from './elm327-protocols.js';
import type { ElmResponse } from './elm327-response-parser.js';

export interface InitOptions {
  /** `ATSP` argument: `0` automatic, `1`…`C`, or `A6`-style (try 6 first). */
  protocol: string;
  /** Tries per step. */
  attempts: number;
  /** ATZ timeout: a reset with banner takes ~1 s on a real ELM327, several on some clones. */
  resetTimeoutMs: number;
  /** Quiet time required after the ATZ prompt. */
  resetSettleMs: number;
}

export interface SearchOutcome {
  /** `1`…`C`, or `0` when no protocol was found. */
  protocolNumber: string;
  ignitionOff: boolean;
  /** The `0100` answer when an ECU answered. */
  firstAnswer: ElmResponse | null;
}

export interface InitOutcome extends SearchOutcome {
  banner: string;
  headers: boolean;
  voltage: number | null;
}

/** Errors after which retrying a step makes no sense: the link is gone or the caller gave up. */
function isFinal(error: unknown): boolean {
  return isElm327Error(error) && (error.code === 'ELM_DISCONNECTED' || error.code === 'ELM_CLOSED' || error.code === 'ELM_CANCELLED');
}

async function withRetries<T>(attempts: number, step: () => Promise<T>): Promise<T> {
  let last: unknown;
  for (let i = 0; i < Math.max(1, attempts); i++) {
    try {
      return await step();
    } catch (error) {
      if (isFinal(error)) throw error;
      last = error;
    }
  }
  throw last;
}

/** An AT command that should answer OK; false (not an exception) when it never did. */
async function setting(link: Elm327Link, command: string, attempts: number): Promise<boolean> {
  try {
    await withRetries(attempts, async () => {
      const response = await link.send(command);
      if (!response.lines.some((line) => /\bOK\b/i.test(line))) {
        throw new Elm327Error('ELM_GARBLED', `${command}: expected OK, got ${JSON.stringify(response.lines)}`, { temporary: true, command });
      }
    });
    return true;
  } catch (error) {
    if (isFinal(error)) throw error;
    return false;
  }
}

async function reset(link: Elm327Link, options: InitOptions): Promise<string> {
  try {
    return await withRetries(options.attempts, async () => {
      const response = await link.send('ATZ', { timeoutMs: options.resetTimeoutMs, settleMs: options.resetSettleMs });
      // The banner is the line that is not an OK; clones vary ("ELM327 v1.5", "ELM327 v2.1", "OBDII v1.5").
      const banner = response.lines.filter((line) => !/^OK$/i.test(line)).at(-1);
      if (banner === undefined) {
        throw new Elm327Error('ELM_GARBLED', `ATZ: no banner in ${JSON.stringify(response.lines)}`, { temporary: true, command: 'ATZ' });
      }
      return banner;
    });
  } catch (error) {
    if (isFinal(error)) throw error;
    throw new Elm327Error('ELM_INIT_FAILED', `the adapter did not reset (ATZ): ${(error as Error).message}`, { temporary: true, cause: error });
  }
}

const NO_ECU_CODES = new Set(['ELM_UNABLE_TO_CONNECT', 'ELM_NO_DATA', 'ELM_BUS_ERROR']);

/** `0100` (with the link's long search timeout) then `ATDPN`. Ignition off is an outcome, not an error. */
export async function searchProtocol(link: Elm327Link, attempts: number): Promise<SearchOutcome> {
  let firstAnswer: ElmResponse | null = null;
  let last: unknown;
  for (let i = 0; i < Math.max(1, attempts) && firstAnswer === null; i++) {
    try {
      firstAnswer = await link.send('0100');
    } catch (error) {
      if (isFinal(error)) throw error;
      last = error;
      // The adapter already searched every protocol: asking again at once only costs another search.
      if (isElm327Error(error, 'ELM_UNABLE_TO_CONNECT')) break;
    }
  }
  if (firstAnswer === null) {
    if (isElm327Error(last) && NO_ECU_CODES.has(last.code)) return { protocolNumber: '0', ignitionOff: true, firstAnswer: null };
    throw new Elm327Error('ELM_INIT_FAILED', `the first OBD request (0100) failed: ${(last as Error).message}`, { temporary: true, cause: last });
  }
  let protocolNumber = '0';
  try {
    protocolNumber = await withRetries(attempts, async () => {
      const response = await link.send('ATDPN');
      const number = parseProtocolNumber(response.lines[0] ?? '');
      if (number === null) throw new Elm327Error('ELM_GARBLED', `ATDPN: ${JSON.stringify(response.lines)}`, { temporary: true, command: 'ATDPN' });
      return number;
    });
  } catch (error) {
    if (isFinal(error)) throw error;
    // Unknown protocol: answers are read with per-line format guessing.
  }
  return { protocolNumber, ignitionOff: false, firstAnswer };
}

export async function readVoltage(link: Elm327Link, attempts: number): Promise<number | null> {
  try {
    return await withRetries(attempts, async () => {
      const response = await link.send('ATRV');
      const volts = parseVoltage(response.lines[0] ?? '');
      if (volts === null) throw new Elm327Error('ELM_GARBLED', `ATRV: ${JSON.stringify(response.lines)}`, { temporary: true, command: 'ATRV' });
      return volts;
    });
  } catch (error) {
    if (isFinal(error)) throw error;
    return null;
  }
}

export async function runInitSequence(link: Elm327Link, options: InitOptions): Promise<InitOutcome> {
  const banner = await reset(link, options);
  await setting(link, 'ATE0', options.attempts);
  await setting(link, 'ATL0', options.attempts);
  await setting(link, 'ATS0', options.attempts);
  const headers = await setting(link, 'ATH1', options.attempts);
  await setting(link, `ATSP${options.protocol}`, options.attempts);
  link.expectProtocolSearch();
  const search = await searchProtocol(link, options.attempts);
  const voltage = await readVoltage(link, options.attempts);
  return { ...search, banner, headers, voltage };
}
