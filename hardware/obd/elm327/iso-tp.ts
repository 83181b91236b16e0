// Pure reassembly of OBD answers as the ELM327 prints them: ISO-TP (ISO 15765-2) on CAN, per-ECU, and legacy lines.
//
// Input is the data lines of one answer (echo, info and error lines already removed by the response parser);
// output is one payload per answering ECU, from the service byte onward (`49 02 01 31 44 …`).
//
// - CAN, headers on (`ATH1`, what the driver sets): every line is one frame, `7E8 06 41 00 …` (11-bit) or
//   `18DAF110 06 41 00 …` (29-bit). The PCI nibble says single (0), first (1), consecutive (2) or flow control
//   (3, ignored). Frames of several ECUs may interleave; they are grouped by header.
// - CAN, headers off: the ELM strips the PCI; a multi-frame message is printed as a 3-digit length line
//   (`014`) followed by `0: …`, `1: …` numbered lines (the index wraps after F). ECUs cannot be told apart;
//   they are keyed `#0`, `#1`, … in order.
// - Legacy (J1850, ISO 9141-2, ISO 14230-4), headers on: `48 6B 10 41 0C 1A F8 C4` — 3 header bytes, data,
//   checksum. Several lines of one ECU are joined behind one service byte: mode 03/07/0A lines as one run
//   of codes; other services (mode 09) sorted by the sequence byte at offset 2, which is kept (see below).

export type FrameFormat = 'can11' | 'can29' | 'legacy' | 'auto';

export interface ReassembleOptions {
  /** Whether the adapter prints headers (`ATH1`). */
  headers: boolean;
  /** From the protocol number (see `frameFormatForProtocol`); `auto` guesses per line. */
  format: FrameFormat;
}

export interface ReassemblyProblem {
  ecu: string;
  reason: string;
}

export interface ReassemblyResult {
  /** ECU header (uppercase, no spaces) → payload from the service byte onward. Insertion order = first seen. */
  byEcu: Map<string, Uint8Array>;
  /** Frames that could not be used (bad hex, missing consecutive frame, truncated message). */
  problems: ReassemblyProblem[];
}

/** ELM protocol number (`ATDPN`, without the `A` prefix) → how its answers are framed. */
export function frameFormatForProtocol(protocolNumber: string): FrameFormat {
  switch (protocolNumber.toUpperCase()) {
    case '6':
    case '8':
    case 'B':
    case 'C':
      return 'can11';
    case '7':
    case '9':
    case 'A':
      return 'can29';
    case '1':
    case '2':
    case '3':
    case '4':
    case '5':
      return 'legacy';
    default:
      return 'auto';
  }
}

/** The simple form: problems are dropped. */
export function reassemble(lines: readonly string[], options: ReassembleOptions): Map<string, Uint8Array> {
  return reassembleDetailed(lines, options).byEcu;
}

export function reassembleDetailed(lines: readonly string[], options: ReassembleOptions): ReassemblyResult {
  const result: ReassemblyResult = { byEcu: new Map(), problems: [] };
  if (!options.headers) {
    if (options.format === 'legacy') legacyWithoutHeaders(lines, result);
    else canWithoutHeaders(lines, result);
    return result;
  }
  const canFrames: { ecu: string; bytes: Uint8Array }[] = [];
  const legacyFrames: { ecu: string; bytes: Uint8Array }[] = [];
  for (const line of lines) {
    const hex = line.replace(/\s+/g, '').toUpperCase();
    const format = options.format === 'auto' ? guessFormat(hex) : options.format;
    const headerLength = format === 'can11' ? 3 : format === 'can29' ? 8 : 6;
    const header = hex.slice(0, headerLength);
    const bytes = hexToBytes(hex.slice(headerLength));
    if (!/^[0-9A-F]+$/.test(header) || header.length < headerLength || bytes === null || bytes.length === 0) {
      result.problems.push({ ecu: header, reason: `unreadable frame "${line}"` });
      continue;
    }
    if (format === 'legacy') legacyFrames.push({ ecu: header, bytes });
    else canFrames.push({ ecu: header, bytes });
  }
  canFramesToPayloads(canFrames, result);
  legacyFramesToPayloads(legacyFrames, result);
  return result;
}

