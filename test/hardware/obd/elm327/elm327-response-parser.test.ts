// Tests for the pure ELM327 answer parser: prompts, echoes, every error string, garbage, chunking at every byte.
import t from 'tap';
import fc from 'fast-check';
import {
  ElmAnswerReader,
  classifyLine,
  isHexLine,
  parseAnswer,
  stripEcho,
  type ElmErrorKind,
  type RawElmAnswer,
} from '../../../../hardware/obd/elm327/elm327-response-parser.js';

const bytes = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'latin1'));

function readAll(stream: string | Uint8Array, cuts: number[] = []): RawElmAnswer[] {
  const data = typeof stream === 'string' ? bytes(stream) : stream;
  const reader = new ElmAnswerReader();
  const out: RawElmAnswer[] = [];
  let from = 0;
  for (const cut of [...cuts, data.length]) {
    out.push(...reader.push(data.subarray(from, cut)));
    from = cut;
  }
  return out;
}

t.test('lines are cut at \\r, \\n and NUL ignored, answers end at >', (t) => {
  const answers = readAll('41 00 BE 3F A8 13\r\n\r\n>AT\0Z\r\r\rELM327 v1.5\r\r>');
  t.same(answers, [
    { lines: ['41 00 BE 3F A8 13'], garbageBytes: 0 },
    { lines: ['ATZ', 'ELM327 v1.5'], garbageBytes: 0 },
  ]);
  t.end();
});

t.test('a partial answer stays pending until its prompt', (t) => {
  const reader = new ElmAnswerReader();
  t.same(reader.push(bytes('SEARCHING...\r41 0')), []);
  t.same(reader.pendingLines(), ['SEARCHING...', '41 0']);
  t.equal(reader.pendingByteCount, 17);
  t.same(reader.push(bytes('0 BE\r\r>')), [{ lines: ['SEARCHING...', '41 00 BE'], garbageBytes: 0 }]);
  t.equal(reader.pendingByteCount, 0);
  reader.push(bytes('junk'));
  reader.reset();
  t.same(reader.pendingLines(), []);
  t.end();
});

t.test('split at every byte boundary, and at random cuts, the answers are the same', (t) => {
  const stream = 'ATE0\rOK\r\r>0100\rSEARCHING...\r7E8 06 41 00 BE 3F A8 13\r7E9 06 41 00 98 18 80 11\r\r>\xff\xfeNO DATA\r\r>';
  const whole = readAll(stream);
  t.equal(whole.length, 3);
  t.equal(whole[2]!.garbageBytes, 2);
  for (let cut = 0; cut <= stream.length; cut++) t.same(readAll(stream, [cut]), whole, `cut at ${cut}`);
  fc.assert(
    fc.property(fc.uniqueArray(fc.integer({ min: 0, max: stream.length }), { maxLength: 12 }), (cuts) => {
      t.same(readAll(stream, [...cuts].sort((a, b) => a - b)), whole);
    }),
    { numRuns: 200 },
  );
  t.end();
});

t.test('arbitrary bytes never throw', (t) => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 300 }), fc.string({ maxLength: 12 }), (data, command) => {
      for (const answer of readAll(data)) parseAnswer(answer, command);
      for (const answer of readAll(data)) {
        for (const line of answer.lines) {
          classifyLine(line);
          isHexLine(line);
        }
      }
    }),
    { numRuns: 500 },
  );
  t.end();
});

