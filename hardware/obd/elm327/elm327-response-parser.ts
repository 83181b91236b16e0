// Pure ELM327 answer parsing: bytes → lines (at the `>` prompt) → a response of data, info and typed error lines.
//
// What real adapters and clones send, and what this module does about it:
// - lines end in `\r`; with `ATL1` (or a clone ignoring `ATL0`) a `\n` follows: `\n` is ignored everywhere;
// - NUL bytes (some adapters pad with them) are ignored; other bytes outside printable ASCII (noise, a wrong
//   baud rate, a reset glitch) are dropped and counted, never thrown on;
// - the `>` prompt ends an answer; bytes before a prompt are one answer, however they were chunked;
// - the command's echo is dropped even after `ATE0` (many clones keep echoing), also when a clone glues the
//   echo to the first answer line;
// - every ELM error string becomes a typed value; `SEARCHING...` and `BUS INIT: ...OK` are informational.

export type ElmErrorKind =
  | 'NO_DATA'
  | 'UNKNOWN_COMMAND'
  | 'UNABLE_TO_CONNECT'
  | 'BUS_INIT_ERROR'
  | 'BUS_BUSY'
  | 'BUS_ERROR'
  | 'CAN_ERROR'
  | 'FB_ERROR'
  | 'DATA_ERROR'
  | 'RX_ERROR'
  | 'BUFFER_FULL'
  | 'STOPPED'
  | 'LV_RESET'
  | 'INTERNAL_ERROR'
  | 'ACT_ALERT';

export interface ElmErrorLine {
  kind: ElmErrorKind;
  /** The line as printed. */
  text: string;
}

export type ElmLine =
  | { type: 'data'; text: string }
  | { type: 'info'; text: string }
  | { type: 'error'; kind: ElmErrorKind; text: string };

/** The lines of one answer, as cut at a `>` prompt. */
export interface RawElmAnswer {
  /** Non-empty lines, trimmed, in arrival order. */
  lines: string[];
  /** Bytes dropped because they were not printable ASCII. */
  garbageBytes: number;
}

export interface ElmResponse {
  /** Data lines as printed (trimmed); echo, info and error lines removed. */
  lines: string[];
  /** Informational lines (`SEARCHING...`, `BUS INIT: ...OK`). */
  info: string[];
  errors: ElmErrorLine[];
  /** True when an echo of the command was found and dropped. */
  echoDropped: boolean;
  /** Lines dropped because they could not be read (non-hex lines in an OBD answer; filled in by the link). */
  unreadable: string[];
  garbageBytes: number;
}

const CR = 0x0d;
const LF = 0x0a;
const NUL = 0x00;
const PROMPT = 0x3e; // '>'

/**
 * Cuts a byte stream into answers at each `>` prompt. Stateful but pure (no I/O, no timers): feed it chunks
 * as they arrive, split anywhere, and it returns the answers completed by that chunk.
 */
export class ElmAnswerReader {
  private current = '';
  private lines: string[] = [];
  private garbage = 0;
  private bytesSincePrompt = 0;

  push(chunk: Uint8Array): RawElmAnswer[] {
    const done: RawElmAnswer[] = [];
    for (const byte of chunk) {
      this.bytesSincePrompt++;
      if (byte === PROMPT) {
        this.endLine();
        done.push({ lines: this.lines, garbageBytes: this.garbage });
        this.lines = [];
        this.garbage = 0;
        this.bytesSincePrompt = 0;
      } else if (byte === CR) {
        this.endLine();
      } else if (byte === LF || byte === NUL) {
        // ignored: ATL1 line feeds and NUL padding carry no meaning
      } else if (byte >= 0x20 && byte <= 0x7e) {
        this.current += String.fromCharCode(byte);
      } else {
        this.garbage++;
      }
    }
    return done;
  }

  /** Lines received since the last prompt (the partial one included): for error messages after a timeout. */
  pendingLines(): string[] {
    const partial = this.current.trim();
    return partial === '' ? [...this.lines] : [...this.lines, partial];
  }

  /** Bytes received since the last prompt, garbage included. */
  get pendingByteCount(): number {
    return this.bytesSincePrompt;
  }

  /** True when nothing but noise (dropped bytes, CR, LF, NUL) arrived since the last prompt. */
  get pendingIsNoise(): boolean {
    return this.current === '' && this.lines.length === 0;
  }

  /** Forgets everything since the last prompt (used when an answer is abandoned). */
  reset(): void {
    this.current = '';
    this.lines = [];
    this.garbage = 0;
    this.bytesSincePrompt = 0;
  }

