// DBNet post-processing (PaddleOCR's DBPostProcess): probability map → thresholded regions → minimum-area rectangles → unclipped boxes.
//
// PaddleOCR uses OpenCV contours and pyclipper; here each 8-connected region of the bitmap is one
// candidate (OpenCV's outer contours, without hole contours), its convex hull gives the minimum-area
// rectangle (rotating calipers, as cv2.minAreaRect), and the box score is the mean probability inside
// that rectangle (box_score_fast). Unclipping a rectangle by D = area × ratio / perimeter with round
// joins and taking the minimum-area rectangle again is exactly the rectangle grown by D on every side,
// so that is computed in closed form.

export interface Point {
  x: number;
  y: number;
}

/** Four corners in order top-left, top-right, bottom-right, bottom-left (PaddleOCR's get_mini_boxes order). */
export type Quad = [Point, Point, Point, Point];

export interface TextBox {
  quad: Quad;
  /** Mean probability inside the (pre-unclip) rectangle. */
  score: number;
}

export interface DbOptions {
  /** Pixel threshold on the probability map (PaddleOCR det_db_thresh, default 0.3). */
  threshold?: number;
  /** Minimum mean probability of a box (det_db_box_thresh, default 0.6). */
  boxThreshold?: number;
  /** Unclip ratio (det_db_unclip_ratio, default 1.5). */
  unclipRatio?: number;
  /** Boxes whose short side is under this many map pixels are dropped (default 3). */
  minSize?: number;
  /** At most this many regions are considered (default 1000). */
  maxCandidates?: number;
}

export interface ProbabilityMap {
  data: Float32Array;
  width: number;
  height: number;
}

interface Rect {
  cx: number;
  cy: number;
  /** Unit vector along the rectangle's first side. */
  ux: number;
  uy: number;
  w: number;
  h: number;
}

function cross(o: Point, a: Point, b: Point): number {
  return (a.x - o.x) * (b.y - o.y) - (a.y - o.y) * (b.x - o.x);
}

/** Andrew's monotone chain; input need not be sorted. */
export function convexHull(points: readonly Point[]): Point[] {
  const pts = [...points].sort((a, b) => a.x - b.x || a.y - b.y);
  if (pts.length <= 2) return pts;
  const lower: Point[] = [];
  for (const p of pts) {
    while (lower.length >= 2 && cross(lower[lower.length - 2]!, lower[lower.length - 1]!, p) <= 0) lower.pop();
    lower.push(p);
  }
  const upper: Point[] = [];
  for (let i = pts.length - 1; i >= 0; i--) {
    const p = pts[i]!;
    while (upper.length >= 2 && cross(upper[upper.length - 2]!, upper[upper.length - 1]!, p) <= 0) upper.pop();
    upper.push(p);
  }
  lower.pop();
  upper.pop();
  return lower.concat(upper);
}

/** Minimum-area enclosing rectangle of a convex hull (one side is collinear with a hull edge). */
function minAreaRect(hull: readonly Point[]): Rect {
  if (hull.length === 1) return { cx: hull[0]!.x, cy: hull[0]!.y, ux: 1, uy: 0, w: 0, h: 0 };
  let best: Rect | null = null;
  let bestArea = Infinity;
  for (let i = 0; i < hull.length; i++) {
    const a = hull[i]!;
    const b = hull[(i + 1) % hull.length]!;
    const len = Math.hypot(b.x - a.x, b.y - a.y);
    if (len === 0) continue;
    const ux = (b.x - a.x) / len;
    const uy = (b.y - a.y) / len;
    let minU = Infinity;
    let maxU = -Infinity;
    let minV = Infinity;
    let maxV = -Infinity;
    for (const p of hull) {
      const u = p.x * ux + p.y * uy;
      const v = -p.x * uy + p.y * ux;
      if (u < minU) minU = u;
      if (u > maxU) maxU = u;
      if (v < minV) minV = v;
      if (v > maxV) maxV = v;
    }
    const area = (maxU - minU) * (maxV - minV);
    if (area < bestArea) {
      bestArea = area;
      const cu = (minU + maxU) / 2;
      const cv = (minV + maxV) / 2;
      best = { cx: cu * ux - cv * uy, cy: cu * uy + cv * ux, ux, uy, w: maxU - minU, h: maxV - minV };
    }
  }
  return best ?? { cx: hull[0]!.x, cy: hull[0]!.y, ux: 1, uy: 0, w: 0, h: 0 };
}

