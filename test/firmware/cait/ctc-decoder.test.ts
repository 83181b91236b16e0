// CTC decoding on hand-made probability matrices: greedy (PaddleOCR rules) and format-constrained Viterbi decoding.
import t from 'tap';
import fc from 'fast-check';
import { ctcConstrainedDecode, ctcGreedyDecode, type CtcOutput } from '../../../firmware/cait/ctc-decoder.js';

// Class table: 0 blank, then a small alphabet.
const TABLE = ['', 'A', 'B', '0', 'O', '1', '皖', '·'];
const idx = (ch: string) => TABLE.indexOf(ch);

/** One row per step: either a class with its probability (rest spread evenly) or explicit {class: p} maps. */
function output(rows: (string | Record<string, number>)[], classes = TABLE.length): CtcOutput {
  const probs = new Float32Array(rows.length * classes);
  rows.forEach((row, t) => {
    const map: Record<string, number> = typeof row === 'string' ? { [row]: 0.9 } : row;
    const total = Object.values(map).reduce((s, p) => s + p, 0);
    const rest = (1 - total) / (classes - Object.keys(map).length);
    for (let c = 0; c < classes; c++) probs[t * classes + c] = rest;
    for (const [ch, p] of Object.entries(map)) probs[t * classes + (ch === '-' ? 0 : idx(ch))] = p;
  });
  return { probs, steps: rows.length, classes };
}

t.test('greedy: repeats merge, blanks split and vanish, confidences and spans per character', (t) => {
  const out = output(['-', 'A', 'A', '-', 'A', 'B', 'B', '-', '-', '0']);
  const d = ctcGreedyDecode(out, TABLE);
  t.equal(d.text, 'AAB0');
  t.same(
    d.chars.map((c) => [c.char, c.start, c.end]),
    [
      ['A', 1, 2],
      ['A', 4, 4],
      ['B', 5, 6],
      ['0', 9, 9],
    ],
  );
  t.ok(Math.abs(d.confidence - 0.9) < 1e-6, 'mean of per-character maxima');
  t.end();
});

t.test('greedy: a character keeps the highest probability over its steps', (t) => {
  const d = ctcGreedyDecode(output([{ A: 0.5 }, { A: 0.8 }, { A: 0.6 }]), TABLE);
  t.equal(d.text, 'A');
  t.ok(Math.abs(d.chars[0]!.confidence - 0.8) < 1e-6);
  t.end();
});

t.test('greedy: all blank and zero steps give empty text with confidence 0', (t) => {
  t.same(ctcGreedyDecode(output(['-', '-']), TABLE), { text: '', chars: [], confidence: 0 });
  t.same(ctcGreedyDecode({ probs: new Float32Array(0), steps: 0, classes: TABLE.length }, TABLE), { text: '', chars: [], confidence: 0 });
  t.end();
});

t.test('greedy: bad shapes are RangeErrors', (t) => {
  t.throws(() => ctcGreedyDecode({ probs: new Float32Array(5), steps: 2, classes: 3 }, TABLE), RangeError);
  t.throws(() => ctcGreedyDecode({ probs: new Float32Array(0), steps: -1, classes: 3 }, TABLE), RangeError);
  t.end();
});

t.test('constrained: the allowed set at each position overrides the arg-max', (t) => {
  // Greedy reads "O1" (letter O), but position 0 only allows digits: the best alignment takes 0.
  const out = output(['-', { O: 0.6, '0': 0.3 }, '-', '1', '-']);
  t.equal(ctcGreedyDecode(out, TABLE).text, 'O1');
  const d = ctcConstrainedDecode(out, TABLE, [[idx('0'), idx('B')], [idx('1')]]);
  t.equal(d?.text, '01');
  t.ok(Math.abs(d!.chars[0]!.confidence - 0.3) < 1e-6, 'confidence is the chosen class probability');
  t.end();
});

t.test('constrained: a missing first character is recovered from its weak evidence', (t) => {
  // The province character is weak (0.2 vs blank 0.7): greedy drops it, the template demands it.
  const out = output([{ '-': 0.7, 皖: 0.2 }, '-', 'A', '-', '1']);
  t.equal(ctcGreedyDecode(out, TABLE).text, 'A1');
  const d = ctcConstrainedDecode(out, TABLE, [[idx('皖')], [idx('A'), idx('B')], [idx('1'), idx('0')]]);
  t.equal(d?.text, '皖A1');
  t.ok(d!.chars[0]!.confidence < 0.3, 'and its confidence shows it was weak');
  t.end();
});

t.test('constrained: separators are absorbed, equal neighbours need a blank between them', (t) => {
  const out = output(['A', '·', 'B', '-', 'B']);
  t.equal(ctcGreedyDecode(out, TABLE).text, 'A·BB');
  t.equal(ctcConstrainedDecode(out, TABLE, [[idx('A')], [idx('B')], [idx('B')]])?.text, 'ABB');
  // Two Bs without a blank between them can only be one B: "ABB" needs the blank at step 3.
  const tight = output(['A', 'B', 'B']);
  const d = ctcConstrainedDecode(tight, TABLE, [[idx('A')], [idx('B')], [idx('B')]]);
  t.equal(d, null, 'three steps cannot hold A, B, blank, B');
  t.end();
});

t.test('constrained: impossible templates return null; bad class indices throw', (t) => {
  const out = output(['A', 'B']);
  t.equal(ctcConstrainedDecode(out, TABLE, [[1], [2], [1]]), null, 'more positions than steps');
  t.equal(ctcConstrainedDecode(out, TABLE, []), null, 'no positions');
  t.equal(ctcConstrainedDecode(out, TABLE, [[1], []]), null, 'empty position');
  t.throws(() => ctcConstrainedDecode(out, TABLE, [[0]]), RangeError, 'blank is not a character');
  t.throws(() => ctcConstrainedDecode(out, TABLE, [[99]]), RangeError);
  t.end();
});

t.test('constrained: when the greedy text fits the template, constrained decoding agrees with it', (t) => {
  const letters = ['A', 'B', '0', '1'];
  fc.assert(
    fc.property(fc.array(fc.constantFrom(...letters), { minLength: 1, maxLength: 6 }), fc.integer({ min: 1, max: 3 }), (text, width) => {
      // Each character held for `width` steps with a blank after it: an unambiguous alignment.
      const rows: string[] = [];
      for (const ch of text) rows.push(...Array<string>(width).fill(ch), '-');
      const out = output(rows);
      const greedy = ctcGreedyDecode(out, TABLE);
      const template = text.map(() => letters.map(idx));
      const d = ctcConstrainedDecode(out, TABLE, template);
      return greedy.text === text.join('') && d?.text === greedy.text && Math.abs(d.confidence - greedy.confidence) < 1e-6;
    }),
  );
  t.pass('property held for every generated text');
  t.end();
});