/** Headers on with an unknown protocol: 11-bit CAN lines have an odd digit count, 29-bit ones start `18DA`. */
function guessFormat(hex: string): Exclude<FrameFormat, 'auto'> {
  if (hex.length % 2 === 1) return 'can11';
  if (hex.startsWith('18DA') && hex.length >= 10) return 'can29';
  return 'legacy';
}

export function hexToBytes(hex: string): Uint8Array | null {
  if (hex.length % 2 !== 0 || !/^[0-9A-Fa-f]*$/.test(hex)) return null;
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  return out;
}

interface PendingMessage {
  total: number;
  parts: Uint8Array[];
  received: number;
  nextSequence: number;
}

function concat(parts: readonly Uint8Array[], limit = Infinity): Uint8Array {
  const length = Math.min(limit, parts.reduce((n, p) => n + p.length, 0));
  const out = new Uint8Array(length);
  let offset = 0;
  for (const part of parts) {
    if (offset >= length) break;
    const take = part.subarray(0, length - offset);
    out.set(take, offset);
    offset += take.length;
  }
  return out;
}

/** `7F <service> 78`: "response pending" — the ECU will answer again; the later answer counts. */
function isResponsePending(payload: Uint8Array): boolean {
  return payload.length >= 3 && payload[0] === 0x7f && payload[2] === 0x78;
}

function store(result: ReassemblyResult, ecu: string, payload: Uint8Array): void {
  if (isResponsePending(payload)) return;
  if (result.byEcu.has(ecu)) {
    result.problems.push({ ecu, reason: 'a second message from the same ECU was ignored' });
    return;
  }
  result.byEcu.set(ecu, payload);
}

function canFramesToPayloads(frames: readonly { ecu: string; bytes: Uint8Array }[], result: ReassemblyResult): void {
  const pending = new Map<string, PendingMessage>();
  for (const { ecu, bytes } of frames) {
    const pci = bytes[0]! >> 4;
    const low = bytes[0]! & 0x0f;
    if (pci === 0) {
      // CAN FD escape (low nibble 0): the length is in the next byte.
      const length = low === 0 ? (bytes[1] ?? 0) : low;
      const start = low === 0 ? 2 : 1;
      if (length === 0 || bytes.length < start + length) {
        result.problems.push({ ecu, reason: `single frame shorter than its length ${length}` });
        continue;
      }
      store(result, ecu, bytes.slice(start, start + length));
    } else if (pci === 1) {
      if (bytes.length < 2) {
        result.problems.push({ ecu, reason: 'first frame without a length' });
        continue;
      }
      if (pending.has(ecu)) result.problems.push({ ecu, reason: 'first frame restarted an unfinished message' });
      const total = (low << 8) | bytes[1]!;
      pending.set(ecu, { total, parts: [bytes.slice(2)], received: bytes.length - 2, nextSequence: 1 });
      finishIfComplete(ecu, pending, result);
    } else if (pci === 2) {
      const message = pending.get(ecu);
      if (message === undefined) {
        result.problems.push({ ecu, reason: 'consecutive frame without a first frame' });
        continue;
      }
      if (low !== message.nextSequence) {
        result.problems.push({ ecu, reason: `consecutive frame ${low} where ${message.nextSequence} was due (a frame was lost)` });
        pending.delete(ecu);
        continue;
      }
      message.parts.push(bytes.slice(1));
      message.received += bytes.length - 1;
      message.nextSequence = (message.nextSequence + 1) & 0x0f;
      finishIfComplete(ecu, pending, result);
    }
    // pci 3 (flow control) and anything else: not part of an answer.
  }
  for (const [ecu, message] of pending) {
    result.problems.push({ ecu, reason: `message incomplete: ${message.received} of ${message.total} bytes` });
  }
}

function finishIfComplete(ecu: string, pending: Map<string, PendingMessage>, result: ReassemblyResult): void {
  const message = pending.get(ecu)!;
  if (message.received < message.total) return;
  pending.delete(ecu);
  store(result, ecu, concat(message.parts, message.total));
}

