// `cait read`: per-file results (plates, boxes, timing), unreadable files reported by code, the human table, the commander wiring.
import t from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import sharp from 'sharp';
import { PlateReader } from '../../../firmware/cait/plate-reader.js';
import { caitRead, formatCaitTable, registerCait, type CaitReadResult } from '../../../tools/cait/read-command.js';
import { renderScene } from './fixtures/plate-scene.js';

const dir = mkdtempSync(join(tmpdir(), 'cait-read-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const reader = await PlateReader.create();
t.teardown(() => reader.close());

const scene = await renderScene({ width: 1280, height: 720, text: '豫A·7Z3K9', x: 500, y: 400, plateWidth: 220, seed: 4 });
const sceneFile = join(dir, 'gate.jpg');
await sharp(scene.image.data, { raw: { width: 1280, height: 720, channels: 3 } }).jpeg({ quality: 90 }).toFile(sceneFile);
const broken = join(dir, 'broken.jpg');
writeFileSync(broken, 'not an image');

t.test('results per file: the plate with its box, errors by code, the rest still processed', async (t) => {
  const results = await caitRead([sceneFile, broken, join(dir, 'missing.png')], reader);
  t.equal(results.length, 3);
  t.match(results[0], { file: sceneFile, plates: [{ text: '豫A7Z3K9', format: 'cn-standard' }] });
  t.ok(results[0]!.plates[0]!.confidence > 0.9);
  t.ok(results[0]!.ms > 0);
  const box = results[0]!.plates[0]!.box;
  t.ok(box.x >= 480 && box.x <= 540 && box.y >= 390 && box.y <= 440, `box ${JSON.stringify(box)} near the pasted plate`);
  t.match(results[1], { file: broken, plates: [], error: { code: 'DECODE_FAILED' } });
  t.match(results[2], { error: { code: 'SOURCE_NOT_FOUND' } });
});

t.test('the human table has a header and one row per plate or file', (t) => {
  const results: CaitReadResult[] = [
    { file: 'a.jpg', plates: [{ text: '皖A12345', confidence: 0.99, format: 'cn-standard', box: { x: 1, y: 2, width: 3, height: 4 } }], ms: 12.5 },
    { file: 'b.jpg', plates: [], ms: 3 },
    { file: 'c.jpg', plates: [], ms: 1, error: { code: 'DECODE_FAILED', message: 'x' } },
  ];
  const lines = formatCaitTable(results).trimEnd().split('\n');
  t.equal(lines.length, 4);
  t.match(lines[0], /^FILE\s+PLATE\s+CONF/);
  t.match(lines[1], /a\.jpg\s+皖A12345\s+0\.990\s+1,2 3×4\s+12\.5/);
  t.match(lines[2], /b\.jpg\s+-/);
  t.match(lines[3], /c\.jpg\s+error DECODE_FAILED/);
  t.end();
});

t.test('registerCait: `cait read FILE --json` prints the JSON array', async (t) => {
  const program = new Command().exitOverride();
  registerCait(program);
  let out = '';
  const write = process.stdout.write.bind(process.stdout);
  process.stdout.write = ((chunk: string | Uint8Array) => {
    out += String(chunk);
    return true;
  });
  try {
    await program.parseAsync(['node', 'carchain', 'cait', 'read', sceneFile, '--json']);
  } finally {
    process.stdout.write = write;
  }
  const parsed = JSON.parse(out);
  t.match(parsed, [{ file: sceneFile, plates: [{ text: '豫A7Z3K9' }] }]);
  t.equal(process.exitCode ?? 0, 0);
});
