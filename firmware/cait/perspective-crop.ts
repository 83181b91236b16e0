// Cuts a quadrilateral out of a frame into an upright rectangle (PaddleOCR's get_rotate_crop_image) with a homography and bilinear sampling.
import type { Point, Quad } from './db-postprocess.js';
import { CaitError } from './cait-errors.js';
import type { RgbImage } from './rgb-image.js';

/** Solves A·x = b (n×n, row-major) by Gaussian elimination with partial pivoting; null if singular. */
function solve(a: number[][], b: number[]): number[] | null {
  const n = b.length;
  for (let col = 0; col < n; col++) {
    let pivot = col;
    for (let r = col + 1; r < n; r++) if (Math.abs(a[r]![col]!) > Math.abs(a[pivot]![col]!)) pivot = r;
    if (Math.abs(a[pivot]![col]!) < 1e-12) return null;
    [a[col], a[pivot]] = [a[pivot]!, a[col]!];
    [b[col], b[pivot]] = [b[pivot]!, b[col]!];
    for (let r = col + 1; r < n; r++) {
      const f = a[r]![col]! / a[col]![col]!;
      for (let c = col; c < n; c++) a[r]![c]! -= f * a[col]![c]!;
      b[r]! -= f * b[col]!;
    }
  }
  const x = new Array<number>(n).fill(0);
  for (let r = n - 1; r >= 0; r--) {
    let s = b[r]!;
    for (let c = r + 1; c < n; c++) s -= a[r]![c]! * x[c]!;
    x[r] = s / a[r]![r]!;
  }
  return x;
}

/** The 3×3 homography (row-major, h33 = 1) mapping each `from[i]` to `to[i]`; null for degenerate quads. */
export function homography(from: readonly Point[], to: readonly Point[]): number[] | null {
  const a: number[][] = [];
  const b: number[] = [];
  for (let i = 0; i < 4; i++) {
    const { x, y } = from[i]!;
    const { x: u, y: v } = to[i]!;
    a.push([x, y, 1, 0, 0, 0, -u * x, -u * y]);
    b.push(u);
    a.push([0, 0, 0, x, y, 1, -v * x, -v * y]);
    b.push(v);
  }
  const h = solve(a, b);
  return h === null ? null : [...h, 1];
}

const dist = (p: Point, q: Point) => Math.hypot(p.x - q.x, p.y - q.y);

/**
 * The quad's content as an upright image of size max(top, bottom) × max(left, right) edge length,
 * edges replicated outside the frame. Like PaddleOCR, a crop at least 1.5× taller than wide is
 * rotated 90° (vertical text).
 */
export function perspectiveCrop(image: RgbImage, quad: Quad): RgbImage {
  const [tl, tr, br, bl] = quad;
  const width = Math.max(1, Math.round(Math.max(dist(tl, tr), dist(bl, br))));
  const height = Math.max(1, Math.round(Math.max(dist(tl, bl), dist(tr, br))));
  if (width * height > 4096 * 4096) throw new CaitError('IMAGE_INVALID', `crop ${width}×${height} is too large`);
  const h = homography([{ x: 0, y: 0 }, { x: width, y: 0 }, { x: width, y: height }, { x: 0, y: height }], quad);
  if (h === null) throw new CaitError('IMAGE_INVALID', 'degenerate quad: its corners are collinear');
  const out = new Uint8Array(width * height * 3);
  const src = image.data;
  const sw = image.width;
  const sh = image.height;
  let o = 0;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      // Sample at the destination pixel's centre.
      const dx = x + 0.5;
      const dy = y + 0.5;
      const w = h[6]! * dx + h[7]! * dy + 1;
      let sx = (h[0]! * dx + h[1]! * dy + h[2]!) / w - 0.5;
      let sy = (h[3]! * dx + h[4]! * dy + h[5]!) / w - 0.5;
      sx = Math.min(Math.max(sx, 0), sw - 1);
      sy = Math.min(Math.max(sy, 0), sh - 1);
      const x0 = Math.floor(sx);
      const y0 = Math.floor(sy);
      const x1 = Math.min(x0 + 1, sw - 1);
      const y1 = Math.min(y0 + 1, sh - 1);
      const fx = sx - x0;
      const fy = sy - y0;
      const a = (y0 * sw + x0) * 3;
      const b = (y0 * sw + x1) * 3;
      const c = (y1 * sw + x0) * 3;
      const d = (y1 * sw + x1) * 3;
      for (let ch = 0; ch < 3; ch++) {
        const top = src[a + ch]! + (src[b + ch]! - src[a + ch]!) * fx;
        const bottom = src[c + ch]! + (src[d + ch]! - src[c + ch]!) * fx;
        out[o++] = Math.round(top + (bottom - top) * fy);
      }
    }
  }
  const crop: RgbImage = { width, height, channels: 3, data: out };
  return height / width >= 1.5 ? rotate90CounterClockwise(crop) : crop;
}

/** np.rot90 (counter-clockwise), as PaddleOCR applies to tall crops. */
function rotate90CounterClockwise(image: RgbImage): RgbImage {
  const { width, height, data } = image;
  const out = new Uint8Array(data.length);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const s = (y * width + x) * 3;
      const d = ((width - 1 - x) * height + y) * 3;
      out[d] = data[s]!;
      out[d + 1] = data[s + 1]!;
      out[d + 2] = data[s + 2]!;
    }
  }
  return { width: height, height: width, channels: 3, data: out };
}
