// Licence-plate rules: regional formats, separator stripping, O/0 and I/1 folding, and a confidence gate over per-character scores.
//
// A format is a regular expression over the normalised plate text, optionally with a per-position
// alphabet. The alphabet does two jobs: it says where folding applies (a position that only allows
// digits turns a read `O` into `0`), and it lets the recogniser's CTC output be decoded constrained
// to the format (see ctc-decoder.ts). Formats without positions (other regions) are matched by their
// pattern alone.
import { CaitError } from './cait-errors.js';

export interface PlateFormat {
  /** Stable name reported with each read, e.g. `cn-standard`. */
  name: string;
  /** ISO 3166 region code, e.g. `CN`. */
  region: string;
  /** Anchored pattern the normalised text must match. */
  pattern: RegExp;
  /** Optional per-position alphabet (each entry the allowed characters of that position). */
  positions?: readonly string[];
}

export interface PlateCharScore {
  char: string;
  confidence: number;
}

export type PlateRejectReason =
  | 'EMPTY' // nothing left after stripping separators
  | 'NO_FORMAT' // the text matches no configured format, even after folding
  | 'LOW_CONFIDENCE'; // the text matches, but a character or the mean is under the gate

export type PlateVerdict =
  | { ok: true; plate: string; format: string; region: string; confidence: number; minCharConfidence: number; folded: boolean }
  | { ok: false; reason: PlateRejectReason; text: string; detail: string };

export interface ConfidenceGate {
  /** Every character must reach this probability. */
  minChar: number;
  /** The mean over characters must reach this. */
  minMean: number;
}

export const DEFAULT_GATE: ConfidenceGate = { minChar: 0.3, minMean: 0.7 };

/** The 31 mainland province-level abbreviations used as the first plate character. */
export const CN_PROVINCES = '京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼';
/** Letters used on Chinese plates: A–Z without I and O (they would read as 1 and 0). */
export const CN_LETTERS = 'ABCDEFGHJKLMNPQRSTUVWXYZ';
export const DIGITS = '0123456789';
const CN_ALNUM = CN_LETTERS + DIGITS;

const cls = (chars: string) => `[${chars}]`;

/** Chinese blue/yellow plates (GA 36): province + issuing-office letter + 5 letters/digits. */
export const CN_STANDARD: PlateFormat = {
  name: 'cn-standard',
  region: 'CN',
  pattern: new RegExp(`^${cls(CN_PROVINCES)}${cls(CN_LETTERS)}${cls(CN_ALNUM)}{5}$`, 'u'),
  positions: [CN_PROVINCES, CN_LETTERS, CN_ALNUM, CN_ALNUM, CN_ALNUM, CN_ALNUM, CN_ALNUM],
};

/** Green new-energy plates, small vehicles: province + letter + D/F + letter/digit + 4 digits. */
export const CN_NEW_ENERGY_SMALL: PlateFormat = {
  name: 'cn-new-energy-small',
  region: 'CN',
  pattern: new RegExp(`^${cls(CN_PROVINCES)}${cls(CN_LETTERS)}[DF]${cls(CN_ALNUM)}[0-9]{4}$`, 'u'),
  positions: [CN_PROVINCES, CN_LETTERS, 'DF', CN_ALNUM, DIGITS, DIGITS, DIGITS, DIGITS],
};

/** Green new-energy plates, large vehicles: province + letter + 5 digits + D/F. */
export const CN_NEW_ENERGY_LARGE: PlateFormat = {
  name: 'cn-new-energy-large',
  region: 'CN',
  pattern: new RegExp(`^${cls(CN_PROVINCES)}${cls(CN_LETTERS)}[0-9]{5}[DF]$`, 'u'),
  positions: [CN_PROVINCES, CN_LETTERS, DIGITS, DIGITS, DIGITS, DIGITS, DIGITS, 'DF'],
};

export const CN_FORMATS: readonly PlateFormat[] = [CN_STANDARD, CN_NEW_ENERGY_SMALL, CN_NEW_ENERGY_LARGE];