  private endLine(): void {
    const line = this.current.trim();
    this.current = '';
    if (line !== '') this.lines.push(line);
  }
}

/** Uppercase, all whitespace removed: how error strings are compared (clones drop or add spaces). */
function squash(text: string): string {
  return text.replace(/\s+/g, '').toUpperCase();
}

const EXACT_ERRORS: ReadonlyMap<string, ElmErrorKind> = new Map<string, ElmErrorKind>([
  ['NODATA', 'NO_DATA'],
  ['?', 'UNKNOWN_COMMAND'],
  ['UNABLETOCONNECT', 'UNABLE_TO_CONNECT'],
  ['BUSBUSY', 'BUS_BUSY'],
  ['BUSERROR', 'BUS_ERROR'],
  ['CANERROR', 'CAN_ERROR'],
  ['FBERROR', 'FB_ERROR'],
  ['DATAERROR', 'DATA_ERROR'],
  ['BUFFERFULL', 'BUFFER_FULL'],
  ['STOPPED', 'STOPPED'],
  ['LVRESET', 'LV_RESET'],
  ['ACTALERT', 'ACT_ALERT'],
]);

/** Classifies one trimmed line of an answer. Never throws. */
export function classifyLine(line: string): ElmLine {
  const s = squash(line);
  const exact = EXACT_ERRORS.get(s);
  if (exact !== undefined) return { type: 'error', kind: exact, text: line };
  if (s.startsWith('BUSINIT:')) {
    return s.includes('ERROR') ? { type: 'error', kind: 'BUS_INIT_ERROR', text: line } : { type: 'info', text: line };
  }
  if (s.startsWith('SEARCHING')) return { type: 'info', text: line };
  if (/^ERR[0-9A-F]{2}$/.test(s)) return { type: 'error', kind: 'INTERNAL_ERROR', text: line };
  // A frame the adapter received damaged is printed with a marker after its bytes.
  if (s.endsWith('<DATAERROR')) return { type: 'error', kind: 'DATA_ERROR', text: line };
  if (s.includes('<RXERROR')) return { type: 'error', kind: 'RX_ERROR', text: line };
  return { type: 'data', text: line };
}

/**
 * If `line` begins with `command` (ignoring whitespace and case), returns what follows it (trimmed);
 * otherwise null. Used to drop an echo, including one a clone glued to the first answer line.
 */
export function stripEcho(line: string, command: string): string | null {
  const wanted = squash(command);
  if (wanted === '') return null;
  let matched = 0;
  let i = 0;
  for (; i < line.length && matched < wanted.length; i++) {
    const ch = line[i]!;
    if (/\s/.test(ch)) continue;
    if (ch.toUpperCase() !== wanted[matched]) return null;
    matched++;
  }
  return matched === wanted.length ? line.slice(i).trim() : null;
}

/** A `SEARCHING...` glued to what follows it on one line is split into two lines. */
function splitSearching(line: string): string[] {
  const m = /^(SEARCHING\s*\.\.\.)(.+)$/i.exec(line);
  return m ? [m[1]!, m[2]!.trim()] : [line];
}

/** Turns one raw answer into data / info / error lines for `command` (the text that was sent, without `\r`). */
export function parseAnswer(answer: RawElmAnswer, command: string): ElmResponse {
  const response: ElmResponse = { lines: [], info: [], errors: [], echoDropped: false, unreadable: [], garbageBytes: answer.garbageBytes };
  let first = true;
  for (const rawLine of answer.lines) {
    let line = rawLine;
    if (first) {
      first = false;
      const rest = stripEcho(line, command);
      if (rest !== null) {
        response.echoDropped = true;
        if (rest === '') continue;
        line = rest;
      }
    }
    for (const part of splitSearching(line)) {
      const classified = classifyLine(part);
      if (classified.type === 'data') response.lines.push(classified.text);
      else if (classified.type === 'info') response.info.push(classified.text);
      else response.errors.push({ kind: classified.kind, text: classified.text });
    }
  }
  return response;
}

/**
 * True when a data line is hex bytes as an OBD answer prints them: `41 0C 1A F8`, `410C1AF8`, `7E8 06 41 …`,
 * the multi-frame index form `0: 49 02 01 …`, or the 3-digit length line `014`.
 */
export function isHexLine(line: string): boolean {
  return /^([0-9A-F]:)?[0-9A-F]+$/i.test(line.replace(/\s+/g, ''));
}

/** True for commands the adapter handles itself (`AT…`, and the STN `ST…` extensions): answers are text. */
export function isAdapterCommand(command: string): boolean {
  return /^\s*(AT|ST)/i.test(command);
}
