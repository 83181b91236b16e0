// Tests for ISO-TP / legacy reassembly of ELM327 answers: multi-frame VINs, several ECUs, 29-bit, headers off.
import t from 'tap';
import { frameFormatForProtocol, hexToBytes, reassemble, reassembleDetailed } from '../../../../hardware/obd/elm327/iso-tp.js';
import { decodeCalibrationIds, decodeVin } from '../../../../hardware/obd/j1979/mode09.js';

const hex = (b: Uint8Array | undefined): string => (b === undefined ? 'undefined' : Buffer.from(b).toString('hex').toUpperCase());
const VIN = '1D4GP00R55B123456';
const VIN_PAYLOAD = `490201${Buffer.from(VIN).toString('hex').toUpperCase()}`;

const vinFrames11 = ['7E8 10 14 49 02 01 31 44 34', '7E8 21 47 50 30 30 52 35 35', '7E8 22 42 31 32 33 34 35 36'];

t.test('VIN over 3 frames, 11-bit headers, with and without spaces', (t) => {
  const spaced = reassemble(vinFrames11, { headers: true, format: 'can11' });
  t.same([...spaced.keys()], ['7E8']);
  t.equal(hex(spaced.get('7E8')), VIN_PAYLOAD);
  t.equal(decodeVin(spaced.get('7E8')!.subarray(1)), VIN, 'the payload after the service byte feeds the J1979 decoder');
  const tight = reassemble(
    vinFrames11.map((l) => l.replace(/ /g, '')),
    { headers: true, format: 'auto' },
  );
  t.equal(hex(tight.get('7E8')), VIN_PAYLOAD, 'format guessed from the odd digit count');
  t.end();
});

t.test('two ECUs answering one request, frames interleaved', (t) => {
  const lines = ['7E8 10 14 49 02 01 31 44 34', '7E9 06 41 00 98 18 80 11', '7E8 21 47 50 30 30 52 35 35', '7E8 22 42 31 32 33 34 35 36 '];
  const { byEcu, problems } = reassembleDetailed(lines, { headers: true, format: 'can11' });
  t.same(problems, []);
  t.same([...byEcu.keys()], ['7E9', '7E8'], 'keyed by header, in completion order');
  t.equal(hex(byEcu.get('7E9')), '4100981880' + '11');
  t.equal(hex(byEcu.get('7E8')), VIN_PAYLOAD);
  const singles = reassemble(['7E8 06 41 00 BE 3F A8 13 00', '7E9 06 41 00 98 18 80 11 AA'], { headers: true, format: 'can11' });
  t.equal(hex(singles.get('7E8')), '4100BE3FA813', 'padding after the single-frame length is dropped');
  t.equal(hex(singles.get('7E9')), '4100981880' + '11');
  t.end();
});

t.test('29-bit headers', (t) => {
  const lines = [
    '18 DA F1 10 10 14 49 02 01 31 44 34',
    '18DAF11021475030305235 35',
    '18DAF118 03 41 0D 32',
    '18DAF110 22 42 31 32 33 34 35 36',
  ];
  const byEcu = reassemble(lines, { headers: true, format: 'can29' });
  t.equal(hex(byEcu.get('18DAF110')), VIN_PAYLOAD);
  t.equal(hex(byEcu.get('18DAF118')), '410D32');
  t.same(reassemble(lines, { headers: true, format: 'auto' }), byEcu, 'guessed from 18DA');
  t.end();
});

t.test('headers off: length line and numbered lines, then single frames', (t) => {
  const lines = ['014', '0: 49 02 01 31 44 34', '1: 47 50 30 30 52 35 35', '2: 42 31 32 33 34 35 36'];
  const byEcu = reassemble(lines, { headers: false, format: 'can11' });
  t.same([...byEcu.keys()], ['#0']);
  t.equal(hex(byEcu.get('#0')), VIN_PAYLOAD);
  const two = reassemble(['4100BE3FA813', '410098188011'], { headers: false, format: 'can11' });
  t.same([...two.entries()].map(([k, v]) => [k, hex(v)]), [
    ['#0', '4100BE3FA813'],
    ['#1', '410098188011'],
  ]);
  const wrapped = ['07A', ...Array.from({ length: 18 }, (_, i) => `${(i & 15).toString(16).toUpperCase()}: ${'AA '.repeat(i === 0 ? 6 : 7)}`)];
  const long = reassemble(wrapped, { headers: false, format: 'can11' });
  t.equal(long.get('#0')?.length, 0x7a, 'the index wraps after F');
  t.end();
});