/** The rectangle's corners ordered like PaddleOCR's get_mini_boxes: TL, TR, BR, BL. */
export function rectCorners(rect: Rect): Quad {
  const hx = (rect.w / 2) * rect.ux;
  const hy = (rect.w / 2) * rect.uy;
  const vx = (-rect.h / 2) * rect.uy;
  const vy = (rect.h / 2) * rect.ux;
  const pts = [
    { x: rect.cx - hx - vx, y: rect.cy - hy - vy },
    { x: rect.cx + hx - vx, y: rect.cy + hy - vy },
    { x: rect.cx + hx + vx, y: rect.cy + hy + vy },
    { x: rect.cx - hx + vx, y: rect.cy - hy + vy },
  ].sort((a, b) => a.x - b.x);
  const [l1, l2, r1, r2] = pts as [Point, Point, Point, Point];
  const [tl, bl] = l1.y <= l2.y ? [l1, l2] : [l2, l1];
  const [tr, br] = r1.y <= r2.y ? [r1, r2] : [r2, r1];
  return [tl, tr, br, bl];
}

/** Mean of the map inside a quad (PaddleOCR's box_score_fast: rasterise the polygon over its bounding box). */
function quadScore(map: ProbabilityMap, quad: Quad): number {
  const xs = quad.map((p) => p.x);
  const ys = quad.map((p) => p.y);
  const x0 = Math.max(0, Math.floor(Math.min(...xs)));
  const x1 = Math.min(map.width - 1, Math.ceil(Math.max(...xs)));
  const y0 = Math.max(0, Math.floor(Math.min(...ys)));
  const y1 = Math.min(map.height - 1, Math.ceil(Math.max(...ys)));
  let sum = 0;
  let n = 0;
  for (let y = y0; y <= y1; y++) {
    for (let x = x0; x <= x1; x++) {
      const p = { x, y };
      // Inside (or on the edge of) a convex quad: same side of all four edges, with half a pixel of slack.
      let inside = true;
      for (let i = 0; i < 4 && inside; i++) {
        const a = quad[i]!;
        const b = quad[(i + 1) % 4]!;
        const len = Math.hypot(b.x - a.x, b.y - a.y) || 1;
        if (cross(a, b, p) / len < -0.5) inside = false;
      }
      if (inside) {
        sum += map.data[y * map.width + x]!;
        n++;
      }
    }
  }
  return n === 0 ? 0 : sum / n;
}

/** Text boxes in map coordinates, highest score first. */
export function dbPostprocess(map: ProbabilityMap, options: DbOptions = {}): TextBox[] {
  const threshold = options.threshold ?? 0.3;
  const boxThreshold = options.boxThreshold ?? 0.6;
  const unclipRatio = options.unclipRatio ?? 1.5;
  const minSize = options.minSize ?? 3;
  const maxCandidates = options.maxCandidates ?? 1000;
  const { width, height, data } = map;
  if (data.length < width * height) throw new RangeError(`probability map has ${data.length} values, expected ${width * height}`);
  const label = new Int32Array(width * height);
  const stack = new Int32Array(width * height);
  const boxes: TextBox[] = [];
  let regions = 0;
  for (let start = 0; start < width * height && regions < maxCandidates; start++) {
    if (label[start] !== 0 || !(data[start]! > threshold)) continue;
    regions++;
    // Flood fill (8-connected), tracking each row's leftmost and rightmost pixel: their hull is the region's hull.
    const rowMin = new Map<number, number>();
    const rowMax = new Map<number, number>();
    let top = 0;
    stack[top++] = start;
    label[start] = regions;
    while (top > 0) {
      const i = stack[--top]!;
      const x = i % width;
      const y = (i - x) / width;
      const lo = rowMin.get(y);
      if (lo === undefined || x < lo) rowMin.set(y, x);
      const hi = rowMax.get(y);
      if (hi === undefined || x > hi) rowMax.set(y, x);
      for (let dy = -1; dy <= 1; dy++) {
        const ny = y + dy;
        if (ny < 0 || ny >= height) continue;
        for (let dx = -1; dx <= 1; dx++) {
          const nx = x + dx;
          if (nx < 0 || nx >= width || (dx === 0 && dy === 0)) continue;
          const j = ny * width + nx;
          if (label[j] === 0 && data[j]! > threshold) {
            label[j] = regions;
            stack[top++] = j;
          }
        }
      }
    }
    const points: Point[] = [];
    for (const [y, lo] of rowMin) {
      points.push({ x: lo, y });
      const hi = rowMax.get(y)!;
      if (hi !== lo) points.push({ x: hi, y });
    }
    const rect = minAreaRect(convexHull(points));
    if (Math.min(rect.w, rect.h) < minSize) continue;
    const score = quadScore(map, rectCorners(rect));
    if (score < boxThreshold) continue;
    const grow = (rect.w * rect.h * unclipRatio) / (2 * (rect.w + rect.h));
    const grown = { ...rect, w: rect.w + 2 * grow, h: rect.h + 2 * grow };
    if (Math.min(grown.w, grown.h) < minSize + 2) continue;
    boxes.push({ quad: rectCorners(grown), score });
  }
  return boxes.sort((a, b) => b.score - a.score);
}
