// Pure multi-PID request planning and answer splitting (mode 01 and mode 02 on CAN): up to 6 PIDs per request.
//
// ISO 15765-4 lets a tester ask for up to six mode-01 PIDs in one request (`01 0C 0D 05 11 0F 10`); the ECU
// answers with the PIDs it supports, each followed by its data (`41 0C 1A F8 0D 32 …`). Walking that answer
// needs each PID's data length, taken from the J1979 table. PIDs whose length is unknown or disputed
// (`altBytes`) are never grouped: alone in a request, the answer's own length settles it.
import { mode01Pid } from '../j1979/mode01-pids.js';

/** ISO 15765-4: at most six PIDs in one mode-01 request. */
export const MAX_PIDS_PER_REQUEST = 6;
/** Mode 02 items are `pid frame` pairs: three fit one single-frame request. */
export const MAX_FREEZE_FRAME_ITEMS_PER_REQUEST = 3;

/** Data bytes after the PID when the table is sure of them; undefined when unknown or disputed. */
export function fixedDataLength(pid: number): number | undefined {
  const entry = mode01Pid(pid);
  if (entry === undefined || (entry.altBytes !== undefined && entry.altBytes.length > 0)) return undefined;
  return entry.bytes;
}

/** Unique PIDs in request order, grouped: known-length PIDs up to `maxPerRequest` together, the rest alone. */
export function planRequests(pids: readonly number[], maxPerRequest: number): number[][] {
  const unique = [...new Set(pids)];
  const groupable = unique.filter((pid) => fixedDataLength(pid) !== undefined);
  const alone = unique.filter((pid) => fixedDataLength(pid) === undefined);
  const groups: number[][] = [];
  for (let i = 0; i < groupable.length; i += Math.max(1, maxPerRequest)) groups.push(groupable.slice(i, i + Math.max(1, maxPerRequest)));
  for (const pid of alone) groups.push([pid]);
  return groups;
}

export interface SplitItem {
  pid: number;
  /** Mode 02 only. */
  frame?: number;
  /** The item alone, from the service byte: `41 <pid> <data>` / `42 <pid> <frame> <data>`. */
  payload: Uint8Array;
  data: Uint8Array;
}

export interface SplitResult {
  items: SplitItem[];
  /** Why the walk stopped early (the items before it are good), or undefined. */
  problem?: string;
}

export interface SplitOptions {
  /** 0x41 or 0x42. */
  service: number;
  /** PIDs that were asked for; with exactly one, its data is the rest of the payload whatever the table says. */
  requested: readonly number[];
}

/** Splits one ECU's answer `payload` (service byte onward) into per-PID items. Never throws. */
export function splitPayload(payload: Uint8Array, options: SplitOptions): SplitResult {
  const result: SplitResult = { items: [] };
  if (payload[0] !== options.service) {
    result.problem = `answer starts with 0x${hex(payload[0] ?? 0)}, not 0x${hex(options.service)}`;
    return result;
  }
  const header = options.service === 0x42 ? 2 : 1;
  const requested = new Set(options.requested);
  let at = 1;
  while (at < payload.length) {
    const pid = payload[at]!;
    if (!requested.has(pid)) {
      result.problem = `PID 0x${hex(pid)} was not asked for`;
      return result;
    }
    if (at + header > payload.length) {
      result.problem = `PID 0x${hex(pid)} is cut short`;
      return result;
    }
    const length = options.requested.length === 1 ? payload.length - at - header : fixedDataLength(pid);
    if (length === undefined || at + header + length > payload.length) {
      result.problem = length === undefined ? `PID 0x${hex(pid)} has no known length` : `PID 0x${hex(pid)} needs ${length} bytes`;
      return result;
    }
    const end = at + header + length;
    const itemPayload = new Uint8Array(end - at + 1);
    itemPayload[0] = options.service;
    itemPayload.set(payload.subarray(at, end), 1);
    const item: SplitItem = { pid, payload: itemPayload, data: itemPayload.slice(1 + header) };
    if (header === 2) item.frame = payload[at + 1]!;
    result.items.push(item);
    at = end;
  }
  return result;
}

/** The request text for mode 01 PIDs: `010C0D05`. */
export function mode01Request(pids: readonly number[]): string {
  return `01${pids.map(hex).join('')}`;
}

/** The request text for mode 02 items: `020C000D00`. */
export function mode02Request(items: readonly { pid: number; frame: number }[]): string {
  return `02${items.map((i) => hex(i.pid) + hex(i.frame)).join('')}`;
}

export function hex(byte: number): string {
  return byte.toString(16).toUpperCase().padStart(2, '0');
}
