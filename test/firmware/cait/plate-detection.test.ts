// Detection + recognition on synthetic scenes: the rendered plate is found where it was pasted and read exactly.
import t from 'tap';
import { PlateReader, boundingBox, quadAspect, type BoundingBox } from '../../../firmware/cait/plate-reader.js';
import { DEFAULT_LIMIT_SIDE, detectionInputSize, quadIou, refineWindow } from '../../../firmware/cait/plate-detector.js';
import { resizeToPlanarBgr, type RgbImage } from '../../../firmware/cait/rgb-image.js';
import type { Quad } from '../../../firmware/cait/db-postprocess.js';
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

// The smallest plates `npm run bench:cait` renders: 12 % of the frame width (154 px at 720p, 230 px at
// 1080p), which the coarse pass sees 46 px wide at the default limit side.
for (const [width, height, text, angle] of [[1280, 720, '豫H·7JNC5', -6], [1920, 1080, '鄂A·9KT3F', 6]] as const) {
  t.test(`${height}p, plate 12 % of the frame width, tilted ${angle}°: found and read at limitSide ${DEFAULT_LIMIT_SIDE}`, async (t) => {
    const plateWidth = Math.round(width * 0.12);
    const scene = await renderScene({ width, height, text, x: Math.round(width * 0.6), y: Math.round(height * 0.7), plateWidth, angle, seed: 4 });
    const reading = await reader.readFrame(scene.image);
    t.same(reading.plates.map((p) => p.text), [scene.plate], `rejected: ${JSON.stringify(reading.rejected)}`);
    t.ok(iou(reading.plates[0]?.box ?? { x: 0, y: 0, width: 0, height: 0 }, boundingBox(scene.quad)) > 0.5, 'where it was pasted');
  });
}

t.test('the fine pass fits the box to the plate better than the coarse pass', async (t) => {
  const scene = await renderScene({ width: 1920, height: 1080, text: '沪K·3728Y', x: 300, y: 500, plateWidth: 240, angle: 5, seed: 8 });
  const coarse = await reader.detector.detect(scene.image);
  const plate = coarse.find((b) => quadIou(b.quad, scene.quad) > 0.3);
  if (plate === undefined) return t.fail(`plate not found by the coarse pass: ${JSON.stringify(coarse)}`);
  const fine = await reader.detector.refine(scene.image, plate);
  // The fine box lies on the plate's text, inside the plate: compare how much of each box is plate.
  const truth = boundingBox(scene.quad);
  const inside = (q: Quad) => {
    const b = boundingBox(q);
    const w = Math.max(0, Math.min(b.x + b.width, truth.x + truth.width) - Math.max(b.x, truth.x));
    const h = Math.max(0, Math.min(b.y + b.height, truth.y + truth.height) - Math.max(b.y, truth.y));
    return (w * h) / (b.width * b.height);
  };
  t.not(fine, plate, 'the fine pass found its own box');
  t.ok(inside(fine.quad) >= inside(plate.quad), `share of the box on the plate: fine ${inside(fine.quad).toFixed(3)} ≥ coarse ${inside(plate.quad).toFixed(3)}`);
  t.ok(quadIou(fine.quad, plate.quad) >= 0.5, 'the same text as the coarse box');
});

t.test('refine window: the box grown by 0.3 × its short side, clamped to the frame', (t) => {
  const quad: Quad = [{ x: 100, y: 50 }, { x: 300, y: 50 }, { x: 300, y: 110 }, { x: 100, y: 110 }];
  t.same(refineWindow(quad, 1280, 720), { x: 82, y: 32, width: 236, height: 96 });
  t.same(refineWindow(quad, 310, 115), { x: 82, y: 32, width: 228, height: 83 });
  const small: Quad = [{ x: 2, y: 2 }, { x: 12, y: 2 }, { x: 12, y: 6 }, { x: 2, y: 6 }];
  t.same(refineWindow(small, 100, 100), { x: 0, y: 0, width: 20, height: 14 }, 'at least 8 px of context');
  t.equal(quadIou(quad, quad), 1);
  t.equal(quadIou(quad, small), 0);
  t.end();
});

t.test('plate shape: a 440 × 140 plate box passes the default aspect range, a character or a long sign line does not', (t) => {
  const box = (w: number, h: number): Quad => [{ x: 0, y: 0 }, { x: w, y: 0 }, { x: w, y: h }, { x: 0, y: h }];
  t.equal(quadAspect(box(220, 70)), 220 / 70);
  t.ok(quadAspect(box(50, 48)) < 1.5, 'a single character');
  t.ok(quadAspect(box(900, 60)) > 10, 'a long line of shop signage');
  t.end();
});

t.test('resizing a region samples the frame in place, exactly as resizing a copy of that region', (t) => {
  let s = 99;
  const frame: RgbImage = { width: 64, height: 40, channels: 3, data: new Uint8Array(64 * 40 * 3).map(() => (s = (s * 1103515245 + 12345) % 2147483648) % 256) };
  const region = { x: 13, y: 7, width: 30, height: 21 };
  const copy: RgbImage = { width: region.width, height: region.height, channels: 3, data: new Uint8Array(region.width * region.height * 3) };
  for (let y = 0; y < region.height; y++) {
    copy.data.set(frame.data.subarray(((region.y + y) * 64 + region.x) * 3, ((region.y + y) * 64 + region.x + region.width) * 3), y * region.width * 3);
  }
  const scale = [1 / 255, 1 / 255, 1 / 255] as const;
  const shift = [0, 0, 0] as const;
  const a = new Float32Array(3 * 17 * 12);
  const b = new Float32Array(3 * 17 * 12);
  resizeToPlanarBgr(frame, 17, 12, a, 0, 17, scale, shift, region);
  resizeToPlanarBgr(copy, 17, 12, b, 0, 17, scale, shift);
  t.same(Array.from(a), Array.from(b));
  t.throws(() => resizeToPlanarBgr(frame, 17, 12, a, 0, 17, scale, shift, { x: 40, y: 0, width: 30, height: 10 }), { code: 'IMAGE_INVALID' });
  t.end();
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
