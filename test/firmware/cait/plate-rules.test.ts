// Plate rules: Chinese standard and new-energy formats, separators, O/0 and I/1 folding, the confidence gate, formats for other regions.
import t from 'tap';
import { CaitError } from '../../../firmware/cait/cait-errors.js';
import { CN_FORMATS, CN_STANDARD, checkPlate, checkPlateFormat, plateFormatFromPattern, type PlateCharScore } from '../../../firmware/cait/plate-rules.js';

const chars = (text: string, confidence = 0.99): PlateCharScore[] => Array.from(text, (char) => ({ char, confidence }));

t.test('valid Chinese plates, with the format they match', (t) => {
  const table: [string, string, string][] = [
    ['皖A12345', '皖A12345', 'cn-standard'],
    ['京PL3N67', '京PL3N67', 'cn-standard'],
    ['皖A·05279', '皖A05279', 'cn-standard'], // middle dot stripped
    ['苏E.ABC12', '苏EABC12', 'cn-standard'], // full stop as a misread dot
    ['浙 D 137ET', '浙D137ET', 'cn-standard'], // spaces
    ['沪ad12345', '沪AD12345', 'cn-new-energy-small'], // lower case folded up; 8 characters
    ['粤BD12345', '粤BD12345', 'cn-new-energy-small'],
    ['粤BFA1234', '粤BFA1234', 'cn-new-energy-small'],
    ['粤B12345D', '粤B12345D', 'cn-new-energy-large'],
    ['川A·12345F', '川A12345F', 'cn-new-energy-large'],
  ];
  for (const [input, plate, format] of table) {
    const v = checkPlate(chars(input));
    t.match(v, { ok: true, plate, format, region: 'CN' }, input);
  }
  t.end();
});

t.test('folding: O→0 and I→1 only where the format does not allow the letter', (t) => {
  t.match(checkPlate(chars('皖AO5279')), { ok: true, plate: '皖A05279', folded: true });
  t.match(checkPlate(chars('皖A0I2I4')), { ok: true, plate: '皖A01214', folded: true });
  // New-energy: digits only in positions 4–7, O there folds too.
  t.match(checkPlate(chars('粤BD1O34O')), { ok: true, plate: '粤BD10340', format: 'cn-new-energy-small' });
  t.match(checkPlate(chars('皖A05279')), { ok: true, folded: false });
  // Position 1 must be a letter: a read 0 is not folded into O (O is not issued either).
  t.match(checkPlate(chars('皖012345')), { ok: false, reason: 'NO_FORMAT' });
  t.end();
});

t.test('invalid plates are rejected with a reason', (t) => {
  const table: [string, string][] = [
    ['', 'EMPTY'],
    ['··  ', 'EMPTY'],
    ['皖A1234', 'NO_FORMAT'], // too short
    ['皖A1234567', 'NO_FORMAT'], // too long
    ['XA12345', 'NO_FORMAT'], // no province
    ['港A12345', 'NO_FORMAT'], // not a mainland province abbreviation
    ['皖112345', 'NO_FORMAT'], // second character must be a letter
    ['皖A12#45', 'NO_FORMAT'],
    ['粤BX12345', 'NO_FORMAT'], // 8 characters but third is not D/F
    ['粤B1234X5', 'NO_FORMAT'],
    ['皖皖12345', 'NO_FORMAT'],
  ];
  for (const [input, reason] of table) t.match(checkPlate(chars(input)), { ok: false, reason }, JSON.stringify(input));
  t.end();
});

t.test('confidence gate: one weak character or a weak mean rejects, with the text kept for diagnostics', (t) => {
  const weakOne = chars('皖A12345').map((c, i) => (i === 0 ? { ...c, confidence: 0.1 } : c));
  t.match(checkPlate(weakOne), { ok: false, reason: 'LOW_CONFIDENCE', text: '皖A12345' });
  t.match(checkPlate(chars('皖A12345', 0.6)), { ok: false, reason: 'LOW_CONFIDENCE' }, 'mean 0.6 < 0.7');
  t.match(checkPlate(chars('皖A12345', 0.6), CN_FORMATS, { minChar: 0.5, minMean: 0.5 }), { ok: true, confidence: 0.6, minCharConfidence: 0.6 });
  // Separators do not count towards the gate.
  const weakDot = chars('皖A·12345').map((c) => (c.char === '·' ? { ...c, confidence: 0.01 } : c));
  t.match(checkPlate(weakDot), { ok: true });
  t.end();
});

t.test('other regions: formats from pattern strings; first matching format wins', (t) => {
  const uk = plateFormatFromPattern('uk-current', 'GB', '^[A-Z]{2}[0-9]{2}[A-Z]{3}$');
  const de = plateFormatFromPattern('de', 'DE', '^[A-ZÄÖÜ]{1,3}-?[A-Z]{1,2}[0-9]{1,4}[EH]?$');
  t.match(checkPlate(chars('AB12 CDE'), [uk, de]), { ok: true, plate: 'AB12CDE', format: 'uk-current', region: 'GB' });
  t.match(checkPlate(chars('AB12CD'), [uk]), { ok: false, reason: 'NO_FORMAT' });
  t.match(checkPlate(chars('皖A12345'), [uk, CN_STANDARD]), { ok: true, format: 'cn-standard' });
  t.end();
});

t.test('malformed format definitions are RULES_INVALID', (t) => {
  const code = (f: () => unknown) => {
    try {
      f();
    } catch (err) {
      return err instanceof CaitError ? err.code : String(err);
    }
    return 'no error';
  };
  t.equal(code(() => plateFormatFromPattern('x', 'XX', '[A-Z')), 'RULES_INVALID', 'bad regex');
  t.equal(code(() => plateFormatFromPattern('x', 'XX', '[A-Z]+')), 'RULES_INVALID', 'not anchored');
  t.equal(code(() => plateFormatFromPattern('', 'XX', '^A$')), 'RULES_INVALID', 'no name');
  t.equal(code(() => checkPlateFormat({ name: 'x', region: 'XX', pattern: /^A$/g })), 'RULES_INVALID', 'global');
  t.equal(code(() => checkPlateFormat({ name: 'x', region: 'XX', pattern: /^A$/, positions: ['A', ''] })), 'RULES_INVALID', 'empty position');
  for (const f of CN_FORMATS) t.equal(code(() => checkPlateFormat(f)), 'no error', f.name);
  t.end();
});
