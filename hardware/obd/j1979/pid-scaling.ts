// The shape of a mode-01 PID table entry, plus the byte readers and J1979 scalings the tables are built from.
import { hexOf } from './errors.js';

/** A decoded PID: one number, or a small object for PIDs that carry several values or flags. */
export type PidValue = number | Record<string, unknown>;

export interface Mode01PidDefinition {
  readonly pid: number;
  /** SCREAMING_SNAKE name; python-OBD's where it has one (RPM, SPEED, COOLANT_TEMP, …). */
  readonly name: string;
  readonly description: string;
  /** Data bytes after the PID byte: how a multi-PID response is walked. */
  readonly bytes: number;
  /**
   * Other lengths published for this PID (the sources disagree). Accepted only when the PID is the
   * last item of a response, where the response's own length settles it; request such PIDs alone.
   */
  readonly altBytes?: readonly number[];
  /** Unit of the value, or of every number in the object; '' for flags / enumerations. */
  readonly unit: string;
  /** Human-readable formula over the data bytes A, B, C, … (documentation and tests). */
  readonly formula: string;
  /** True when no layout is published: the value is `{ hex }` of the data bytes. */
  readonly raw?: boolean;
  /** Decodes exactly `bytes` (or one of `altBytes`) data bytes; never called with fewer. */
  readonly decode: (data: Uint8Array) => PidValue;
}

export const byteAt = (d: Uint8Array, i: number): number => d[i] ?? 0;
export const u16 = (d: Uint8Array, i = 0): number => byteAt(d, i) * 256 + byteAt(d, i + 1);
export const s16 = (d: Uint8Array, i = 0): number => {
  const v = u16(d, i);
  return v >= 0x8000 ? v - 0x10000 : v;
};
export const u32 = (d: Uint8Array, i = 0): number => u16(d, i) * 65536 + u16(d, i + 2);
export const bit = (v: number, n: number): boolean => ((v >> n) & 1) === 1;

/** A*100/255: most "percent" PIDs. */
export const percent = (a: number): number => (a * 100) / 255;
/** (A-128)*100/128: fuel trims, EGR error (−100 … +99.2 %). */
export const trimPercent = (a: number): number => ((a - 128) * 100) / 128;
/** A−40: most temperatures in °C. */
export const celsius = (a: number): number => a - 40;
/** A−125: percent torque. */
export const torquePercent = (a: number): number => a - 125;

/** A PID whose value is one number computed from the data bytes. */
export function scalar(
  pid: number,
  name: string,
  description: string,
  bytes: number,
  unit: string,
  formula: string,
  decode: (d: Uint8Array) => number,
): Mode01PidDefinition {
  return { pid, name, description, bytes, unit, formula, decode };
}

/** A PID whose value is an object of several named values or flags. */
export function multi(
  pid: number,
  name: string,
  description: string,
  bytes: number,
  unit: string,
  formula: string,
  decode: (d: Uint8Array) => Record<string, unknown>,
  altBytes?: readonly number[],
): Mode01PidDefinition {
  return altBytes === undefined
    ? { pid, name, description, bytes, unit, formula, decode }
    : { pid, name, description, bytes, unit, formula, decode, altBytes };
}

/** A PID with a known length but no published layout: the reading keeps the bytes, never guesses. */
export function rawPid(pid: number, name: string, description: string, bytes: number, altBytes?: readonly number[]): Mode01PidDefinition {
  const entry = { pid, name, description, bytes, unit: '', formula: 'layout not published: raw bytes', raw: true, decode: (d: Uint8Array) => ({ hex: hexOf(d) }) };
  return altBytes === undefined ? entry : { ...entry, altBytes };
}

/** A 1-byte PID scaled A*100/255 %. */
export const percentPid = (pid: number, name: string, description: string): Mode01PidDefinition =>
  scalar(pid, name, description, 1, '%', 'A*100/255', (d) => percent(byteAt(d, 0)));

/** A 1-byte temperature A−40 °C. */
export const celsiusPid = (pid: number, name: string, description: string): Mode01PidDefinition =>
  scalar(pid, name, description, 1, '°C', 'A-40', (d) => celsius(byteAt(d, 0)));

/** Decodes a 4-byte supported-PID bitmap: bit 7 of A is base+1, bit 0 of D is base+32. */
export function pidsFromBitmap(base: number, d: Uint8Array): number[] {
  const pids: number[] = [];
  for (let i = 0; i < 32; i++) {
    if (bit(byteAt(d, i >> 3), 7 - (i & 7))) pids.push(base + i + 1);
  }
  return pids;
}

/** The bitmap PIDs 0x00, 0x20, …: value `{ supported: number[] }`. */
export function bitmapPid(base: number, name: string): Mode01PidDefinition {
  const hex = (n: number) => n.toString(16).toUpperCase().padStart(2, '0');
  return multi(base, name, `PIDs supported [${hex(base + 1)} - ${hex(base + 0x20)}]`, 4, '',
    `bit-encoded: A7..D0 = PID ${hex(base + 1)}..${hex(base + 0x20)}`, (d) => ({ supported: pidsFromBitmap(base, d) }));
}

/**
 * "Support byte + values" layout used by most PIDs above 0x60: byte A bit i says whether value i is
 * supported; unsupported values decode to null so the object shape never depends on the car.
 */
export function supportedValues(
  labels: readonly string[],
  width: 1 | 2 | 4,
  scale: (raw: number) => number,
  options: { signed?: boolean; offset?: number } = {},
): (d: Uint8Array) => Record<string, number | null> {
  return (d) => {
    const support = byteAt(d, 0);
    const out: Record<string, number | null> = {};
    labels.forEach((label, i) => {
      const at = (options.offset ?? 1) + width * i;
      // A support bit for bytes the response does not carry (PID 68's short form) is not a value.
      if (!bit(support, i) || at + width > d.length) {
        out[label] = null;
        return;
      }
      const rawValue = width === 1 ? byteAt(d, at) : width === 2 ? (options.signed ? s16(d, at) : u16(d, at)) : u32(d, at);
      out[label] = scale(rawValue);
    });
    return out;
  };
}