function canWithoutHeaders(lines: readonly string[], result: ReassemblyResult): void {
  let index = 0;
  let message: (PendingMessage & { key: string }) | null = null;
  const nextKey = (): string => `#${index++}`;
  for (const line of lines) {
    const hex = line.replace(/\s+/g, '').toUpperCase();
    const numbered = /^([0-9A-F]):([0-9A-F]*)$/.exec(hex);
    if (/^[0-9A-F]{3}$/.test(hex)) {
      if (message !== null) result.problems.push({ ecu: message.key, reason: 'message incomplete before the next length line' });
      message = { key: nextKey(), total: parseInt(hex, 16), parts: [], received: 0, nextSequence: 0 };
    } else if (numbered !== null) {
      const bytes = hexToBytes(numbered[2]!);
      const sequence = parseInt(numbered[1]!, 16);
      if (message === null || bytes === null || sequence !== message.nextSequence) {
        result.problems.push({ ecu: message?.key ?? '#?', reason: `unexpected numbered line "${line}"` });
        message = null;
        continue;
      }
      message.parts.push(bytes);
      message.received += bytes.length;
      message.nextSequence = (sequence + 1) & 0x0f;
      if (message.received >= message.total) {
        store(result, message.key, concat(message.parts, message.total));
        message = null;
      }
    } else {
      const bytes = hexToBytes(hex);
      if (bytes === null || bytes.length === 0) {
        result.problems.push({ ecu: '#?', reason: `unreadable line "${line}"` });
        continue;
      }
      store(result, nextKey(), bytes);
    }
  }
  if (message !== null) result.problems.push({ ecu: message.key, reason: `message incomplete: ${message.received} of ${message.total} bytes` });
}

const DTC_SERVICES = new Set([0x43, 0x47, 0x4a]);

/**
 * Joins the frames of one legacy ECU into one payload: the service byte once, then every frame's bytes
 * after its own service byte. Mode 09 frames (`49 02 <seq> d d d d`) are put in sequence order first and
 * keep their infotype and sequence bytes — the "concatenated legacy messages" layout the J1979 decoder
 * reads (`decodeVin(payload.subarray(1))`); mode 03/07/0A frames become one run of 2-byte codes.
 */
function joinLegacyFrames(ecu: string, frames: Uint8Array[], result: ReassemblyResult): Uint8Array | null {
  if (frames.length === 1) return frames[0]!;
  const service = frames[0]![0]!;
  if (frames.some((f) => f[0] !== service)) {
    result.problems.push({ ecu, reason: 'legacy frames of different services from one ECU' });
    return frames[0]!;
  }
  if (DTC_SERVICES.has(service)) return concat([Uint8Array.of(service), ...frames.map((f) => f.subarray(1))]);
  const pid = frames[0]![1];
  if (frames.some((f) => f.length < 3 || f[1] !== pid)) {
    result.problems.push({ ecu, reason: 'legacy frames of different requests from one ECU' });
    return frames[0]!;
  }
  const sorted = [...frames].sort((a, b) => a[2]! - b[2]!);
  return concat([Uint8Array.of(service), ...sorted.map((f) => f.subarray(1))]);
}

function legacyFramesToPayloads(frames: readonly { ecu: string; bytes: Uint8Array }[], result: ReassemblyResult): void {
  const byEcu = new Map<string, Uint8Array[]>();
  for (const { ecu, bytes } of frames) {
    if (bytes.length < 2) {
      result.problems.push({ ecu, reason: 'legacy frame without data' });
      continue;
    }
    const data = bytes.subarray(0, bytes.length - 1); // the last byte is the checksum
    const list = byEcu.get(ecu) ?? [];
    list.push(data);
    byEcu.set(ecu, list);
  }
  for (const [ecu, list] of byEcu) {
    const joined = joinLegacyFrames(ecu, list, result);
    if (joined !== null) store(result, ecu, joined);
  }
}

/** Without headers nothing tells ECUs apart: mode 03/07/0A and 09 lines are joined, other lines kept apart. */
function legacyWithoutHeaders(lines: readonly string[], result: ReassemblyResult): void {
  const frames: Uint8Array[] = [];
  for (const line of lines) {
    const bytes = hexToBytes(line.replace(/\s+/g, ''));
    if (bytes === null || bytes.length === 0) result.problems.push({ ecu: '#?', reason: `unreadable line "${line}"` });
    else frames.push(bytes);
  }
  if (frames.length === 0) return;
  const service = frames[0]![0]!;
  if (DTC_SERVICES.has(service) || service === 0x49) {
    const joined = joinLegacyFrames('#0', frames, result);
    if (joined !== null) store(result, '#0', joined);
    return;
  }
  frames.forEach((frame, i) => store(result, `#${i}`, frame));
}
