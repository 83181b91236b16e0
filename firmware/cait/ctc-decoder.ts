// CTC decoding of recogniser output: PaddleOCR's greedy decoding, and a Viterbi decoding constrained to a per-position alphabet.
//
// The recogniser emits, for each of T time steps, a probability distribution over C classes
// (class 0 = CTC blank). Greedy decoding takes the arg-max per step, merges repeats and drops blanks
// (PaddleOCR's CTCLabelDecode). Constrained decoding finds the single most probable alignment whose
// collapsed text has exactly one character from allowed[k] at position k — the plate format as domain
// knowledge: a province character first, a letter second, then letters/digits. Both work on a flat
// row-major Float32Array so the tensor from onnxruntime is used without copying.

export interface CtcOutput {
  /** Probabilities, row-major [steps][classes]. */
  probs: Float32Array;
  steps: number;
  classes: number;
}

export interface DecodedChar {
  char: string;
  /** Class index into the CTC class table. */
  index: number;
  /** Highest probability the class reached over the steps it was emitted on. */
  confidence: number;
  /** First and last time step (inclusive) of the character: its horizontal extent in the crop. */
  start: number;
  end: number;
}

export interface DecodedText {
  text: string;
  chars: DecodedChar[];
  /** Mean of the character confidences (PaddleOCR's text score); 0 for empty text. */
  confidence: number;
}

export interface ConstrainedDecoding extends DecodedText {
  /** Natural log of the probability of the best alignment: comparable between templates over the same output. */
  logScore: number;
}

const LOG_FLOOR = Math.log(1e-12);

function checkShape(out: CtcOutput): void {
  if (!Number.isInteger(out.steps) || !Number.isInteger(out.classes) || out.steps < 0 || out.classes < 1) {
    throw new RangeError(`bad CTC output shape ${out.steps}×${out.classes}`);
  }
  if (out.probs.length < out.steps * out.classes) throw new RangeError(`CTC output has ${out.probs.length} values, expected ${out.steps * out.classes}`);
}

function finish(chars: DecodedChar[]): DecodedText {
  const text = chars.map((c) => c.char).join('');
  const confidence = chars.length === 0 ? 0 : chars.reduce((s, c) => s + c.confidence, 0) / chars.length;
  return { text, chars, confidence };
}

/** PaddleOCR's greedy CTC decoding: arg-max per step, merge repeats, drop blanks. `table[i]` is class i's text. */
export function ctcGreedyDecode(out: CtcOutput, table: readonly string[]): DecodedText {
  checkShape(out);
  const { probs, steps, classes } = out;
  const chars: DecodedChar[] = [];
  let previous = -1;
  for (let t = 0; t < steps; t++) {
    const row = t * classes;
    let best = 0;
    let bestP = probs[row] ?? 0;
    for (let c = 1; c < classes; c++) {
      const p = probs[row + c] ?? 0;
      if (p > bestP) {
        bestP = p;
        best = c;
      }
    }
    if (best !== 0) {
      const last = chars.at(-1);
      if (best === previous && last !== undefined) {
        last.end = t;
        if (bestP > last.confidence) last.confidence = bestP;
      } else {
        chars.push({ char: table[best] ?? '', index: best, confidence: bestP, start: t, end: t });
      }
    }
    previous = best;
  }
  return finish(chars);
}

/**
 * The most probable CTC alignment whose collapsed label is one class from `allowed[k]` at each
 * position k (class indices, never 0). Two equal neighbouring characters need a blank between them,
 * as CTC demands. Returns null when no alignment exists (fewer steps than positions, empty set).
 */
