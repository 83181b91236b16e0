// Decodes image bytes or files (JPEG, PNG, WebP, TIFF, …) to packed RGB frames with sharp; anything else is a typed DECODE_FAILED.
import { readFile } from 'node:fs/promises';
import sharp from 'sharp';
import { CameraError, type Frame } from './frame-source.js';

/** Bounds what a hostile file can make us allocate (libvips' default is larger still). */
export const MAX_IMAGE_PIXELS = 40_000_000;

/** Decodes one image; truncated or corrupt data fails (sharp's `failOn: 'warning'`) instead of yielding grey rows. */
export async function decodeImage(bytes: Uint8Array, source: string, timestamp: number): Promise<Frame> {
  if (bytes.length === 0) throw new CameraError('DECODE_FAILED', `${source}: empty file`);
  try {
    const { data, info } = await sharp(bytes, { failOn: 'warning', limitInputPixels: MAX_IMAGE_PIXELS })
      .rotate() // apply the EXIF orientation: phones and some cameras store frames sideways
      .removeAlpha()
      .toColourspace('srgb')
      .raw()
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== 3) throw new Error(`decoded to ${info.channels} channels`);
    return { width: info.width, height: info.height, channels: 3, data: new Uint8Array(data.buffer, data.byteOffset, data.length), timestamp, source };
  } catch (err) {
    throw new CameraError('DECODE_FAILED', `${source}: not a decodable image (${err instanceof Error ? err.message : String(err)})`, { cause: err });
  }
}

/** Reads and decodes a file; a missing file is SOURCE_NOT_FOUND. */
export async function decodeImageFile(path: string, now: () => number = Date.now): Promise<Frame> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') throw new CameraError('SOURCE_NOT_FOUND', `${path}: no such file`, { cause: err });
    throw new CameraError('DECODE_FAILED', `${path}: cannot read (${code ?? String(err)})`, { cause: err, temporary: code === 'EBUSY' || code === 'EAGAIN' });
  }
  return decodeImage(bytes, path, now());
}