/** Characters dropped before matching: the plate's middle dot (and look-alikes), full stops, spaces, hyphens. */
const SEPARATORS = new Set(['·', '•', '・', '.', '．', ' ', '\u3000', '-', '－', '_']);
/** Read-alike pairs: which character a position that does not allow the read one probably meant. */
const FOLDS: Record<string, readonly string[]> = { O: ['0'], '0': ['O'], I: ['1'], '1': ['I'] };

/** Checks a format definition; throws RULES_INVALID with the reason. */
export function checkPlateFormat(format: PlateFormat): void {
  if (!format.name || !format.region) throw new CaitError('RULES_INVALID', 'a plate format needs a name and a region');
  if (!(format.pattern instanceof RegExp)) throw new CaitError('RULES_INVALID', `format ${format.name}: pattern is not a RegExp`);
  if (!format.pattern.source.startsWith('^') || !format.pattern.source.endsWith('$')) {
    throw new CaitError('RULES_INVALID', `format ${format.name}: pattern must be anchored with ^…$`);
  }
  if (format.pattern.global || format.pattern.sticky) throw new CaitError('RULES_INVALID', `format ${format.name}: pattern must not be global or sticky`);
  if (format.positions !== undefined && (format.positions.length === 0 || format.positions.some((p) => p.length === 0))) {
    throw new CaitError('RULES_INVALID', `format ${format.name}: every position needs at least one character`);
  }
}

/** Builds a format for another region from a pattern string (config files carry strings). */
export function plateFormatFromPattern(name: string, region: string, pattern: string): PlateFormat {
  let re: RegExp;
  try {
    re = new RegExp(pattern, 'u');
  } catch (err) {
    throw new CaitError('RULES_INVALID', `format ${name}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
  const format = { name, region, pattern: re };
  checkPlateFormat(format);
  return format;
}

/** Drops separators (keeping each remaining character's score) and upper-cases Latin letters. */
export function stripSeparators(chars: readonly PlateCharScore[]): PlateCharScore[] {
  return chars.filter((c) => !SEPARATORS.has(c.char)).map((c) => ({ char: c.char.toUpperCase(), confidence: c.confidence }));
}

/** Applies per-position folding so the text fits the format's alphabet; null when a character cannot fit. */
function foldToPositions(text: readonly string[], positions: readonly string[]): string[] | null {
  if (text.length !== positions.length) return null;
  const out: string[] = [];
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    const allowed = positions[i]!;
    if (allowed.includes(ch)) {
      out.push(ch);
      continue;
    }
    const fold = FOLDS[ch]?.find((f) => allowed.includes(f));
    if (fold === undefined) return null;
    out.push(fold);
  }
  return out;
}

/**
 * Validates a recognised text against the formats (first match wins) and the confidence gate.
 * Folding happens only where a format's positions demand it (`O` in a digit position becomes `0`).
 */
export function checkPlate(chars: readonly PlateCharScore[], formats: readonly PlateFormat[] = CN_FORMATS, gate: ConfidenceGate = DEFAULT_GATE): PlateVerdict {
  const kept = stripSeparators(chars);
  const raw = kept.map((c) => c.char).join('');
  if (kept.length === 0) return { ok: false, reason: 'EMPTY', text: raw, detail: 'no characters after removing separators' };
  for (const format of formats) {
    let text = raw;
    let folded = false;
    if (!format.pattern.test(text) && format.positions !== undefined) {
      const fit = foldToPositions(Array.from(kept, (c) => c.char), format.positions);
      if (fit === null) continue;
      text = fit.join('');
      folded = text !== raw;
    }
    if (!format.pattern.test(text)) continue;
    const min = Math.min(...kept.map((c) => c.confidence));
    const mean = kept.reduce((s, c) => s + c.confidence, 0) / kept.length;
    if (min < gate.minChar || mean < gate.minMean) {
      return {
        ok: false,
        reason: 'LOW_CONFIDENCE',
        text,
        detail: `format ${format.name} matches but confidence min ${min.toFixed(3)} / mean ${mean.toFixed(3)} is under ${gate.minChar} / ${gate.minMean}`,
      };
    }
    return { ok: true, plate: text, format: format.name, region: format.region, confidence: mean, minCharConfidence: min, folded };
  }
  return { ok: false, reason: 'NO_FORMAT', text: raw, detail: `"${raw}" matches none of ${formats.map((f) => f.name).join(', ')}` };
}