export function ctcConstrainedDecode(out: CtcOutput, table: readonly string[], allowed: readonly (readonly number[])[]): ConstrainedDecoding | null {
  checkShape(out);
  const { probs, steps, classes } = out;
  const positions = allowed.length;
  if (positions === 0 || steps < positions || allowed.some((set) => set.length === 0)) return null;
  for (const set of allowed) {
    for (const c of set) if (!Number.isInteger(c) || c <= 0 || c >= classes) throw new RangeError(`class ${c} is not a non-blank class below ${classes}`);
  }
  // State layout: 0 = leading blank; then per position k: its character states, then "blank after k".
  const charBase: number[] = [];
  const blankAfter: number[] = [];
  let n = 1;
  for (let k = 0; k < positions; k++) {
    charBase.push(n);
    n += allowed[k]!.length;
    blankAfter.push(n);
    n += 1;
  }
  const logp = (t: number, c: number) => {
    const p = probs[t * classes + c] ?? 0;
    return p > 1e-12 ? Math.log(p) : LOG_FLOOR;
  };
  let score = new Float64Array(n).fill(-Infinity);
  let next = new Float64Array(n);
  const back = new Int32Array(steps * n).fill(-1);
  score[0] = logp(0, 0);
  for (let j = 0; j < allowed[0]!.length; j++) score[charBase[0]! + j] = logp(0, allowed[0]![j]!);

  for (let t = 1; t < steps; t++) {
    next.fill(-Infinity);
    const bt = t * n;
    const blank = logp(t, 0);
    next[0] = score[0]! + blank;
    back[bt] = 0;
    for (let k = 0; k < positions; k++) {
      const set = allowed[k]!;
      // Best and second-best character state of position k-1 at t-1 (a direct hop must change class).
      let best1 = -1;
      let best2 = -1;
      if (k > 0) {
        const prevSet = allowed[k - 1]!;
        for (let j = 0; j < prevSet.length; j++) {
          const s = charBase[k - 1]! + j;
          if (best1 < 0 || score[s]! > score[best1]!) {
            best2 = best1;
            best1 = s;
          } else if (best2 < 0 || score[s]! > score[best2]!) {
            best2 = s;
          }
        }
      }
      const blankBefore = k === 0 ? 0 : blankAfter[k - 1]!;
      let bestChar = -1;
      for (let j = 0; j < set.length; j++) {
        const s = charBase[k]! + j;
        const cls = set[j]!;
        let from = s;
        let fromScore = score[s]!;
        if (score[blankBefore]! > fromScore) {
          from = blankBefore;
          fromScore = score[blankBefore]!;
        }
        if (k > 0) {
          const hop = best1 >= 0 && allowed[k - 1]![best1 - charBase[k - 1]!] !== cls ? best1 : best2;
          if (hop >= 0 && score[hop]! > fromScore) {
            from = hop;
            fromScore = score[hop]!;
          }
        }
        if (fromScore > -Infinity) {
          next[s] = fromScore + logp(t, cls);
          back[bt + s] = from;
        }
        if (bestChar < 0 || score[s]! > score[bestChar]!) bestChar = s;
      }
      const b = blankAfter[k]!;
      let from = b;
      let fromScore = score[b]!;
      if (bestChar >= 0 && score[bestChar]! > fromScore) {
        from = bestChar;
        fromScore = score[bestChar]!;
      }
      if (fromScore > -Infinity) {
        next[b] = fromScore + blank;
        back[bt + b] = from;
      }
    }
    [score, next] = [next, score];
  }

  const lastK = positions - 1;
  let end = blankAfter[lastK]!;
  for (let j = 0; j < allowed[lastK]!.length; j++) {
    const s = charBase[lastK]! + j;
    if (score[s]! > score[end]!) end = s;
  }
  const logScore = score[end]!;
  if (logScore === -Infinity) return null;

  // Walk back, recording which character state each step sat in.
  const path = new Int32Array(steps);
  let s = end;
  for (let t = steps - 1; t >= 0; t--) {
    path[t] = s;
    if (t > 0) s = back[t * n + s]!;
  }
  const classOf = (state: number): number => {
    for (let k = 0; k < positions; k++) {
      const j = state - charBase[k]!;
      if (j >= 0 && j < allowed[k]!.length) return allowed[k]![j]!;
    }
    return 0;
  };
  const chars: DecodedChar[] = [];
  let prev = -1;
  for (let t = 0; t < steps; t++) {
    const state = path[t]!;
    const cls = classOf(state);
    if (cls !== 0) {
      const p = probs[t * classes + cls] ?? 0;
      const last = chars.at(-1);
      if (state === prev && last !== undefined) {
        last.end = t;
        if (p > last.confidence) last.confidence = p;
      } else {
        chars.push({ char: table[cls] ?? '', index: cls, confidence: p, start: t, end: t });
      }
    }
    prev = state;
  }
  return { ...finish(chars), logScore };
}