t.test('a lost consecutive frame or a truncated message yields no payload, and a problem', (t) => {
  const lost = reassembleDetailed([vinFrames11[0]!, vinFrames11[2]!], { headers: true, format: 'can11' });
  t.equal(lost.byEcu.size, 0);
  t.match(lost.problems, [{ ecu: '7E8', reason: /lost/ }]);
  const truncated = reassembleDetailed(vinFrames11.slice(0, 2), { headers: true, format: 'can11' });
  t.match(truncated.problems, [{ ecu: '7E8', reason: /incomplete: 13 of 20/ }]);
  const orphan = reassembleDetailed(['7E8 21 00 00', 'garbage', '7E8 30 00 00'], { headers: true, format: 'can11' });
  t.equal(orphan.byEcu.size, 0);
  t.equal(orphan.problems.length, 2, 'flow control frames are ignored silently');
  const short = reassembleDetailed(['7E8 06 41 00'], { headers: true, format: 'can11' });
  t.match(short.problems, [{ reason: /shorter/ }]);
  const headersOffBroken = reassembleDetailed(['014', '0: 49 02 01 31 44 34', '2: 42'], { headers: false, format: 'can11' });
  t.equal(headersOffBroken.byEcu.size, 0);
  t.ok(headersOffBroken.problems.length > 0);
  t.end();
});

t.test('response pending (7F xx 78) is skipped; the later answer counts', (t) => {
  const byEcu = reassemble(['7E8 03 7F 09 78', ...vinFrames11], { headers: true, format: 'can11' });
  t.equal(hex(byEcu.get('7E8')), VIN_PAYLOAD);
  const negative = reassemble(['7E8 03 7F 01 12'], { headers: true, format: 'can11' });
  t.equal(hex(negative.get('7E8')), '7F0112', 'other negative responses are passed on');
  t.end();
});

t.test('legacy lines: header and checksum stripped, mode 09 joined by sequence, mode 03 concatenated', (t) => {
  const single = reassemble(['48 6B 10 41 0C 1A F8 C4', '48 6B 18 41 0C 1A F0 11'], { headers: true, format: 'legacy' });
  t.same([...single.entries()].map(([k, v]) => [k, hex(v)]), [
    ['486B10', '410C1AF8'],
    ['486B18', '410C1AF0'],
  ]);
  const vinLines = [
    '48 6B 10 49 02 02 44 34 47 50 01',
    '48 6B 10 49 02 01 00 00 00 31 02',
    '48 6B 10 49 02 03 30 30 52 35 03',
    '48 6B 10 49 02 04 35 42 31 32 04',
    '48 6B 10 49 02 05 33 34 35 36 05',
  ];
  const vin = reassemble(vinLines, { headers: true, format: 'legacy' }).get('486B10')!;
  const v = Buffer.from(VIN).toString('hex').toUpperCase();
  t.equal(hex(vin), `49 0201000000${v.slice(0, 2)} 0202${v.slice(2, 10)} 0203${v.slice(10, 18)} 0204${v.slice(18, 26)} 0205${v.slice(26)}`.replace(/ /g, ''), 'sorted, sequence bytes kept');
  t.equal(decodeVin(vin.subarray(1)), VIN);
  const dtcs = reassemble(['48 6B 10 43 01 33 02 34 00 00 AA', '48 6B 10 43 00 00 00 00 00 00 BB'], { headers: true, format: 'legacy' });
  t.equal(hex(dtcs.get('486B10')), '43013302340000' + '000000000000');
  const off = reassemble(
    vinLines.map((l) => l.slice(9, -3)),
    { headers: false, format: 'legacy' },
  );
  t.equal(decodeVin(off.get('#0')!.subarray(1)), VIN, 'headers off: joined too');
  const offPids = reassemble(['41 0C 1A F8', '41 0C 1A F0'], { headers: false, format: 'legacy' });
  t.equal(offPids.size, 2);
  t.end();
});

t.test('protocol numbers map to frame formats; hexToBytes rejects odd or non-hex input', (t) => {
  t.same(['6', '7', '8', '9', 'A', 'B', 'C', '1', '5', '0', 'Z'].map(frameFormatForProtocol), [
    'can11',
    'can29',
    'can11',
    'can29',
    'can29',
    'can11',
    'can11',
    'legacy',
    'legacy',
    'auto',
    'auto',
  ]);
  t.equal(hexToBytes('ABC'), null);
  t.equal(hexToBytes('ZZ'), null);
  t.same(hexToBytes('0aFF'), Uint8Array.of(10, 255));
  t.end();
});

t.test('calibration ids over ISO-TP feed the J1979 decoder', (t) => {
  const id1 = Buffer.concat([Buffer.from('JMB*36761500'), Buffer.alloc(4)]);
  const id2 = Buffer.concat([Buffer.from('JMB*47872611'), Buffer.alloc(4)]);
  const payload = Buffer.concat([Buffer.from([0x49, 0x04, 0x02]), id1, id2]); // 35 bytes
  const frames = [`7E8 10 23 ${payload.subarray(0, 6).toString('hex')}`];
  for (let i = 6, seq = 1; i < payload.length; i += 7, seq++) frames.push(`7E8 2${(seq & 15).toString(16)} ${payload.subarray(i, i + 7).toString('hex')}`);
  const byEcu = reassemble(frames, { headers: true, format: 'can11' });
  t.same(decodeCalibrationIds(byEcu.get('7E8')!.subarray(1)), ['JMB*36761500', 'JMB*47872611']);
  t.end();
});
