// FfmpegSource against the real ffmpeg: a small lossless video the test generates from synthetic frames, scaling, back-pressure, close(), failures.
import t from 'tap';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CameraError, assertFrame, type Frame } from '../../../hardware/camera/frame-source.js';
import { FfmpegSource, probeVideoSize } from '../../../hardware/camera/ffmpeg-source.js';

const dir = mkdtempSync(join(tmpdir(), 'cait-ffmpeg-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

const W = 64;
const H = 48;
const COLOURS: [number, number, number][] = [
  [255, 0, 0],
  [0, 255, 0],
  [0, 0, 255],
  [255, 255, 0],
  [0, 255, 255],
  [255, 0, 255],
  [128, 128, 128],
  [20, 40, 60],
];

/** Writes the frames as raw rgb24 into ffmpeg, encoded losslessly (FFV1 in Matroska). */
function makeVideo(path: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const ff = spawn('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-s', `${W}x${H}`, '-r', '10', '-i', 'pipe:0', '-c:v', 'ffv1', '-pix_fmt', 'bgr0', path], {
      stdio: ['pipe', 'ignore', 'inherit'],
    });
    ff.on('error', reject);
    ff.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`ffmpeg exited ${code}`))));
    for (const rgb of COLOURS) {
      const frame = Buffer.alloc(W * H * 3);
      for (let i = 0; i < W * H; i++) frame.set(rgb, i * 3);
      ff.stdin.write(frame);
    }
    ff.stdin.end();
  });
}

const video = join(dir, 'colours.mkv');
await makeVideo(video);

async function collect(iterable: AsyncIterable<Frame>, max = Infinity): Promise<Frame[]> {
  const out: Frame[] = [];
  for await (const f of iterable) {
    out.push(f);
    if (out.length >= max) break;
  }
  return out;
}
const codeOf = async (p: Promise<unknown>) => {
  try {
    await p;
  } catch (err) {
    return err instanceof CameraError ? err.code : `untyped: ${String(err)}`;
  }
  return 'no error';
};
const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

t.test('a video file: every frame, exact colours, size probed with ffprobe', async (t) => {
  t.same(await probeVideoSize(video), { width: W, height: H });
  const source = new FfmpegSource({ input: video });
  const frames = await collect(source.frames());
  t.equal(frames.length, COLOURS.length);
  frames.forEach((f, i) => {
    assertFrame(f);
    t.same(Array.from(f.data.subarray(0, 3)), COLOURS[i], `frame ${i} colour`);
    t.equal(f.source, `${video}#${i}`.replace(video, `ffmpeg:${video}`));
  });
  t.same(source.stats(), { frames: COLOURS.length, dropped: 0 });
});

t.test('scaling and fps: ffmpeg does the work', async (t) => {
  const frames = await collect(new FfmpegSource({ input: video, width: 32, height: 24, fps: 5 }).frames());
  t.ok(frames.length >= 3 && frames.length <= 5, `${frames.length} frames at 5 fps from 0.8 s`);
  t.match(frames[0], { width: 32, height: 24 });
  t.equal(frames[0]!.data.length, 32 * 24 * 3);
});

t.test('an endless input: back-pressure holds ffmpeg, breaking out of the loop kills it', async (t) => {
  const source = new FfmpegSource({ input: `testsrc=size=${W}x${H}:rate=25`, inputArgs: ['-f', 'lavfi'], width: W, height: H, live: false });
  let pid: number | undefined;
  let n = 0;
  for await (const frame of source.frames()) {
    pid = source.pid;
    t.equal(frame.width, W);
    if (++n === 3) break;
  }
  t.ok(pid !== undefined);
  t.notOk(alive(pid!), 'ffmpeg is gone after the loop ends');
});

t.test('live mode drops the oldest frames for a slow consumer', async (t) => {
  const source = new FfmpegSource({ input: `testsrc=size=${W}x${H}:rate=200`, inputArgs: ['-f', 'lavfi'], width: W, height: H, live: true, maxQueued: 1 });
  const it = source.frames()[Symbol.asyncIterator]();
  await it.next();
  await new Promise((r) => setTimeout(r, 500));
  await it.next();
  await source.close();
  t.ok(source.stats().dropped > 0, `dropped ${source.stats().dropped}`);
});

t.test('failures are typed: missing file, missing ffmpeg, broken input, stream ending inside a frame', async (t) => {
  t.equal(await codeOf(collect(new FfmpegSource({ input: join(dir, 'missing.mkv') }).frames())), 'SOURCE_NOT_FOUND');
  t.equal(await codeOf(collect(new FfmpegSource({ input: video, width: W, height: H, ffmpegPath: join(dir, 'no-ffmpeg') }).frames())), 'FFMPEG_MISSING');
  t.equal(await codeOf(collect(new FfmpegSource({ input: video, ffprobePath: join(dir, 'no-ffprobe') }).frames())), 'FFMPEG_MISSING');
  const junk = join(dir, 'junk.mkv');
  writeFileSync(junk, 'not a video at all');
  const junkCode = await codeOf(collect(new FfmpegSource({ input: junk }).frames()));
  t.ok(junkCode === 'FFMPEG_FAILED', `junk input → ${junkCode}`);
  // A stand-in "ffmpeg" that writes one and a half frames, then exits cleanly.
  const fake = join(dir, 'half-ffmpeg.sh');
  writeFileSync(fake, `#!/bin/sh\nhead -c ${Math.floor(W * H * 3 * 1.5)} /dev/zero\n`);
  chmodSync(fake, 0o755);
  const source = new FfmpegSource({ input: video, width: W, height: H, ffmpegPath: fake });
  const seen: Frame[] = [];
  const code = await codeOf(
    (async () => {
      for await (const f of source.frames()) seen.push(f);
    })(),
  );
  t.equal(seen.length, 1, 'the whole frame is delivered');
  t.equal(code, 'STREAM_ENDED', 'the partial one is reported');
});

t.test('bad options are INVALID_OPTIONS', (t) => {
  t.throws(() => new FfmpegSource({ input: video, width: 10 }), { code: 'INVALID_OPTIONS' });
  t.throws(() => new FfmpegSource({ input: video, width: 1, height: 1 }), { code: 'INVALID_OPTIONS' });
  t.throws(() => new FfmpegSource({ input: video, fps: 0 }), { code: 'INVALID_OPTIONS' });
  t.end();
});

t.test('ffmpeg is installed (the other tests need it)', (t) => {
  t.equal(spawnSync('ffmpeg', ['-version']).status, 0);
  t.end();
});