t.test('every ELM error string is a typed value', (t) => {
  const cases: [string, ElmErrorKind][] = [
    ['NO DATA', 'NO_DATA'],
    ['NODATA', 'NO_DATA'],
    ['?', 'UNKNOWN_COMMAND'],
    ['UNABLE TO CONNECT', 'UNABLE_TO_CONNECT'],
    ['BUS INIT: ...ERROR', 'BUS_INIT_ERROR'],
    ['BUS INIT: ERROR', 'BUS_INIT_ERROR'],
    ['BUS BUSY', 'BUS_BUSY'],
    ['BUS ERROR', 'BUS_ERROR'],
    ['CAN ERROR', 'CAN_ERROR'],
    ['BUFFER FULL', 'BUFFER_FULL'],
    ['DATA ERROR', 'DATA_ERROR'],
    ['41 0C 1A F8 <DATA ERROR', 'DATA_ERROR'],
    ['FB ERROR', 'FB_ERROR'],
    ['LV RESET', 'LV_RESET'],
    ['STOPPED', 'STOPPED'],
    ['ERR94', 'INTERNAL_ERROR'],
    ['ERR 94', 'INTERNAL_ERROR'],
    ['7E8 03 41 0D <RX ERROR', 'RX_ERROR'],
    ['<RX ERROR', 'RX_ERROR'],
    ['ACT ALERT', 'ACT_ALERT'],
    ['no data', 'NO_DATA'],
  ];
  for (const [line, kind] of cases) t.same(classifyLine(line), { type: 'error', kind, text: line }, line);
  t.same(classifyLine('SEARCHING...'), { type: 'info', text: 'SEARCHING...' });
  t.same(classifyLine('BUS INIT: ...OK'), { type: 'info', text: 'BUS INIT: ...OK' });
  t.same(classifyLine('41 00 BE 3F A8 13'), { type: 'data', text: '41 00 BE 3F A8 13' });
  t.same(classifyLine('ELM327 v1.5'), { type: 'data', text: 'ELM327 v1.5' });
  t.same(classifyLine('ERROR'), { type: 'data', text: 'ERROR' }, 'a bare word is data for the caller to judge');
  t.end();
});

t.test('parseAnswer sorts data, info and errors', (t) => {
  const r = parseAnswer({ lines: ['0100', 'SEARCHING...', 'UNABLE TO CONNECT'], garbageBytes: 0 }, '0100');
  t.same(r, { lines: [], info: ['SEARCHING...'], errors: [{ kind: 'UNABLE_TO_CONNECT', text: 'UNABLE TO CONNECT' }], echoDropped: true, unreadable: [], garbageBytes: 0 });
  const glued = parseAnswer({ lines: ['SEARCHING...41 00 BE 3F A8 13'], garbageBytes: 0 }, '0100');
  t.same(glued.info, ['SEARCHING...']);
  t.same(glued.lines, ['41 00 BE 3F A8 13']);
  t.end();
});

t.test('echo is dropped even after ATE0, also glued to the answer, and only on the first line', (t) => {
  t.same(parseAnswer({ lines: ['ATE0', 'OK'], garbageBytes: 0 }, 'ATE0').lines, ['OK']);
  t.same(parseAnswer({ lines: ['01 0C', '41 0C 1A F8'], garbageBytes: 0 }, '010C').lines, ['41 0C 1A F8'], 'spacing differs');
  t.same(parseAnswer({ lines: ['atrv12.6V'], garbageBytes: 0 }, 'ATRV').lines, ['12.6V'], 'glued, case differs');
  t.same(parseAnswer({ lines: ['010DNO DATA'], garbageBytes: 0 }, '010D').errors, [{ kind: 'NO_DATA', text: 'NO DATA' }]);
  const noEcho = parseAnswer({ lines: ['41 0C 1A F8'], garbageBytes: 0 }, '010C');
  t.equal(noEcho.echoDropped, false);
  t.same(noEcho.lines, ['41 0C 1A F8']);
  t.same(parseAnswer({ lines: ['OK', 'ATE0'], garbageBytes: 0 }, 'ATE0').lines, ['OK', 'ATE0'], 'a later line is not an echo');
  t.equal(stripEcho('7E8 06 41 00', '0100'), null);
  t.equal(stripEcho('anything', ''), null);
  t.end();
});

t.test('isHexLine accepts the forms OBD answers take', (t) => {
  for (const ok of ['41 0C 1A F8', '410C1AF8', '7E8 06 41 00 BE 3F A8 13', '0: 49 02 01 31 44 34', '1:474750', '014', '18DAF110064100']) t.ok(isHexLine(ok), ok);
  for (const bad of ['ELM327 v1.5', 'OK', '12.6V', '41 0C ZZ', '10: 41', '']) t.notOk(isHexLine(bad), bad);
  t.end();
});
