// Packed 8-bit RGB images and the pixel work the reader needs on them (margins, bilinear resize into model tensors), in typed arrays.
import { CaitError } from './cait-errors.js';

/** Row-major packed RGB; structurally a subset of hardware/camera's Frame, so frames pass straight in. */
export interface RgbImage {
  width: number;
  height: number;
  channels: 3;
  data: Uint8Array;
}

export function checkRgbImage(image: RgbImage, what = 'image'): void {
  const { width, height } = image;
  if (!Number.isInteger(width) || !Number.isInteger(height) || width <= 0 || height <= 0) {
    throw new CaitError('IMAGE_INVALID', `${what} size ${String(width)}×${String(height)} is not positive integers`);
  }
  if (image.channels !== 3) throw new CaitError('IMAGE_INVALID', `${what} has ${String(image.channels)} channels, expected 3 (RGB)`);
  if (!(image.data instanceof Uint8Array) || image.data.length !== width * height * 3) {
    throw new CaitError('IMAGE_INVALID', `${what} buffer has ${image.data?.length ?? 0} bytes, expected ${width * height * 3}`);
  }
}

/** Surrounds an image with a border of one colour (the recogniser reads tight crops better with a margin). */
export function padImage(image: RgbImage, padX: number, padY: number, rgb: readonly [number, number, number]): RgbImage {
  const width = image.width + 2 * padX;
  const height = image.height + 2 * padY;
  const out = new Uint8Array(width * height * 3);
  for (let i = 0; i < width * height; i++) {
    out[i * 3] = rgb[0];
    out[i * 3 + 1] = rgb[1];
    out[i * 3 + 2] = rgb[2];
  }
  for (let row = 0; row < image.height; row++) {
    out.set(image.data.subarray(row * image.width * 3, (row + 1) * image.width * 3), ((row + padY) * width + padX) * 3);
  }
  return { width, height, channels: 3, data: out };
}

/** An axis-aligned rectangle of whole pixels. */
export interface PixelRect {
  x: number;
  y: number;
  width: number;
  height: number;
}

/**
 * Bilinear resize fused with normalisation into a planar BGR float tensor (the models' input
 * layout): plane c holds (pixel[2 − c] × scale[c] − shift[c]). The image (or its `region`, sampled
 * in place so no copy of the window is made) lands in the top-left `width × height` of planes
 * `rowStride` floats wide; anything right of it is left as is (zero padding).
 */
export function resizeToPlanarBgr(
  image: RgbImage,
  width: number,
  height: number,
  out: Float32Array,
  offset: number,
  rowStride: number,
  scale: readonly [number, number, number],
  shift: readonly [number, number, number],
  region: PixelRect = { x: 0, y: 0, width: image.width, height: image.height },
): void {
  const src = image.data;
  const sw = region.width;
  const sh = region.height;
  const left = region.x;
  const top = region.y;
  if (left < 0 || top < 0 || sw < 1 || sh < 1 || left + sw > image.width || top + sh > image.height || !Number.isInteger(left + top + sw + sh)) {
    throw new CaitError('IMAGE_INVALID', `region ${sw}×${sh} at (${left}, ${top}) is not inside the ${image.width}×${image.height} image`);
  }
  const stride = image.width * 3;
  const plane = rowStride * height;
  const sx = sw / width;
  const sy = sh / height;
  const x0s = new Int32Array(width);
  const x1s = new Int32Array(width);
  const fxs = new Float32Array(width);
  for (let x = 0; x < width; x++) {
    let fx = (x + 0.5) * sx - 0.5;
    if (fx < 0) fx = 0;
    let x0 = Math.floor(fx);
    if (x0 > sw - 1) x0 = sw - 1;
    x0s[x] = (left + x0) * 3;
    x1s[x] = (left + Math.min(x0 + 1, sw - 1)) * 3;
    fxs[x] = Math.min(fx - x0, 1);
  }
  const [sB, sG, sR] = scale;
  const [mB, mG, mR] = shift;
  for (let y = 0; y < height; y++) {
    let fy = (y + 0.5) * sy - 0.5;
    if (fy < 0) fy = 0;
    let y0 = Math.floor(fy);
    if (y0 > sh - 1) y0 = sh - 1;
    const r0 = (top + y0) * stride;
    const r1 = (top + Math.min(y0 + 1, sh - 1)) * stride;
    const wy = Math.min(fy - y0, 1);
    const w00 = 1 - wy;
    const rowOut = offset + y * rowStride;
    for (let x = 0; x < width; x++) {
      const wx = fxs[x]!;
      const a0 = r0 + x0s[x]!;
      const b0 = r0 + x1s[x]!;
      const a1 = r1 + x0s[x]!;
      const b1 = r1 + x1s[x]!;
      const wa0 = (1 - wx) * w00;
      const wb0 = wx * w00;
      const wa1 = (1 - wx) * wy;
      const wb1 = wx * wy;
      const r = src[a0]! * wa0 + src[b0]! * wb0 + src[a1]! * wa1 + src[b1]! * wb1;
      const g = src[a0 + 1]! * wa0 + src[b0 + 1]! * wb0 + src[a1 + 1]! * wa1 + src[b1 + 1]! * wb1;
      const b = src[a0 + 2]! * wa0 + src[b0 + 2]! * wb0 + src[a1 + 2]! * wa1 + src[b1 + 2]! * wb1;
      const o = rowOut + x;
      out[o] = b * sB - mB;
      out[o + plane] = g * sG - mG;
      out[o + 2 * plane] = r * sR - mR;
    }
  }
}
