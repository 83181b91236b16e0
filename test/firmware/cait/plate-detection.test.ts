// Detection + recognition on synthetic scenes: the rendered plate is found where it was pasted and read exactly.
import t from 'tap';
import { PlateReader, boundingBox, type BoundingBox } from '../../../firmware/cait/plate-reader.js';
import { detectionInputSize } from '../../../firmware/cait/plate-detector.js';
import { renderScene, type SceneOptions } from './fixtures/plate-scene.js';

const reader = await PlateReader.create();
t.teardown(() => reader.close());

function iou(a: BoundingBox, b: BoundingBox): number {
  const x0 = Math.max(a.x, b.x);
  const y0 = Math.max(a.y, b.y);
  const x1 = Math.min(a.x + a.width, b.x + b.width);
  const y1 = Math.min(a.y + a.height, b.y + b.height);
  const inter = Math.max(0, x1 - x0) * Math.max(0, y1 - y0);
  return inter / (a.width * a.height + b.width * b.height - inter);
}

const scenes: (SceneOptions & { name: string; format: string })[] = [
  { name: '720p, level', width: 1280, height: 720, text: '皖A·12345', x: 400, y: 300, plateWidth: 220, seed: 3, format: 'cn-standard' },
  { name: '1080p, tilted 8°', width: 1920, height: 1080, text: '京N·8P3Q7', x: 1200, y: 640, plateWidth: 300, angle: 8, seed: 11, format: 'cn-standard' },
  // The J after the province squeezed by the condensed face looks like ']' — a crop margin used to lose it.
  { name: '720p, J after the province, tilted 6°', width: 1280, height: 720, text: '皖J·L8QLG', x: 460, y: 40, plateWidth: 220, angle: 6, seed: 1, format: 'cn-standard' },
  { name: '720p, green new-energy plate tilted −6°', width: 1280, height: 720, text: '苏E·D12345', x: 150, y: 80, plateWidth: 240, angle: -6, seed: 5, style: 'green', format: 'cn-new-energy-small' },
];

for (const s of scenes) {
  t.test(`${s.name}: ${s.text} found (IoU > 0.5) and read exactly`, async (t) => {
    const scene = await renderScene(s);
    const reading = await reader.readFrame(scene.image);
    t.equal(reading.plates.length, 1, `one plate (rejected texts: ${JSON.stringify(reading.rejected)})`);
    const plate = reading.plates[0]!;
    t.equal(plate.text, scene.plate);
    t.equal(plate.format, s.format);
    const overlap = iou(plate.box, boundingBox(scene.quad));
    t.ok(overlap > 0.5, `IoU ${overlap.toFixed(2)} with the truth box`);
    t.ok(plate.confidence > 0.9 && plate.detectionScore >= 0.6);
  });
}

t.test('two plates in one frame are both read', async (t) => {
  const a = await renderScene({ width: 1280, height: 720, text: '浙D·137ET', x: 100, y: 100, plateWidth: 200, seed: 9 });
  const b = await renderScene({ width: 1280, height: 720, text: '鲁B·7K2Q8', x: 800, y: 450, plateWidth: 200, seed: 9 });
  // Paste b's plate region into a: both scenes share the background (same seed).
  const img = a.image;
  const box = boundingBox(b.quad);
  for (let y = Math.floor(box.y); y < box.y + box.height; y++) {
    const o = (y * 1280 + Math.floor(box.x)) * 3;
    img.data.set(b.image.data.subarray(o, o + Math.ceil(box.width) * 3), o);
  }
  const reading = await reader.readFrame(img);
  t.same(reading.plates.map((p) => p.text).sort(), ['浙D137ET', '鲁B7K2Q8'].sort());
});

t.test('a frame without a plate yields no plates', async (t) => {
  const scene = await renderScene({ width: 1280, height: 720, text: ' ', x: 10, y: 10, plateWidth: 40, seed: 21 });
  const reading = await reader.readFrame(scene.image);
  t.same(reading.plates, []);
});

t.test('detector input size follows PaddleOCR (limit 960, multiples of 32)', (t) => {
  t.same(detectionInputSize(1280, 720, 960), { width: 960, height: 544 });
  t.same(detectionInputSize(1920, 1080, 960), { width: 960, height: 544 });
  t.same(detectionInputSize(640, 480, 960), { width: 640, height: 480 });
  t.same(detectionInputSize(10, 10, 960), { width: 32, height: 32 });
  t.end();
});

t.test('bad frames are IMAGE_INVALID', async (t) => {
  await t.rejects(reader.readFrame({ width: 100, height: 100, channels: 3, data: new Uint8Array(10) }), { code: 'IMAGE_INVALID' });
});
