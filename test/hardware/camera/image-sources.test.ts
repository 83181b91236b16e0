// Image-file and watched-directory frame sources: real files in a temp dir; garbage files are typed errors, never crashes or silent drops.
import t from 'tap';
import { mkdtempSync, writeFileSync, renameSync, rmSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { CameraError, assertFrame, type Frame } from '../../../hardware/camera/frame-source.js';
import { decodeImage } from '../../../hardware/camera/image-decode.js';
import { ImageFileSource } from '../../../hardware/camera/image-file-source.js';
import { DirectorySource } from '../../../hardware/camera/directory-source.js';

const dir = mkdtempSync(join(tmpdir(), 'cait-camera-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

/** A solid-colour image file of the given format. */
async function imageFile(name: string, rgb: [number, number, number], format: 'jpeg' | 'png' = 'png', width = 32, height = 16): Promise<string> {
  const path = join(dir, name);
  const data = Buffer.alloc(width * height * 3);
  for (let i = 0; i < width * height; i++) data.set(rgb, i * 3);
  await sharp(data, { raw: { width, height, channels: 3 } })
    .toFormat(format, format === 'jpeg' ? { quality: 95 } : {})
    .toFile(path);
  return path;
}

const codeOf = async (p: Promise<unknown>) => {
  try {
    await p;
  } catch (err) {
    return err instanceof CameraError ? err.code : `untyped: ${String(err)}`;
  }
  return 'no error';
};

async function collect(iterable: AsyncIterable<Frame>, max = Infinity): Promise<Frame[]> {
  const out: Frame[] = [];
  for await (const f of iterable) {
    out.push(f);
    if (out.length >= max) break;
  }
  return out;
}

t.test('image files: decoded to RGB frames in order, with source and timestamp', async (t) => {
  const a = await imageFile('a.png', [255, 0, 0]);
  const b = await imageFile('b.jpg', [0, 0, 255], 'jpeg', 40, 20);
  let clock = 1000;
  const source = new ImageFileSource([a, b], { now: () => clock++ });
  const frames = await collect(source.frames());
  t.equal(frames.length, 2);
  frames.forEach((f) => assertFrame(f));
  t.match(frames[0], { width: 32, height: 16, channels: 3, source: a, timestamp: 1000 });
  t.same(Array.from(frames[0]!.data.subarray(0, 3)), [255, 0, 0]);
  t.match(frames[1], { width: 40, height: 20, source: b, timestamp: 1001 });
  const blue = frames[1]!.data;
  t.ok(blue[2]! > 240 && blue[0]! < 15, 'JPEG blue survives decoding');
  t.equal(await codeOf(Promise.resolve().then(() => source.frames())), 'SOURCE_CLOSED', 'frames() once');
});

t.test('garbage files: missing, empty, not an image, truncated JPEG → typed errors', async (t) => {
  const empty = join(dir, 'empty.jpg');
  writeFileSync(empty, '');
  const text = join(dir, 'notes.jpg');
  writeFileSync(text, 'this is not a picture\n');
  const good = await imageFile('whole.jpg', [10, 200, 30], 'jpeg', 256, 128);
  const truncated = join(dir, 'truncated.jpg');
  const bytes = readFileSync(good);
  writeFileSync(truncated, bytes.subarray(0, Math.floor(bytes.length * 0.6)));
  const cases: [string, string][] = [
    [join(dir, 'missing.jpg'), 'SOURCE_NOT_FOUND'],
    [empty, 'DECODE_FAILED'],
    [text, 'DECODE_FAILED'],
    [truncated, 'DECODE_FAILED'],
    [dir, 'DECODE_FAILED'], // a directory is not an image
  ];
  for (const [path, code] of cases) {
    t.equal(await codeOf(collect(new ImageFileSource([path]).frames())), code, path);
  }
  // Random bytes never crash the decoder.
  let s = 7;
  for (let i = 0; i < 20; i++) {
    const junk = new Uint8Array(4 + ((i * 37) % 500)).map(() => (s = (s * 1103515245 + 12345) % 2147483648) % 256);
    if (i % 2 === 0) junk.set([0xff, 0xd8, 0xff, 0xe0]); // a JPEG signature in front
    t.equal(await codeOf(decodeImage(junk, `junk${i}`, 0)), 'DECODE_FAILED');
  }
});

t.test('watched directory: only new files, once each, after they are complete; atomic renames picked up', async (t) => {
  const watched = mkdtempSync(join(dir, 'watch-'));
  writeFileSync(join(watched, 'old.png'), readFileSync(await imageFile('old.png', [1, 2, 3])));
  const source = new DirectorySource(watched, { pollMs: 50 });
  const iterator = source.frames()[Symbol.asyncIterator]();
  const first = iterator.next();
  await new Promise((r) => setTimeout(r, 150));
  const red = readFileSync(await imageFile('r.png', [250, 0, 0]));
  // Written in two parts: the source must not take the half-written file.
  writeFileSync(join(watched, 'cam-001.png'), red.subarray(0, 20));
  await new Promise((r) => setTimeout(r, 30));
  writeFileSync(join(watched, 'cam-001.png'), red);
  const f1 = await first;
  t.notOk(f1.done);
  t.match(f1.value, { source: join(watched, 'cam-001.png'), width: 32 });
  t.same(Array.from((f1.value as Frame).data.subarray(0, 3)), [250, 0, 0]);
  // Written under a temporary name, then renamed in.
  writeFileSync(join(watched, '.tmp-cam-002'), readFileSync(await imageFile('g.png', [0, 250, 0])));
  renameSync(join(watched, '.tmp-cam-002'), join(watched, 'cam-002.png'));
  writeFileSync(join(watched, 'ignored.txt'), 'not an image extension');
  const f2 = await iterator.next();
  t.match(f2.value, { source: join(watched, 'cam-002.png') });
  await source.close();
  t.same(await iterator.next(), { done: true, value: undefined }, 'close ends the iteration');
});

t.test('watched directory: an undecodable file goes to onError (typed) and the stream carries on; without onError it ends the stream', async (t) => {
  const watched = mkdtempSync(join(dir, 'watch-'));
  const errors: [string, string][] = [];
  const source = new DirectorySource(watched, { pollMs: 50, onError: (err, path) => errors.push([err.code, path]) });
  const frames = collect(source.frames(), 1);
  await new Promise((r) => setTimeout(r, 100));
  writeFileSync(join(watched, 'a-broken.jpg'), 'garbage');
  await new Promise((r) => setTimeout(r, 200));
  writeFileSync(join(watched, 'b-good.png'), readFileSync(await imageFile('b.png', [9, 9, 9])));
  const got = await frames;
  t.equal(got[0]?.source, join(watched, 'b-good.png'));
  t.same(errors, [['DECODE_FAILED', join(watched, 'a-broken.jpg')]]);

  const strict = mkdtempSync(join(dir, 'watch-'));
  const failing = new DirectorySource(strict, { pollMs: 50 });
  const run = collect(failing.frames());
  await new Promise((r) => setTimeout(r, 100));
  writeFileSync(join(strict, 'x.jpg'), 'garbage');
  t.equal(await codeOf(run), 'DECODE_FAILED');
});

t.test('watched directory: includeExisting, missing directory, bad options', async (t) => {
  const watched = mkdtempSync(join(dir, 'watch-'));
  writeFileSync(join(watched, 'old.png'), readFileSync(await imageFile('o.png', [5, 5, 5])));
  const source = new DirectorySource(watched, { pollMs: 50, includeExisting: true });
  const [frame] = await collect(source.frames(), 1);
  t.equal(frame?.source, join(watched, 'old.png'));
  t.equal(await codeOf(collect(new DirectorySource(join(dir, 'nope')).frames())), 'SOURCE_NOT_FOUND');
  t.throws(() => new DirectorySource(dir, { pollMs: 0 }), { code: 'INVALID_OPTIONS' });
});
