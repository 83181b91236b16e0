// DB post-processing and perspective crops on synthetic probability maps and images (no model involved).
import t from 'tap';
import { convexHull, dbPostprocess, type ProbabilityMap, type Quad } from '../../../firmware/cait/db-postprocess.js';
import { homography, perspectiveCrop } from '../../../firmware/cait/perspective-crop.js';
import type { RgbImage } from '../../../firmware/cait/rgb-image.js';

function mapWith(width: number, height: number, fill: (x: number, y: number) => number): ProbabilityMap {
  const data = new Float32Array(width * height);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) data[y * width + x] = fill(x, y);
  return { data, width, height };
}

const area = (q: Quad) => Math.abs(q.reduce((s, p, i) => s + p.x * q[(i + 1) % 4]!.y - q[(i + 1) % 4]!.x * p.y, 0)) / 2;

t.test('an axis-aligned region becomes its rectangle grown by area × 1.5 / perimeter', (t) => {
  // Region: x 20..59, y 10..19 (pixel centres) → 39 × 9 rectangle; D = 39·9·1.5 / (2·48) = 5.484.
  const map = mapWith(100, 40, (x, y) => (x >= 20 && x < 60 && y >= 10 && y < 20 ? 0.9 : 0.05));
  const boxes = dbPostprocess(map);
  t.equal(boxes.length, 1);
  const [tl, tr, br, bl] = boxes[0]!.quad;
  const d = (39 * 9 * 1.5) / (2 * 48);
  t.ok(Math.abs(tl.x - (20 - d)) < 1e-6 && Math.abs(tl.y - (10 - d)) < 1e-6, `top-left ${JSON.stringify(tl)}`);
  t.ok(Math.abs(br.x - (59 + d)) < 1e-6 && Math.abs(br.y - (19 + d)) < 1e-6, `bottom-right ${JSON.stringify(br)}`);
  t.ok(tr.x > tl.x && bl.y > tl.y, 'corner order TL, TR, BR, BL');
  t.ok(Math.abs(boxes[0]!.score - 0.9) < 1e-6, 'score is the mean inside the rectangle');
  t.end();
});

t.test('thresholds: weak regions, thin lines and specks are dropped', (t) => {
  const map = mapWith(200, 60, (x, y) => {
    if (x >= 10 && x < 50 && y >= 10 && y < 30) return 0.5; // above 0.3, box mean 0.5 < 0.6
    if (x >= 60 && x < 160 && y === 40) return 0.95; // one pixel tall: short side 0 < 3
    if (x === 180 && y === 10) return 0.99; // a speck
    return 0;
  });
  t.same(dbPostprocess(map), []);
  t.equal(dbPostprocess(map, { boxThreshold: 0.4 }).length, 1, 'lowering the box threshold keeps the weak region');
  t.end();
});

t.test('a rotated region gives a rotated box of the right size; several regions, best first', (t) => {
  const angle = (20 * Math.PI) / 180;
  const inRotated = (x: number, y: number) => {
    const u = (x - 60) * Math.cos(angle) + (y - 40) * Math.sin(angle);
    const v = -(x - 60) * Math.sin(angle) + (y - 40) * Math.cos(angle);
    return Math.abs(u) <= 30 && Math.abs(v) <= 6;
  };
  const map = mapWith(200, 100, (x, y) => (inRotated(x, y) ? 0.8 : x >= 140 && x < 180 && y >= 70 && y < 85 ? 0.99 : 0));
  const boxes = dbPostprocess(map);
  t.equal(boxes.length, 2);
  t.ok(boxes[0]!.score > boxes[1]!.score, 'sorted by score');
  const [tl, tr] = boxes[1]!.quad;
  const slope = Math.atan2(tr.y - tl.y, tr.x - tl.x) * (180 / Math.PI);
  t.ok(Math.abs(slope - 20) < 3, `box angle ${slope.toFixed(1)}° ≈ 20°`);
  const w = Math.hypot(tr.x - tl.x, tr.y - tl.y);
  t.ok(w > 60 && w < 90, `width ${w.toFixed(1)} = 60 + unclip margin`);
  t.ok(area(boxes[1]!.quad) > 60 * 12, 'area grew');
  t.end();
});

t.test('maxCandidates bounds work on noise; a bad map size is a RangeError', (t) => {
  let s = 1;
  const noise = mapWith(300, 300, () => ((s = (s * 1103515245 + 12345) % 2147483648) / 2147483648 > 0.6 ? 1 : 0));
  t.ok(dbPostprocess(noise, { maxCandidates: 10 }).length <= 10);
  t.throws(() => dbPostprocess({ data: new Float32Array(3), width: 2, height: 2 }), RangeError);
  t.end();
});

t.test('convex hull of a square with inner points', (t) => {
  const hull = convexHull([
    { x: 0, y: 0 },
    { x: 2, y: 0 },
    { x: 1, y: 1 },
    { x: 2, y: 2 },
    { x: 0, y: 2 },
    { x: 1, y: 0 },
  ]);
  t.equal(hull.length, 4);
  t.end();
});

t.test('homography maps the four corners exactly; degenerate quads give null', (t) => {
  const from = [
    { x: 0, y: 0 },
    { x: 10, y: 0 },
    { x: 10, y: 5 },
    { x: 0, y: 5 },
  ];
  const to = [
    { x: 3, y: 4 },
    { x: 20, y: 6 },
    { x: 22, y: 15 },
    { x: 1, y: 12 },
  ];
  const h = homography(from, to)!;
  from.forEach((p, i) => {
    const w = h[6]! * p.x + h[7]! * p.y + 1;
    t.ok(Math.abs((h[0]! * p.x + h[1]! * p.y + h[2]!) / w - to[i]!.x) < 1e-9 && Math.abs((h[3]! * p.x + h[4]! * p.y + h[5]!) / w - to[i]!.y) < 1e-9);
  });
  t.equal(homography(from, [to[0]!, to[0]!, to[0]!, to[0]!]), null);
  t.end();
});

t.test('perspective crop of an axis-aligned quad copies the pixels; tall crops are rotated', (t) => {
  const image: RgbImage = { width: 8, height: 6, channels: 3, data: new Uint8Array(8 * 6 * 3) };
  for (let i = 0; i < 48; i++) image.data.set([i, 255 - i, (i * 7) % 256], i * 3);
  const crop = perspectiveCrop(image, [
    { x: 2, y: 1 },
    { x: 6, y: 1 },
    { x: 6, y: 3 },
    { x: 2, y: 3 },
  ]);
  t.equal(crop.width, 4);
  t.equal(crop.height, 2);
  t.same(Array.from(crop.data.subarray(0, 3)), [10, 245, 70], 'pixel (2,1) → (0,0)');
  t.same(Array.from(crop.data.subarray((1 * 4 + 3) * 3, (1 * 4 + 3) * 3 + 3)), [21, 234, 147], 'pixel (5,2) → (3,1)');
  const tall = perspectiveCrop(image, [
    { x: 1, y: 0 },
    { x: 3, y: 0 },
    { x: 3, y: 6 },
    { x: 1, y: 6 },
  ]);
  t.same([tall.width, tall.height], [6, 2], 'rotated 90°');
  t.end();
});
